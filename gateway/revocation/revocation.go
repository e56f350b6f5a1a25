package revocation

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fsegate/fsegate/signature"
)

// Refresher keeps the revocation data of a trust store fresh. Set the
// fields, then call Run (or Refresh for one refresh).
type Refresher struct {
	// Trust is the store refreshed.
	Trust *signature.TrustStore
	// Dir, when set, is the trust directory read again at each refresh
	// (roots, intermediates, CRLs).
	Dir string
	// URLs are CRLs fetched at each refresh besides the distribution
	// points of the CAs and of the certificates verified.
	URLs []string
	// Every is the time between two refreshes of Run.
	Every time.Duration
	// Now is the clock CRLs' next updates are compared with; nil:
	// time.Now.
	Now func() time.Time
	// Logger; nil: nothing is logged.
	Logger *slog.Logger
	// Failed, when set, is called with the number of failures of a
	// refresh (directory reads and CRL fetches).
	Failed func(n int)
}

// WarnBefore is how long before a CRL's next update the refresher warns
// that it has not got a newer one: at least two refreshes, at least 6 h.
func (r *Refresher) WarnBefore() time.Duration { return max(6*time.Hour, 2*r.Every) }

// Run refreshes now, then every r.Every until ctx ends.
func (r *Refresher) Run(ctx context.Context) {
	t := time.NewTicker(r.Every)
	defer t.Stop()
	for {
		_ = r.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh is one refresh of revocation: the trust directory read again
// (Dir), then the CRLs fetched from the CAs' distribution points, those
// of the certificates verified and URLs. Whatever fails, the store keeps
// what it held (the last good CRL until its next update); failures are
// logged, counted and returned joined, and a CRL that nears its next
// update (WarnBefore) or passed it is logged.
func (r *Refresher) Refresh(ctx context.Context) error {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if r.Dir != "" {
		if err := r.Trust.ReloadDir(r.Dir); err != nil {
			log.Error("trust directory not read again; the previous roots and CRLs stay", "dir", r.Dir, "err", err)
			r.failed(1)
			errs = append(errs, err)
		}
	}
	if err := r.Trust.RefreshCRLs(ctx, r.URLs...); err != nil {
		fails := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			fails = j.Unwrap()
		}
		for _, f := range fails {
			log.Warn("CRL not fetched; the CRL held stays until its next update", "err", f)
		}
		r.failed(len(fails))
		errs = append(errs, err)
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	for _, c := range r.Trust.CRLs() {
		switch left := c.NextUpdate.Sub(now); {
		case left <= 0:
			log.Error("CRL past its next update: certificates of its CA are refused CRL_STALE", "issuer", c.Issuer, "next_update", c.NextUpdate, "url", c.URL)
		case left < r.WarnBefore():
			log.Warn("CRL nears its next update and no newer one was fetched", "issuer", c.Issuer, "next_update", c.NextUpdate, "url", c.URL)
		}
	}
	return errors.Join(errs...)
}

func (r *Refresher) failed(n int) {
	if r.Failed != nil {
		r.Failed(n)
	}
}
