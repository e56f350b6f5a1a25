package main

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsegate/fsegate/signature"
)

// crlWarnBefore is how long before a CRL's next update the gateway warns
// that it has not got a newer one (at least two refreshes).
func (m *Main) crlWarnBefore() time.Duration { return max(6*time.Hour, 2*m.CRLRefresh) }

// refreshCRLsEvery runs refreshTrust now, then every m.CRLRefresh.
func (m *Main) refreshCRLsEvery(ctx context.Context) {
	t := time.NewTicker(m.CRLRefresh)
	defer t.Stop()
	for {
		_ = m.refreshTrust(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshTrust is one refresh of revocation: the trust directory read
// again (--trust-dir), then the CRLs fetched from the CAs' distribution
// points, those of the certificates verified and --crl-url. Whatever
// fails, the store keeps what it held (the last good CRL until its next
// update); failures are logged and counted, and a CRL that nears its next
// update is logged.
func (m *Main) refreshTrust(ctx context.Context) error {
	log := m.Logger.With("part", "trust")
	var errs []error
	if m.TrustDir != "" {
		if err := m.trust.ReloadDir(m.TrustDir); err != nil {
			log.Error("trust directory not read again; the previous roots and CRLs stay", "dir", m.TrustDir, "err", err)
			m.metrics.crlFailures.Inc()
			errs = append(errs, err)
		}
	}
	if err := m.trust.RefreshCRLs(ctx, m.CRLURLs...); err != nil {
		fails := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			fails = j.Unwrap()
		}
		for _, f := range fails {
			log.Warn("CRL not fetched; the CRL held stays until its next update", "err", f)
		}
		m.metrics.crlFailures.Add(float64(len(fails)))
		errs = append(errs, err)
	}
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	for _, c := range m.trust.CRLs() {
		switch left := c.NextUpdate.Sub(now); {
		case left <= 0:
			log.Error("CRL past its next update: certificates of its CA are refused CRL_STALE", "issuer", c.Issuer, "next_update", c.NextUpdate, "url", c.URL)
		case left < m.crlWarnBefore():
			log.Warn("CRL nears its next update and no newer one was fetched", "issuer", c.Issuer, "next_update", c.NextUpdate, "url", c.URL)
		}
	}
	return errors.Join(errs...)
}

// crlMetrics reports, per CRL held, its age and its next update.
type crlMetrics struct {
	trust func() *signature.TrustStore
	now   func() time.Time
	age   *prometheus.Desc
	next  *prometheus.Desc
}

func newCRLMetrics(trust func() *signature.TrustStore, now func() time.Time) *crlMetrics {
	return &crlMetrics{trust: trust, now: now,
		age:  prometheus.NewDesc("fsegate_crl_age_seconds", "Seconds since the CA issued the CRL held (its thisUpdate).", []string{"issuer"}, nil),
		next: prometheus.NewDesc("fsegate_crl_next_update_timestamp_seconds", "When the CRL held becomes stale (its nextUpdate, Unix time): its CA's certificates are refused CRL_STALE from then on.", []string{"issuer"}, nil),
	}
}

func (c *crlMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- c.age; ch <- c.next }

func (c *crlMetrics) Collect(ch chan<- prometheus.Metric) {
	trust := c.trust()
	if trust == nil {
		return
	}
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	for _, crl := range trust.CRLs() {
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, now.Sub(crl.ThisUpdate).Seconds(), crl.Issuer)
		ch <- prometheus.MustNewConstMetric(c.next, prometheus.GaugeValue, float64(crl.NextUpdate.Unix()), crl.Issuer)
	}
}
