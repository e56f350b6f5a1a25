package main

import (
	"context"
	"net/http"

	"github.com/fsegate/fsegate/gateway/dashboard"
)

// mountDashboard serves the dashboard (gateway/dashboard) at "/" and
// "/dashboard/..." of the admin listener, reading the same registry as
// /metrics and the running queue. Who sees what is the access rule of the
// admin listener (setupAdminAuth, adminauth.go): operators by the operator
// token or e-CPS (--operators), practitioners by e-CPS; nobody by being on
// loopback (docs/dashboard.md).
func (m *Main) mountDashboard(ctx context.Context, mux *http.ServeMux) error {
	acc := m.AdminAuth.access
	if err := m.mountECPS(ctx, mux, acc); err != nil { // e-CPS sign-in (psc.go)
		return err
	}
	d, err := dashboard.New(ctx, dashboard.Config{
		Gatherer: m.metrics.reg,
		Store:    dashboard.QueueStore(m.queue),
		Insurers: m.insurerIDs(),
		Access:   *acc,
		Now:      m.Now,
		Logger:   m.Logger.With("part", "dashboard"),
	})
	if err != nil {
		return err
	}
	mux.Handle("/", d)
	return nil
}
