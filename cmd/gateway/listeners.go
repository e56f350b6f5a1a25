package main

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/gateway/dashboard"
	"github.com/fsegate/fsegate/gateway/httpapi"
	"github.com/fsegate/fsegate/gateway/oidcauth"
	"github.com/fsegate/fsegate/queue"
)

// adminServer wires the admin listener (gateway/httpapi.AdminServer): the
// dashboard (gateway/dashboard) at "/" and "/dashboard/...", reading the
// same registry as /metrics and the running queue, and e-CPS sign-in.
// Who sees what is the access rule of the admin listener (setupAdminAuth,
// adminauth.go): operators by the operator token or e-CPS (--operators),
// practitioners by e-CPS; nobody by being on loopback (docs/dashboard.md).
func (m *Main) adminServer(ctx context.Context) (*httpapi.AdminServer, error) {
	acc := m.AdminAuth.access
	rp, err := m.startECPS(ctx, acc) // e-CPS sign-in (psc.go)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	s := &httpapi.AdminServer{
		Ready:     func() bool { return m.ready.Load() && m.nc != nil && m.nc.IsConnected() },
		Gatherer:  m.metrics.reg,
		OpenAPI:   openapiYAML,
		Guard:     m.AdminAuth.guard,
		Access:    acc,
		Dashboard: d,
		Queue:     m.queue,
		Audit: func(ctx context.Context) (queue.AuditReport, error) {
			js, err := jetstream.New(m.nc)
			if err != nil {
				return queue.AuditReport{}, err
			}
			return queue.VerifyAudit(ctx, js)
		},
		PProf: m.AdminAuth.PProf,
	}
	if rp != nil {
		s.ECPS = rp
	}
	return s, nil
}

// bearer is the intake API's e-CPS bearer check: the relying party's,
// once e-CPS sign-in is set up; httpapi.ErrBearerOff when it is off.
func (m *Main) bearer(r *http.Request) (string, error) {
	rp := m.PSC.RP()
	if rp == nil {
		return "", httpapi.ErrBearerOff
	}
	return rp.Bearer(r)
}

var _ interface {
	Routes(*http.ServeMux, string)
} = (*oidcauth.RP)(nil)
