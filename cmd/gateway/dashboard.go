package main

import (
	"context"
	"net/http"

	"github.com/fsegate/fsegate/internal/dashboard"
)

// mountDashboard serves the dashboard (internal/dashboard) at "/" and
// "/dashboard/..." of the admin listener, reading the same registry as
// /metrics and the running queue. The admin listener is plain HTTP on
// loopback: the dashboard refuses any request from another host (it would
// need TLS with a CPS client certificate, checked with the intake's trust
// store; docs/dashboard.md).
func (m *Main) mountDashboard(ctx context.Context, mux *http.ServeMux) error {
	acc := dashboard.Access{
		VerifyClient: func(raw [][]byte) (string, error) {
			id, err := m.trust.VerifyClient(raw)
			return id.NationalID, err
		},
		Practices: m.practices,
	}
	if err := m.mountECPS(ctx, mux, &acc); err != nil { // e-CPS sign-in (psc.go)
		return err
	}
	d, err := dashboard.New(ctx, dashboard.Config{
		Gatherer: m.metrics.reg,
		Store:    dashboard.QueueStore(m.queue),
		Access:   acc,
		Now:      m.Now,
		Logger:   m.Logger.With("part", "dashboard"),
	})
	if err != nil {
		return err
	}
	mux.Handle("/", d)
	return nil
}
