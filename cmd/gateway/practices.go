package main

import (
	pdir "github.com/fsegate/fsegate/internal/practices"
)

// practices is the directory of who may sign and send for which billing
// number (fixtures/practices.yaml in development).
type practices struct{ d *pdir.Directory }

func loadPractices(path string, dev bool) (*practices, error) {
	d, err := pdir.Load(path, dev)
	if err != nil {
		return nil, err
	}
	return &practices{d}, nil
}

// allowed reports whether national id natID may sign and send for billing.
func (p *practices) allowed(natID, billing string) bool { return p.d.Allowed(natID, billing) }

// billings lists the billing numbers natID acts for.
func (p *practices) billings(natID string) []string { return p.d.Billings(natID) }
