package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/queue"
)

// failOnce fails the n-th time step is reached, once.
type failOnce struct {
	step  string
	n     int32
	hits  atomic.Int32
	fired atomic.Bool
}

func (f *failOnce) hook(step string) error {
	if step != f.step {
		return nil
	}
	if f.hits.Add(1) == f.n && f.fired.CompareAndSwap(false, true) {
		return errors.New("killed at " + step)
	}
	return nil
}

// TestKillAtEveryStep stops the protocol between each pair of steps (an
// injected failure, then a restart of the queue on the same JetStream
// data), retries the intake as a workstation does, and checks every
// receipted sheet reaches exactly one final state and is in exactly one
// lot.
func TestKillAtEveryStep(t *testing.T) {
	for _, step := range queue.Steps {
		t.Run(step, func(t *testing.T) {
			e := newEnv(t)
			f := &failOnce{step: step, n: 3}
			e.cfg.FailPoint = f.hook
			var mu sync.Mutex
			q := e.open(t)
			current := func() *queue.Queue { mu.Lock(); defer mu.Unlock(); return q }
			restart := func() {
				mu.Lock()
				defer mu.Unlock()
				q.Close()
				nq, err := queue.Open(context.Background(), e.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := nq.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(nq.Close)
				q = nq
			}
			ins := &fakeInsurer{id: "cpam751"}
			e.insurer(t, ins)
			ctx := context.Background()
			nums := numbers(1, 23)
			for _, n := range nums {
				for try := 0; ; try++ {
					_, err := current().Submit(ctx, sheet("751000019", n, "d"+n))
					if err == nil {
						break
					}
					if !errors.Is(err, queue.ErrFailPoint) || try > 3 {
						t.Fatalf("submit %s: %v", n, err)
					}
					restart()
				}
			}
			// Failures in the batcher or router: restart once they fired.
			deadline := time.Now().Add(30 * time.Second)
			for !f.fired.Load() && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !f.fired.Load() {
				t.Fatalf("step %s never reached", step)
			}
			if !strings.HasPrefix(step, "intake.") {
				restart()
			}
			sts := waitFinal(t, current(), "751000019", nums, 30*time.Second)
			for n, st := range sts {
				if st.State != queue.Accepted {
					t.Errorf("sheet %s: %s, want accepted", n, st.State)
				}
				finals := 0
				for _, h := range st.History {
					if h.State == queue.Accepted {
						finals++
					}
				}
				if finals != 1 {
					t.Errorf("sheet %s reached accepted %d times", n, finals)
				}
			}
			// Each sheet in exactly one lot; a lot may have several attempts.
			inLots := map[string]map[string]bool{}
			ins.mu.Lock()
			for _, l := range ins.sheetsByLot {
				for key, lotID := range l {
					if inLots[key] == nil {
						inLots[key] = map[string]bool{}
					}
					inLots[key][lotID] = true
				}
			}
			ins.mu.Unlock()
			for _, n := range nums {
				key := "751000019." + n
				if len(inLots[key]) != 1 {
					t.Errorf("sheet %s in lots %v, want exactly one", key, inLots[key])
				}
			}
			checkNotices(t, current(), "751000019", nums)
			checkHistory(t, e, "751000019", nums, queue.Accepted)
		})
	}
}

// checkNotices checks that billing got exactly one accepted notice per
// sheet of nums and exactly one positive ARL notice per lot they are in:
// a crash between a state change and its notice must not lose the notice
// (the acknowledgement is redelivered and the notice sent then).
func checkNotices(t *testing.T, q *queue.Queue, billing string, nums []string) {
	t.Helper()
	var accepted, arl map[string]int
	var lots map[string]bool
	// A notice is published after its state change: the last ones may
	// still be on their way when the states are final (bounded wait).
	for until := time.Now().Add(10 * time.Second); ; {
		ns, err := q.Notices(context.Background(), billing, 10000, 0)
		if err != nil {
			t.Fatal(err)
		}
		accepted, arl, lots = map[string]int{}, map[string]int{}, map[string]bool{}
		for _, n := range ns {
			switch n.Event {
			case "accepted":
				accepted[n.Number]++
				lots[n.Lot] = true
			case "arl_positive":
				arl[n.Lot]++
			}
		}
		all := len(accepted) == len(nums)
		for lot := range lots {
			all = all && arl[lot] > 0
		}
		if all || time.Now().After(until) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range nums {
		if accepted[n] != 1 {
			t.Errorf("sheet %s: %d accepted notices, want 1", n, accepted[n])
		}
	}
	for lot := range lots {
		if arl[lot] != 1 {
			t.Errorf("lot %s: %d positive ARL notices, want 1", lot, arl[lot])
		}
	}
}

// TestRetryAfterFailedIntake: the sheet's message was published but its
// status record not written (the intake failed there, as during a NATS
// failover); the batcher sees the message first, then the workstation
// sends the sheet again a minute later, within the duplicate window: the
// publish is not stored again and the record points at the first message,
// which must still be batched.
func TestRetryAfterFailedIntake(t *testing.T) {
	e := newEnv(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	e.cfg.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	f := &failOnce{step: "intake.published", n: 1}
	e.cfg.FailPoint = f.hook
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751"})
	ctx := context.Background()
	if _, err := q.Submit(ctx, sheet("751000019", "000000001", "d1")); !errors.Is(err, queue.ErrFailPoint) {
		t.Fatalf("first send: %v, want the injected failure", err)
	}
	// A minute later by the queue's clock, the batcher meets the message
	// (several ticks) before the sheet comes again.
	clock.Add(int64(time.Minute))
	time.Sleep(20 * e.cfg.Tick)
	r, err := q.Submit(ctx, sheet("751000019", "000000001", "d1"))
	if err != nil {
		t.Fatalf("second send: %v", err)
	}
	if r.State != queue.Queued {
		t.Fatalf("second send: %+v", r)
	}
	clock.Add(int64(time.Second))
	go func() {
		// the lot's age is measured by the moved clock too
		for range 200 {
			time.Sleep(50 * time.Millisecond)
			clock.Add(int64(100 * time.Millisecond))
		}
	}()
	waitFinal(t, q, "751000019", []string{"000000001"}, 20*time.Second)
}

// TestBuryFailureKeepsNotices: an insurer refuses every attempt of a lot
// (negative ARLs) and the lot is given up on; the step after the first
// sheet's delivery_failed state fails. The redelivered ARL buries the
// rest, and every sheet gets its delivery_failed notice exactly once.
func TestBuryFailureKeepsNotices(t *testing.T) {
	e := newEnv(t)
	e.cfg.Limits = func(string) queue.Limits {
		return queue.Limits{MaxSheets: 3, MaxAge: 100 * time.Millisecond, DeliveryDeadline: time.Hour, ARLDeadline: time.Hour, ReturnsDeadline: time.Hour, MaxAttempts: 2, Backoff: 10 * time.Millisecond}
	}
	f := &failOnce{step: queue.StepBury, n: 1}
	e.cfg.FailPoint = f.hook
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751", arl: func(*queue.Lot) (bool, string) { return false, "structure" }})
	ctx := context.Background()
	nums := numbers(1, 3)
	submitAll(t, q, "751000019", nums)
	sts := waitFinal(t, q, "751000019", nums, 20*time.Second)
	if !f.fired.Load() {
		t.Fatal("the bury step never failed")
	}
	for n, st := range sts {
		if st.State != queue.DeliveryFailed {
			t.Errorf("sheet %s: %s, want delivery_failed", n, st.State)
		}
	}
	// The notices are sent after the state: wait for them (bounded).
	var failed map[string]int
	var negative int
	for until := time.Now().Add(10 * time.Second); ; {
		ns, err := q.Notices(ctx, "751000019", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		failed, negative = map[string]int{}, 0
		for _, n := range ns {
			switch n.Event {
			case string(queue.DeliveryFailed):
				failed[n.Number]++
			case "arl_negative":
				negative++
			}
		}
		if len(failed) == len(nums) || time.Now().After(until) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range nums {
		if failed[n] != 1 {
			t.Errorf("sheet %s: %d delivery_failed notices, want 1", n, failed[n])
		}
	}
	if negative != 2 {
		t.Errorf("%d arl_negative notices, want 2 (one per attempt)", negative)
	}
	checkHistory(t, e, "751000019", nums, queue.DeliveryFailed)
}

// checkHistory checks that FSE_HISTORY holds exactly one entry of state
// for each sheet of nums: a failure between the state change and its
// history entry must not lose the entry.
func checkHistory(t *testing.T, e *env, billing string, nums []string, state queue.State) {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	var found map[string]int
	for until := time.Now().Add(10 * time.Second); ; {
		found = map[string]int{}
		c, err := js.OrderedConsumer(ctx, queue.StreamHistory, jetstream.OrderedConsumerConfig{FilterSubjects: []string{queue.HistorySubject(billing, "*")}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			batch, err := c.Fetch(500, jetstream.FetchMaxWait(300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for m := range batch.Messages() {
				n++
				var h queue.HistoryEntry
				if err := json.Unmarshal(m.Data(), &h); err != nil {
					t.Fatal(err)
				}
				if h.State == state {
					found[h.Number]++
				}
			}
			if n == 0 {
				break
			}
		}
		if len(found) == len(nums) || time.Now().After(until) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, n := range nums {
		if found[n] != 1 {
			t.Errorf("sheet %s: %d %s entries in FSE_HISTORY, want 1", n, found[n], state)
		}
	}
}

// TestConsumerStateLost: the batcher's consumer forgets what it delivered
// and acked (as after a kill -9 of the embedded server, which writes that
// state a little after the fact), so every sheet message comes again as a
// first delivery. Sheets already in a lot must not go into another one.
func TestConsumerStateLost(t *testing.T) {
	e := newEnv(t)
	q := e.open(t) // no insurer: the lots stay active, the sheets name no lot
	ctx := context.Background()
	nums := numbers(1, 12)
	submitAll(t, q, "751000019", nums)
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, queue.BucketBatches)
	if err != nil {
		t.Fatal(err)
	}
	// lots lists, per sheet key, the lots it is in; open counts the sheets
	// in open manifests.
	lots := func() (map[string][]string, int) {
		in, open := map[string][]string{}, 0
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys.Keys() {
			ent, err := kv.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasPrefix(k, "lot."):
				var rec queue.LotRecord
				if err := json.Unmarshal(ent.Value(), &rec); err != nil {
					t.Fatal(err)
				}
				for _, s := range rec.Sheets {
					in[s.Key] = append(in[s.Key], rec.ID)
				}
			case strings.HasPrefix(k, "open."):
				var m queue.Manifest
				if err := json.Unmarshal(ent.Value(), &m); err != nil {
					t.Fatal(err)
				}
				open += len(m.Sheets)
			}
		}
		return in, open
	}
	// settled waits until the batcher has acked every message, every open
	// manifest is closed, and two readings of the bucket 50 ms apart agree:
	// one reading lists the keys, then reads them one by one, and can meet
	// a lot being closed half way (its open manifest already emptied, its
	// record not listed) — which made this test fail now and then.
	settled := func(what string) map[string][]string {
		t.Helper()
		var prev string
		for until := time.Now().Add(20 * time.Second); ; {
			info, err := js.Consumer(ctx, queue.StreamSheets, queue.ConsumerBatcher)
			if err == nil {
				ci, err := info.Info(ctx)
				if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 {
					in, open := lots()
					seen := fmt.Sprint(in) // fmt prints maps sorted by key
					if open == 0 && seen == prev {
						return in
					}
					prev = seen
				}
			}
			if time.Now().After(until) {
				_, open := lots()
				t.Fatalf("%s: the batcher did not settle (%d sheets in open manifests)", what, open)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if in := settled("first pass"); len(in) != len(nums) {
		t.Fatalf("%d sheets in lots, want %d", len(in), len(nums))
	}
	q.Close()
	if err := js.DeleteConsumer(ctx, queue.StreamSheets, queue.ConsumerBatcher); err != nil {
		t.Fatal(err)
	}
	e.open(t) // recreates the consumer: every message delivered again, as new
	in := settled("after the consumer lost its state")
	for _, n := range nums {
		if l := in["751000019."+n]; len(l) != 1 {
			t.Errorf("sheet %s in lots %v, want exactly one", n, l)
		}
	}
}

// TestARLBeforeAttemptRecorded: the insurer answers a lot before the
// batcher has recorded its publication on the lot record (held back here
// until the ARL is applied). The attempt is recorded all the same, so the
// sheets still show batched and the timers know the attempt.
func TestARLBeforeAttemptRecorded(t *testing.T) {
	e := newEnv(t)
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var held atomic.Bool
	e.cfg.FailPoint = func(step string) error {
		if step != "batcher.published" || held.Swap(true) {
			return nil
		}
		kv, err := js.KeyValue(ctx, queue.BucketBatches)
		if err != nil {
			return nil
		}
		for until := time.Now().Add(10 * time.Second); time.Now().Before(until); time.Sleep(20 * time.Millisecond) {
			keys, err := kv.ListKeysFiltered(ctx, "lot.>")
			if err != nil {
				continue
			}
			for k := range keys.Keys() {
				if ent, err := kv.Get(ctx, k); err == nil {
					var r queue.LotRecord
					if json.Unmarshal(ent.Value(), &r) == nil && !r.ARLAt.IsZero() {
						return nil
					}
				}
			}
		}
		t.Error("the ARL was never applied while the batcher waited")
		return nil
	}
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751", outcome: func(*queue.Lot, queue.LotSheet) string { return "" }})
	nums := numbers(1, 3)
	submitAll(t, q, "751000019", nums)
	// Wait (bounded) for the ARL, then for the attempt to be recorded.
	for _, n := range nums {
		for until := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			st, err := q.Status(ctx, "751000019", n)
			if err == nil && st.State == queue.ARLPositive {
				rec, err := q.Lot(ctx, st.Destinations[0].Lot)
				if err != nil {
					t.Fatal(err)
				}
				batched := false
				for _, ev := range st.History {
					batched = batched || ev.State == queue.Batched
				}
				if batched && len(rec.Attempts) == 1 && rec.Attempts[0].N == 1 && rec.Attempts[0].StreamSeq != 0 {
					break
				}
				if time.Now().After(until) {
					t.Fatalf("sheet %s: history %+v, lot attempts %+v; want batched, attempt 1 recorded", n, st.History, rec.Attempts)
				}
				continue
			}
			if time.Now().After(until) {
				t.Fatalf("sheet %s: %v %v, want arl_positive", n, st, err)
			}
		}
	}
	if !held.Load() {
		t.Fatal("the batcher never reached batcher.published")
	}
}
