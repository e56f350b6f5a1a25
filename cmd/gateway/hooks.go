package main

import "time"

// Hooks of the fault campaign (chaos/, docs/reliability.md). Both are zero
// in the production build; only builds with the campaign's tags set them:
// 'chaos' (hooks_chaos.go) and 'chaosbroken' (hooks_broken.go).
var (
	// buildClock, when set, is the gateway's clock (Main.Now): the
	// campaign makes it jump forwards and backwards.
	buildClock func() time.Time
	// receiptFirst, when true, gives the receipt before the PubAck: the
	// deliberately broken build whose history the checker must refuse
	// (wired to intake.Service.ReceiptFirst).
	receiptFirst bool
)
