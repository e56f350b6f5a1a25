//go:build chaosbroken

package main

// The deliberately broken build of the campaign's checker test: the
// receipt is given before the PubAck (intake.Service.ReceiptFirst).
func init() { receiptFirst = true }
