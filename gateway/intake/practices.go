package intake

import (
	"time"

	pdir "github.com/fsegate/fsegate/gateway/practices"
)

// Practices is the directory of who may sign and send for which billing
// number, read at the gateway's clock: a remplaçant acts for a practice
// only while the replacement lasts.
type Practices struct {
	Directory *pdir.Directory
	// Now is the gateway's clock; nil: time.Now.
	Now func() time.Time
}

// Billings lists the billing numbers natID acts for now (the dashboard's
// Access.Practices, the API's callers).
func (p *Practices) Billings(natID string) []string {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return p.Directory.Billings(natID, now())
}
