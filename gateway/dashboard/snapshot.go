package dashboard

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The gateway's series the dashboard shows (cmd/gateway/metrics.go,
// docs/operations.md). They are read from the same gatherer that serves
// /metrics, so the page and the scrape never disagree.
const (
	MetricReceived = "fsegate_sheets_received_total"
	MetricRefused  = "fsegate_sheets_refused_total" // {code}
	MetricQueued   = "fsegate_sheets_queued_total"
	MetricFinal    = "fsegate_sheets_final_total" // {state}
	MetricLots     = "fsegate_lots_total"         // {insurer}
	MetricAcks     = "fsegate_acks_total"         // {level}
	MetricDead     = "fsegate_lots_dead_total"    // {insurer,state}
	MetricE2E      = "fsegate_e2e_seconds"        // histogram
	MetricDepth    = "fsegate_queue_depth"        // {insurer}
	MetricBreaker  = "fsegate_insurer_circuit_open"
)

// Snapshot is the pipeline at one instant, as the metrics say. Counts are
// integers (counters of events); maps are keyed by the metric's label.
type Snapshot struct {
	Time     time.Time        `json:"time"`
	Received int64            `json:"received"`
	Refused  map[string]int64 `json:"refused"` // by error code
	// RefusedTotal is the sum over codes (a sheet refused for three
	// reasons counts three times, as in the metric).
	RefusedTotal int64            `json:"refused_total"`
	Queued       int64            `json:"queued"`
	Final        map[string]int64 `json:"final"` // by state
	FinalTotal   int64            `json:"final_total"`
	// InFlight is queued and not yet final.
	InFlight int64            `json:"in_flight"`
	Lots     map[string]int64 `json:"lots"` // lot attempts by insurer
	Acks     map[string]int64 `json:"acks"` // by level
	// Dead is lots moved to FSE_DEAD by insurer (every state summed).
	Dead    map[string]int64 `json:"dead"`
	Depth   map[string]int64 `json:"depth"`   // lots waiting per insurer
	Breaker map[string]bool  `json:"breaker"` // circuit open per insurer
	// DeliveryFailures is sheets final as delivery_failed or
	// returns_overdue.
	DeliveryFailures int64   `json:"delivery_failures"`
	Latency          Latency `json:"latency"`
	// Insurers is every insurer seen in any per-insurer series, sorted.
	Insurers []string `json:"insurers"`
	// Throughput is sheets received per second over the last minutes,
	// oldest first (one point per sample interval).
	Throughput []Point `json:"throughput"`
}

// Latency summarises fsegate_e2e_seconds (receipt → final state).
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
}

// Point is one throughput sample.
type Point struct {
	T    int64   `json:"t"` // unix milliseconds
	Rate float64 `json:"rate"`
}

// Read builds a Snapshot from a gatherer (no throughput series).
func Read(g prometheus.Gatherer, now time.Time) (*Snapshot, error) {
	mfs, err := g.Gather()
	if err != nil && len(mfs) == 0 {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	s := &Snapshot{Time: now, Refused: map[string]int64{}, Final: map[string]int64{}, Lots: map[string]int64{},
		Acks: map[string]int64{}, Dead: map[string]int64{}, Depth: map[string]int64{}, Breaker: map[string]bool{}}
	insurers := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := value(m)
			switch mf.GetName() {
			case MetricReceived:
				s.Received += count(v)
			case MetricQueued:
				s.Queued += count(v)
			case MetricRefused:
				s.Refused[label(m, "code")] += count(v)
				s.RefusedTotal += count(v)
			case MetricFinal:
				st := label(m, "state")
				s.Final[st] += count(v)
				s.FinalTotal += count(v)
				if st == "delivery_failed" || st == "returns_overdue" {
					s.DeliveryFailures += count(v)
				}
			case MetricLots:
				ins := label(m, "insurer")
				s.Lots[ins] += count(v)
				insurers[ins] = true
			case MetricAcks:
				s.Acks[label(m, "level")] += count(v)
			case MetricDead:
				ins := label(m, "insurer")
				s.Dead[ins] += count(v)
				insurers[ins] = true
			case MetricDepth:
				ins := label(m, "insurer")
				s.Depth[ins] = count(v)
				insurers[ins] = true
			case MetricBreaker:
				ins := label(m, "insurer")
				s.Breaker[ins] = v > 0
				insurers[ins] = true
			case MetricE2E:
				s.Latency = latency(m.GetHistogram())
			}
		}
	}
	s.InFlight = max(s.Queued-s.FinalTotal, 0)
	for ins := range insurers {
		s.Insurers = append(s.Insurers, ins)
	}
	sort.Strings(s.Insurers)
	return s, nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func count(v float64) int64 { return int64(math.Round(v)) }

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func latency(h *dto.Histogram) Latency {
	if h == nil || h.GetSampleCount() == 0 {
		return Latency{}
	}
	n := h.GetSampleCount()
	l := Latency{Count: int64(n), Mean: h.GetSampleSum() / float64(n)}
	l.P50 = Quantile(0.5, h)
	l.P90 = Quantile(0.9, h)
	l.P99 = Quantile(0.99, h)
	return l
}

// Quantile estimates the q-quantile of a cumulative histogram by linear
// interpolation inside the bucket that holds it, as PromQL's
// histogram_quantile does. Above the last finite bucket it answers that
// bucket's upper bound.
func Quantile(q float64, h *dto.Histogram) float64 {
	n := float64(h.GetSampleCount())
	if n == 0 {
		return math.NaN()
	}
	rank := q * n
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		upper, cum := b.GetUpperBound(), float64(b.GetCumulativeCount())
		if math.IsInf(upper, +1) {
			break
		}
		if cum >= rank {
			in := cum - below
			if in == 0 {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/in
		}
		lower, below = upper, cum
	}
	return lower
}

// series is a fixed ring of received-counter samples from which the
// throughput chart is drawn.
type series struct {
	mu   sync.Mutex
	t    []time.Time
	v    []int64
	next int
	full bool
}

func newSeries(n int) *series {
	return &series{t: make([]time.Time, n), v: make([]int64, n)}
}

func (s *series) add(t time.Time, received int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t[s.next], s.v[s.next] = t, received
	s.next++
	if s.next == len(s.t) {
		s.next, s.full = 0, true
	}
}

// rates returns the per-second rate between consecutive samples, oldest
// first.
func (s *series) rates() []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, start := s.next, 0
	if s.full {
		n, start = len(s.t), s.next
	}
	out := make([]Point, 0, n)
	for i := 1; i < n; i++ {
		a, b := (start+i-1)%len(s.t), (start+i)%len(s.t)
		dt := s.t[b].Sub(s.t[a]).Seconds()
		if dt <= 0 {
			continue
		}
		r := float64(s.v[b]-s.v[a]) / dt
		if r < 0 { // counter reset (gateway restarted under us)
			r = 0
		}
		out = append(out, Point{T: s.t[b].UnixMilli(), Rate: math.Round(r*100) / 100})
	}
	return out
}
