package dashboard

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fsegate/fsegate/queue"
)

// testRegistry registers the gateway's series under their real names with
// known values.
func testRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	received := prometheus.NewCounter(prometheus.CounterOpts{Name: MetricReceived, Help: "h"})
	refused := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRefused, Help: "h"}, []string{"code"})
	queued := prometheus.NewCounter(prometheus.CounterOpts{Name: MetricQueued, Help: "h"})
	final := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricFinal, Help: "h"}, []string{"state"})
	lots := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricLots, Help: "h"}, []string{"insurer"})
	acks := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricAcks, Help: "h"}, []string{"level"})
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricDead, Help: "h"}, []string{"insurer", "state"})
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricDepth, Help: "h"}, []string{"insurer"})
	e2e := prometheus.NewHistogram(prometheus.HistogramOpts{Name: MetricE2E, Help: "h", Buckets: []float64{0.5, 1, 2, 5, 10}})
	reg.MustRegister(received, refused, queued, final, lots, acks, dead, depth, e2e)
	received.Add(12)
	refused.WithLabelValues("SIGNATURE_INVALID").Add(2)
	refused.WithLabelValues("NIR_KEY").Inc()
	queued.Add(10)
	final.WithLabelValues("accepted").Add(6)
	final.WithLabelValues("rejected").Add(2)
	final.WithLabelValues("delivery_failed").Inc()
	lots.WithLabelValues("cpam751").Add(3)
	lots.WithLabelValues("amc1").Inc()
	acks.WithLabelValues("arl_positive").Add(4)
	acks.WithLabelValues("return").Add(8)
	dead.WithLabelValues("cpam931", "delivery_failed").Inc()
	depth.WithLabelValues("cpam751").Set(1)
	for _, v := range []float64{0.2, 0.4, 0.7, 0.8, 1.5, 1.6, 3, 4, 6} {
		e2e.Observe(v)
	}
	return reg
}

func TestRead(t *testing.T) {
	s, err := Read(testRegistry(t), time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want int64
	}{
		{"received", s.Received, 12},
		{"refused total", s.RefusedTotal, 3},
		{"refused SIGNATURE_INVALID", s.Refused["SIGNATURE_INVALID"], 2},
		{"queued", s.Queued, 10},
		{"final total", s.FinalTotal, 9},
		{"final accepted", s.Final["accepted"], 6},
		{"in flight", s.InFlight, 1},
		{"delivery failures", s.DeliveryFailures, 1},
		{"lots cpam751", s.Lots["cpam751"], 3},
		{"acks return", s.Acks["return"], 8},
		{"dead cpam931", s.Dead["cpam931"], 1},
		{"depth cpam751", s.Depth["cpam751"], 1},
		{"latency count", s.Latency.Count, 9},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if want := []string{"amc1", "cpam751", "cpam931"}; strings.Join(s.Insurers, ",") != strings.Join(want, ",") {
		t.Errorf("insurers: got %v, want %v", s.Insurers, want)
	}
	if s.Latency.P50 <= 1 || s.Latency.P50 > 2 {
		t.Errorf("p50: got %v, want in (1, 2]", s.Latency.P50)
	}
}

func TestQuantile(t *testing.T) {
	bucket := func(le float64, n uint64) *dto.Bucket { return &dto.Bucket{UpperBound: &le, CumulativeCount: &n} }
	hist := func(n uint64, bs ...*dto.Bucket) *dto.Histogram { return &dto.Histogram{SampleCount: &n, Bucket: bs} }
	tests := []struct {
		name string
		q    float64
		h    *dto.Histogram
		want float64
	}{
		{"middle of first bucket", 0.5, hist(10, bucket(1, 10), bucket(2, 10)), 0.5},
		{"interpolated in second bucket", 0.75, hist(4, bucket(1, 2), bucket(3, 4)), 2},
		{"past every finite bucket", 0.99, hist(4, bucket(1, 1), bucket(2, 2), bucket(math.Inf(1), 4)), 2},
		{"exactly a bound", 0.5, hist(4, bucket(1, 2), bucket(2, 4)), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quantile(tc.q, tc.h); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := Quantile(0.5, hist(0)); !math.IsNaN(got) {
		t.Errorf("empty histogram: got %v, want NaN", got)
	}
}

func TestSeriesRates(t *testing.T) {
	s := newSeries(4)
	t0 := time.Unix(100, 0)
	for i, v := range []int64{0, 10, 30, 30, 35, 0} { // the last one: a restart
		s.add(t0.Add(time.Duration(i)*time.Second), v)
	}
	got := s.rates()
	want := []float64{0, 5, 0}
	if len(got) != len(want) {
		t.Fatalf("got %d points %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].Rate != want[i] {
			t.Errorf("point %d: got %v, want %v", i, got[i].Rate, want[i])
		}
	}
	if got[len(got)-1].T != t0.Add(5*time.Second).UnixMilli() {
		t.Errorf("last point at %d, want the newest sample", got[len(got)-1].T)
	}
}

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu sync.Mutex
	st map[string]*queue.Status
}

func newFakeStore() *fakeStore { return &fakeStore{st: map[string]*queue.Status{}} }

func (f *fakeStore) add(billing, number, insurer, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	st := &queue.Status{Billing: billing, Number: number, State: queue.Accepted, ReceivedAt: now,
		Destinations: []queue.DestStatus{{Destination: queue.Destination{Insurer: insurer, Kind: "AMO"}, State: queue.Accepted, Updated: now}}}
	if code != "" {
		st.State = queue.Rejected
		st.Destinations[0].State, st.Destinations[0].Code = queue.Rejected, code
		st.History = append(st.History, queue.Event{Time: now, Insurer: insurer, State: queue.Rejected, Code: code, Detail: "=acte non remboursable"})
	}
	f.st[billing+"."+number] = st
}

func (f *fakeStore) Status(_ context.Context, billing, number string) (*queue.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.st[billing+"."+number]; ok {
		return st, nil
	}
	return nil, queue.ErrNotFound
}

func (f *fakeStore) Lots(_ context.Context, insurer string, max int) ([]*queue.LotRecord, error) {
	return []*queue.LotRecord{{ID: insurer + "-k-000001", Insurer: insurer, LotKey: "k", State: queue.LotDone, Attempt: 1,
		Sheets: []queue.ManifestEntry{{Key: "751000019.000000001"}}, Done: []string{"751000019.000000001"}}}, nil
}

func (f *fakeStore) Rejected(_ context.Context, billing string, max int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, st := range f.st {
		if st.Billing == billing && len(st.History) > 0 {
			out = append(out, st.Number)
		}
	}
	sort.Strings(out)
	return out, nil
}

func serve(t *testing.T, d http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	r.RemoteAddr = "127.0.0.1:4000"
	r.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	d.ServeHTTP(w, r)
	return w
}

func TestPages(t *testing.T) {
	st := newFakeStore()
	st.add("751000019", "000000001", "cpam751", "REJ01")
	st.add("751000019", "000000002", "cpam751", "")
	d := newTestDashboard(t, Config{Store: st, Access: operatorAccess(), Insurers: []string{"cpam751", "cpam931"}})
	tests := []struct {
		path     string
		want     int
		contains []string
	}{
		{"/dashboard/insurers/nobody", 404, []string{"no insurer &#34;nobody&#34; in the directory"}},
		{"/dashboard/snapshot", 200, []string{`"insurers":["amc1","cpam751","cpam931"]`}},
		{"/", 200, []string{`id="received" data-value="12"`, `id="refused-total" data-value="3"`, `id="queued" data-value="10"`,
			`data-refused-code="SIGNATURE_INVALID"`, `data-lots-insurer="cpam751" data-value="3"`, `data-final-state="accepted"`, `id="throughput"`}},
		{"/dashboard/", 200, []string{`id="final-total" data-value="9"`}},
		{"/dashboard/insurers/cpam751", 200, []string{"cpam751-k-000001", `id="insurer-lots">3<`}},
		{"/dashboard/sheets/751000019/000000001", 200, []string{`data-state="rejected"`, "REJ01", "no patient data"}},
		{"/dashboard/sheets/751000019/999999999", 404, []string{"no sheet 751000019-999999999"}},
		{"/dashboard/sheets/751000019-000000001", 303, nil},
		{"/dashboard/sheets/751000019.000000001", 303, nil},
		{"/dashboard/sheets/nothing", 404, nil},
		{"/dashboard/sheet?sheet=751000019-000000001", 303, nil},
		{"/dashboard/sheet?sheet=751000019.000000001", 303, nil},
		{"/dashboard/sheet?sheet=000000001", 400, []string{"billing number too"}},
		{"/dashboard/sheet?sheet=x", 400, nil},
		{"/dashboard/practices/751000019/rejects", 200, []string{`data-reject="000000001"`, "?format=csv"}},
		{"/dashboard/sheet?billing=751000019&number=000000001", 303, nil},
		{"/dashboard/static/dashboard.js", 200, []string{"EventSource"}},
		{"/dashboard/nothing", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			w := serve(t, d, tc.path)
			if w.Code != tc.want {
				t.Fatalf("got %d, want %d\n%s", w.Code, tc.want, w.Body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(w.Body.String(), c) {
					t.Errorf("body lacks %q: %.300s", c, w.Body.String())
				}
			}
		})
	}
	if w := serve(t, d, "/"); !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("no content security policy")
	}
}

func TestRejectsCSV(t *testing.T) {
	st := newFakeStore()
	st.add("751000019", "000000003", "cpam751", "REJ03")
	st.add("751000019", "000000001", "cpam751", "REJ01")
	st.add("751000019", "000000002", "cpam751", "") // accepted: not to correct
	d := newTestDashboard(t, Config{Store: st, Access: operatorAccess()})
	w := serve(t, d, "/dashboard/practices/751000019/rejects?format=csv")
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q, want text/csv", ct)
	}
	if cd := w.Header().Get("Content-Disposition"); !strings.Contains(cd, "rejects-751000019.csv") {
		t.Errorf("content disposition %q", cd)
	}
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"billing", "number", "insurer", "code", "detail", "rejected_at", "state"},
		{"751000019", "000000001", "cpam751", "REJ01", "'=acte non remboursable", "2026-03-02T10:00:00Z", "rejected"},
		{"751000019", "000000003", "cpam751", "REJ03", "'=acte non remboursable", "2026-03-02T10:00:00Z", "rejected"},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows %v, want %d", len(rows), rows, len(want))
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: got %v, want %v", i, rows[i], want[i])
		}
	}
}

func TestEvents(t *testing.T) {
	d := newTestDashboard(t, Config{Interval: 50 * time.Millisecond, Access: operatorAccess()})
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/dashboard/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q, want text/event-stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() && n < 2 {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var s Snapshot
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		if s.Received != 12 || s.Lots["cpam751"] != 3 {
			t.Fatalf("event %d: received %d, lots cpam751 %d; want 12, 3", n, s.Received, s.Lots["cpam751"])
		}
		n++
	}
	if n < 2 {
		t.Fatalf("got %d events, want 2 (%v)", n, sc.Err())
	}
}

func TestNewNeedsGatherer(t *testing.T) {
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Fatal("New without a gatherer: got no error")
	}
}

// TestEventsEndWithDashboard: an open event stream ends when the
// dashboard's context does, so the admin listener's graceful shutdown is not
// held by a browser left open.
func TestEventsEndWithDashboard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, Config{Gatherer: testRegistry(t), Interval: 20 * time.Millisecond, Access: operatorAccess()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/dashboard/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, br); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream ended with %v, want a clean end", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the event stream went on after the dashboard's context ended")
	}
}
