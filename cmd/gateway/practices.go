package main

import (
	"time"

	pdir "github.com/fsegate/fsegate/gateway/practices"
)

// practices is the directory of who may sign and send for which billing
// number (fixtures/practices.yaml in development), read at the gateway's
// clock: a remplaçant acts for a practice only while the replacement lasts.
type practices struct {
	d   *pdir.Directory
	now func() time.Time
}

func loadPractices(path string, dev bool, now func() time.Time) (*practices, error) {
	d, err := pdir.Load(path, dev)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &practices{d, now}, nil
}

// Billings lists the billing numbers natID acts for now (the dashboard's
// Access.Practices).
func (p *practices) Billings(natID string) []string { return p.d.Billings(natID, p.now()) }
