package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

// metrics are the gateway's Prometheus series (docs/operations.md). No
// label ever holds patient data: codes, states, insurer ids and levels only.
type metrics struct {
	reg      *prometheus.Registry
	received prometheus.Counter
	refused  *prometheus.CounterVec
	queued   prometheus.Counter
	final    *prometheus.CounterVec
	lots     *prometheus.CounterVec
	acks     *prometheus.CounterVec
	dead     *prometheus.CounterVec
	yields   prometheus.Counter
	e2e      prometheus.Histogram
	// crlFailures counts CRL fetches and trust directory reads that failed
	// (gateway/revocation).
	crlFailures prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fsegate_sheets_received_total", Help: "Care sheets received by the intake (each attempt)."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsegate_sheets_refused_total", Help: "Refusals by error code (a sheet refused for three reasons counts under three codes)."}, []string{"code"}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fsegate_sheets_queued_total", Help: "Sheets durably queued (each sheet once)."}),
		final: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsegate_sheets_final_total", Help: "Sheets that reached their final state, counted once."}, []string{"state"}),
		lots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsegate_lots_total", Help: "Lot attempts published, by insurer."}, []string{"insurer"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsegate_acks_total", Help: "Acknowledgements applied, by level (arl_positive, arl_negative, return)."}, []string{"level"}),
		yields: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fsegate_batcher_yields_total", Help: "Times the batcher slowed down because receipts were waiting (--drain-yield)."}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fsegate_lots_dead_total", Help: "Lots moved to FSE_DEAD, by insurer and final state given to their sheets."}, []string{"insurer", "state"}),
		crlFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fsegate_crl_refresh_failures_total", Help: "CRL fetches and trust directory reads that failed (the CRLs held stay)."}),
		e2e: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fsegate_e2e_seconds", Help: "Time from receipt to final state.",
			// Quantiles are interpolated inside a bucket: buckets about 1.5
			// times apart keep p50 near the truth (with 10 then 30, sheets
			// final in 10.5 s showed a p50 of 20 s beside a mean of 10.5 s).
			Buckets: []float64{0.25, 0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600,
				2 * 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400}}),
	}
	m.reg.MustRegister(m.received, m.refused, m.queued, m.final, m.lots, m.acks, m.dead, m.yields, m.e2e, m.crlFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// intake.Metrics
func (m *metrics) SheetReceived()           { m.received.Inc() }
func (m *metrics) SheetRefused(code string) { m.refused.WithLabelValues(code).Inc() }

// queue.Metrics
func (m *metrics) SheetQueued() { m.queued.Inc() }
func (m *metrics) SheetFinal(s queue.State, d time.Duration) {
	m.final.WithLabelValues(string(s)).Inc()
	m.e2e.Observe(d.Seconds())
}
func (m *metrics) LotPublished(insurer string) { m.lots.WithLabelValues(insurer).Inc() }
func (m *metrics) Ack(level string)            { m.acks.WithLabelValues(level).Inc() }
func (m *metrics) BatcherYield()               { m.yields.Inc() }
func (m *metrics) DeadLot(insurer, state string) {
	m.dead.WithLabelValues(insurer, state).Inc()
}

// queueDepth reports, per insurer, the lots waiting in its consumer and
// whether its circuit is open.
type queueDepth struct {
	q        func() *queue.Queue
	insurers func() []string
	pending  *prometheus.Desc
	breaker  *prometheus.Desc
	backlog  *prometheus.Desc
	bound    *prometheus.Desc
}

func newQueueDepth(q func() *queue.Queue, insurers func() []string) *queueDepth {
	return &queueDepth{q: q, insurers: insurers,
		pending: prometheus.NewDesc("fsegate_queue_depth", "Lots published and not yet acked by the insurer's consumer.", []string{"insurer"}, nil),
		breaker: prometheus.NewDesc("fsegate_insurer_circuit_open", "1 while re-sends to the insurer are paused by its circuit breaker.", []string{"insurer"}, nil),
		backlog: prometheus.NewDesc("fsegate_ack_backlog", "Acknowledgement messages of the insurer waiting in FSE_ACKS for the ack router.", []string{"insurer"}, nil),
		bound:   prometheus.NewDesc("fsegate_ack_backlog_limit", "Acknowledgement messages one insurer may have waiting; past it its publications are refused (alert near it).", nil, nil),
	}
}

func (c *queueDepth) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.breaker
	ch <- c.backlog
	ch <- c.bound
}

func (c *queueDepth) Collect(ch chan<- prometheus.Metric) {
	q := c.q()
	if q == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, ins := range c.insurers() {
		if n, err := q.InsurerPending(ctx, ins); err == nil {
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n), ins)
		}
		open := 0.0
		if q.BreakerOpen(ins) {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, open, ins)
	}
	if waiting, bound, err := q.AckBacklog(ctx); err == nil {
		for _, ins := range c.insurers() {
			ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(waiting[ins]), ins)
		}
		ch <- prometheus.MustNewConstMetric(c.bound, prometheus.GaugeValue, float64(bound))
	}
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
