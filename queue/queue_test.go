package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/queue"
)

// fakeInsurer answers every lot of its consumer with an ARL and one return
// per sheet, decided by outcome(sheet number). It stands in for
// insurers/mock in this package's tests.
type fakeInsurer struct {
	id          string
	outcome     func(l *queue.Lot, s queue.LotSheet) string // "" → no return
	arl         func(l *queue.Lot) (positive bool, reason string)
	mu          sync.Mutex
	lots        []string
	sheetsByLot []map[string]string // per lot message: sheet key → lot id
}

func (f *fakeInsurer) run(t *testing.T, ctx context.Context, nc *nats.Conn) {
	js, err := jetstream.New(nc)
	if err != nil {
		t.Error(err)
		return
	}
	cons, err := js.Consumer(ctx, queue.StreamLots, queue.LotConsumer(f.id))
	if err != nil {
		t.Error(err)
		return
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			continue
		}
		for m := range batch.Messages() {
			var l queue.Lot
			if err := json.Unmarshal(m.Data(), &l); err != nil {
				t.Errorf("insurer %s: lot: %v", f.id, err)
				continue
			}
			f.mu.Lock()
			f.lots = append(f.lots, fmt.Sprintf("%s.%d", l.ID, l.Attempt))
			in := map[string]string{}
			for _, s := range l.Sheets {
				in[s.Billing+"."+s.Number] = l.ID
			}
			f.sheetsByLot = append(f.sheetsByLot, in)
			f.mu.Unlock()
			pos, reason := true, ""
			if f.arl != nil {
				pos, reason = f.arl(&l)
			}
			acks := []queue.Ack{{ID: fmt.Sprintf("arl-%s-%d", l.ID, l.Attempt), Level: queue.LevelARL, Lot: l.ID, Attempt: l.Attempt, Positive: pos, Reason: reason}}
			if pos {
				for _, s := range l.Sheets {
					out := queue.OutcomeAccepted
					if f.outcome != nil {
						out = f.outcome(&l, s)
					}
					if out == "" {
						continue
					}
					a := queue.Ack{ID: "ret-" + s.Billing + s.Number + s.Digest, Level: queue.LevelReturn, Lot: l.ID, Billing: s.Billing, Number: s.Number, Outcome: out}
					if out == queue.OutcomeRejected {
						a.Code = "R042"
					}
					acks = append(acks, a)
				}
			}
			b, _ := json.Marshal(acks)
			if _, err := js.Publish(ctx, queue.AckSubject(f.id), b); err != nil && ctx.Err() == nil {
				t.Errorf("insurer %s: publish acks: %v", f.id, err)
			}
			_ = m.Ack()
		}
	}
}

type env struct {
	nc  *nats.Conn
	url string
	cfg queue.Config
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := testenv.NATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &env{nc: nc, url: s.ClientURL(), cfg: queue.Config{
		Conn:     nc,
		Topology: queue.TopologyConfig{Insurers: []string{"cpam751", "amc1"}, AckWait: 2 * time.Second, MaxBytes: 1 << 30},
		Limits: func(string) queue.Limits {
			return queue.Limits{MaxSheets: 5, MaxAge: 300 * time.Millisecond, DeliveryDeadline: time.Hour, ARLDeadline: time.Hour, ReturnsDeadline: time.Hour, Backoff: 10 * time.Millisecond}
		},
		Tick: 50 * time.Millisecond,
		// The fake insurers read and write plain JSON.
		Codec: queue.JSONCodec{},
	}}
}

func (e *env) open(t testing.TB) *queue.Queue {
	t.Helper()
	q, err := queue.Open(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	return q
}

func (e *env) insurer(t *testing.T, f *fakeInsurer) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.run(t, ctx, e.nc) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func sheet(billing, number, digest string) queue.Sheet {
	return queue.Sheet{
		Billing: billing, Number: number, Digest: digest, Signer: "899700218896", RulesVersion: "test-1",
		Destinations: []queue.Destination{{Insurer: "cpam751", Kind: "AMO"}},
		Signed:       []byte("<signed " + number + " " + digest + "/>"),
	}
}

// waitFinal waits until every key is final, and returns the statuses.
// submitAll submits one sheet of billing per number (digest "d"+number).
func submitAll(t *testing.T, q *queue.Queue, billing string, nums []string) {
	t.Helper()
	for _, n := range nums {
		if _, err := q.Submit(context.Background(), sheet(billing, n, "d"+n)); err != nil {
			t.Fatalf("submit %s: %v", n, err)
		}
	}
}

func waitFinal(t *testing.T, q *queue.Queue, billing string, numbers []string, within time.Duration) map[string]*queue.Status {
	t.Helper()
	deadline := time.Now().Add(within)
	out := map[string]*queue.Status{}
	for _, n := range numbers {
		for {
			st, err := q.Status(context.Background(), billing, n)
			if err == nil && st.Final() {
				out[n] = st
				break
			}
			if time.Now().After(deadline) {
				if st != nil {
					t.Fatalf("sheet %s.%s: state %s after %v, want final; history %+v", billing, n, st.State, within, st.History)
				}
				t.Fatalf("sheet %s.%s: %v after %v", billing, n, err, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

func numbers(from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("%09d", i))
	}
	return out
}

func TestIntakeLotsAcks(t *testing.T) {
	e := newEnv(t)
	q := e.open(t)
	ins := &fakeInsurer{id: "cpam751", outcome: func(_ *queue.Lot, s queue.LotSheet) string {
		if s.Number == "000000003" {
			return queue.OutcomeRejected
		}
		return queue.OutcomeAccepted
	}}
	e.insurer(t, ins)
	ctx := context.Background()

	nums := numbers(1, 12)
	receipts := map[string]queue.Receipt{}
	for _, n := range nums {
		r, err := q.Submit(ctx, sheet("751000019", n, "d"+n))
		if err != nil {
			t.Fatalf("submit %s: %v", n, err)
		}
		if r.State != queue.Queued || r.Again || len(r.Destinations) != 1 || r.Destinations[0].LotKey != "cpam751.751000019" || r.Destinations[0].CloseBy.IsZero() {
			t.Fatalf("receipt %s: %+v", n, r)
		}
		receipts[n] = r
	}
	// The same sheet again: the same receipt.
	again, err := q.Submit(ctx, sheet("751000019", "000000001", "d000000001"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Again || !again.ReceivedAt.Equal(receipts["000000001"].ReceivedAt) {
		t.Fatalf("same sheet again: got %+v, want the first receipt again", again)
	}
	// Another sheet with the same key: a doublon.
	if _, err := q.Submit(ctx, sheet("751000019", "000000002", "other")); !errors.Is(err, queue.ErrDuplicate) {
		t.Fatalf("doublon: got %v, want ErrDuplicate", err)
	}
	// Dry run writes nothing.
	if r, err := q.Preview(ctx, sheet("751000019", "000000999", "dry")); err != nil || !r.DryRun {
		t.Fatalf("preview: %+v, %v", r, err)
	}
	if _, err := q.Status(ctx, "751000019", "000000999"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("dry run kept something: %v", err)
	}

	sts := waitFinal(t, q, "751000019", nums, 20*time.Second)
	for n, st := range sts {
		want := queue.Accepted
		if n == "000000003" {
			want = queue.Rejected
		}
		if st.State != want {
			t.Errorf("sheet %s: state %s, want %s", n, st.State, want)
		}
		if st.Destinations[0].Lot == "" {
			t.Errorf("sheet %s: no lot", n)
		}
	}
	// 12 sheets, lots of at most 5: at least 3 lots, each sheet in exactly one.
	ins.mu.Lock()
	nlots := len(ins.lots)
	ins.mu.Unlock()
	if nlots < 3 {
		t.Errorf("insurer got %d lots, want ≥ 3", nlots)
	}

	// The rejected one may be corrected.
	r, err := q.Submit(ctx, sheet("751000019", "000000003", "corrected"))
	if err != nil {
		t.Fatalf("correction: %v", err)
	}
	if r.Corrects != "d000000003" {
		t.Fatalf("correction receipt: %+v", r)
	}
	st := waitFinal(t, q, "751000019", []string{"000000003"}, 20*time.Second)["000000003"]
	if st.State != queue.Rejected {
		// the fake insurer rejects number 3 whatever its content
		t.Fatalf("corrected sheet: %s", st.State)
	}
	if st.Digest != "corrected" {
		t.Fatalf("corrected sheet digest: %s", st.Digest)
	}

	// Notices: one ARL per lot and one return per sheet, on the billing number.
	js, _ := jetstream.New(e.nc)
	ns, err := js.Stream(ctx, queue.StreamNotices)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := ns.Info(ctx, jetstream.WithSubjectFilter(queue.NoticeSubject("751000019")))
	if got := info.State.Subjects[queue.NoticeSubject("751000019")]; got < 13+3 {
		t.Errorf("notices for 751000019: %d, want ≥ 16", got)
	}

	// Reading them back in pages of 7, confirming each page: every notice
	// once, in order, only this billing number's.
	total, last := 0, uint64(0)
	for page := 0; ; page++ {
		ns, err := q.Notices(ctx, "751000019", 7, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) == 0 {
			break
		}
		if len(ns) > 7 {
			t.Fatalf("page %d: %d notices, want at most 7", page, len(ns))
		}
		for _, n := range ns {
			if n.Seq <= last || n.Billing != "751000019" {
				t.Fatalf("page %d: notice %d (billing %s) after %d", page, n.Seq, n.Billing, last)
			}
			last = n.Seq
		}
		total += len(ns)
		if _, err := q.ConfirmNotices(ctx, "751000019", last); err != nil {
			t.Fatal(err)
		}
	}
	if want := int(info.State.Subjects[queue.NoticeSubject("751000019")]); total < want {
		t.Errorf("read %d notices, want the %d stored", total, want)
	}

	rep, err := queue.VerifyAudit(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Broken != 0 || rep.Entries == 0 {
		t.Fatalf("audit: %+v", rep)
	}
}

// TestLotLevelStates: batched, delivered and the ARL are states of the
// lot. They are written once on the lot record, not on each sheet's status
// record, and Status shows them on every sheet of the lot with their
// history events.
func TestLotLevelStates(t *testing.T) {
	e := newEnv(t)
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751", outcome: func(*queue.Lot, queue.LotSheet) string { return "" }})
	ctx := context.Background()
	nums := numbers(1, 3)
	submitAll(t, q, "751000019", nums)
	js, _ := jetstream.New(e.nc)
	kv, err := js.KeyValue(ctx, queue.BucketStatus)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nums {
		for {
			st, err := q.Status(ctx, "751000019", n)
			if err == nil && st.State == queue.ARLPositive {
				d := st.Destinations[0]
				if d.State != queue.ARLPositive || d.Lot == "" {
					t.Fatalf("sheet %s: destination %+v, want arl_positive in a lot", n, d)
				}
				last := st.History[len(st.History)-1]
				if last.State != queue.ARLPositive || last.Lot != d.Lot || last.Time.IsZero() {
					t.Fatalf("sheet %s: last event %+v, want the lot's ARL", n, last)
				}
				batched := false
				for _, e := range st.History {
					batched = batched || (e.State == queue.Batched && e.Lot == d.Lot)
				}
				if !batched {
					t.Fatalf("sheet %s: history %+v, want the lot's batched event", n, st.History)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sheet %s: %+v, %v; want arl_positive", n, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		ent, err := kv.Get(ctx, queue.StatusKey("751000019", n))
		if err != nil {
			t.Fatal(err)
		}
		var raw queue.Status
		if err := json.Unmarshal(ent.Value(), &raw); err != nil {
			t.Fatal(err)
		}
		if raw.Destinations[0].State != queue.Queued || raw.Destinations[0].Lot != "" {
			t.Errorf("sheet %s: stored %s in lot %q, want queued in none (batched and the ARL belong to the lot record)", n, raw.Destinations[0].State, raw.Destinations[0].Lot)
		}
	}
}

// TestLotLevelStatesAfterFinal: a sheet that went past its lot (accepted,
// rejected) still shows the lot's batched, delivered and ARL steps in its
// history, before its return (#22: the history of a final sheet lacked
// them).
func TestLotLevelStatesAfterFinal(t *testing.T) {
	e := newEnv(t)
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751", outcome: func(_ *queue.Lot, s queue.LotSheet) string {
		if s.Number == "000000002" {
			return queue.OutcomeRejected
		}
		return queue.OutcomeAccepted
	}})
	ctx := context.Background()
	nums := numbers(1, 2)
	submitAll(t, q, "751000019", nums)
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nums {
		for {
			st, err := q.Status(ctx, "751000019", n)
			if err == nil && (st.State == queue.Accepted || st.State == queue.Rejected) {
				d := st.Destinations[0]
				seen := map[queue.State]int{}
				for i, e := range st.History {
					if e.Lot == d.Lot && d.Lot != "" {
						seen[e.State] = i + 1
					}
				}
				// (Delivered comes from the lot's consumer, read by the
				// timers: not awaited here.)
				for _, want := range []queue.State{queue.Batched, queue.ARLPositive, st.State} {
					if seen[want] == 0 {
						t.Fatalf("sheet %s (%s): history %+v lacks %s in lot %q", n, st.State, st.History, want, d.Lot)
					}
				}
				if !(seen[queue.Batched] < seen[queue.ARLPositive] && seen[queue.ARLPositive] < seen[st.State]) {
					t.Errorf("sheet %s: history out of order: %+v", n, st.History)
				}
				if d.State != st.State {
					t.Errorf("sheet %s: destination %s, want %s (the lot's steps never lower it)", n, d.State, st.State)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sheet %s: %+v, %v; want accepted or rejected", n, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

type yieldCounter struct {
	queue.Metrics
	yields atomic.Int32
}

func (c *yieldCounter) BatcherYield() { c.yields.Add(1) }

// TestBatcherYields: while the intake says it is busy, the batcher takes
// a few sheets at a time with a pause between (a burst is receipted
// first); the sheets still all reach their final state.
func TestBatcherYields(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busy=%v", busy), func(t *testing.T) {
			e := newEnv(t)
			mc := &yieldCounter{Metrics: nopMetrics{}}
			e.cfg.Metrics = mc
			e.cfg.IntakeBusy = func() bool { return busy }
			e.cfg.YieldBatch, e.cfg.YieldPause = 3, 400*time.Millisecond
			lim := e.cfg.Limits
			e.cfg.Limits = func(id string) queue.Limits { l := lim(id); l.MaxSheets = 100; return l }
			q := e.open(t)
			ins := &fakeInsurer{id: "cpam751"}
			e.insurer(t, ins)
			nums := numbers(1, 12)
			for _, n := range nums {
				if _, err := q.Submit(context.Background(), sheet("751000019", n, "d"+n)); err != nil {
					t.Fatal(err)
				}
			}
			waitFinal(t, q, "751000019", nums, 30*time.Second)
			ins.mu.Lock()
			lots := len(ins.lots)
			biggest := 0
			for _, l := range ins.sheetsByLot {
				biggest = max(biggest, len(l))
			}
			ins.mu.Unlock()
			y := mc.yields.Load()
			if busy && (y < 4 || biggest > 6 || lots < 2) {
				t.Errorf("busy intake: %d yields, %d lots, biggest %d sheets; want ≥ 4 yields and lots of at most 2×3 sheets", y, lots, biggest)
			}
			if !busy && y != 0 {
				t.Errorf("idle intake: %d yields, want none", y)
			}
		})
	}
}

type nopMetrics struct{}

func (nopMetrics) SheetQueued()                          {}
func (nopMetrics) SheetFinal(queue.State, time.Duration) {}
func (nopMetrics) LotPublished(string)                   {}
func (nopMetrics) Ack(string)                            {}
func (nopMetrics) DeadLot(string, string)                {}
func (nopMetrics) BatcherYield()                         {}
