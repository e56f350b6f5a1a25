package queue_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/queue"
)

// TestDeadlinesDeadLetterResubmit: an insurer that takes nothing gets its
// lot re-sent, then delivery_failed and FSE_DEAD; once it is back,
// 'resubmit' sends the lot again under the same id and the sheets end
// accepted. An insurer that answers the ARL but no return leaves its
// sheets returns_overdue.
func TestDeadlinesDeadLetterResubmit(t *testing.T) {
	e := newEnv(t)
	e.cfg.Limits = func(id string) queue.Limits {
		l := queue.Limits{MaxSheets: 3, MaxAge: 100 * time.Millisecond, DeliveryDeadline: 300 * time.Millisecond, ARLDeadline: 300 * time.Millisecond, ReturnsDeadline: 300 * time.Millisecond, MaxAttempts: 2, Backoff: 10 * time.Millisecond}
		return l
	}
	q := e.open(t)
	ctx := context.Background()
	nums := numbers(1, 3)
	submitAll(t, q, "751000019", nums)
	sts := waitFinal(t, q, "751000019", nums, 20*time.Second)
	lotID := ""
	for n, st := range sts {
		if st.State != queue.DeliveryFailed {
			t.Fatalf("sheet %s: %s, want delivery_failed", n, st.State)
		}
		lotID = st.Destinations[0].Lot
	}
	// The lot record and FSE_DEAD are written as the sheets turn final:
	// wait for them too (bounded), then check.
	js, _ := jetstream.New(e.nc)
	dead, _ := js.Stream(ctx, queue.StreamDead)
	var rec *queue.LotRecord
	var deadMsgs uint64
	for until := time.Now().Add(10 * time.Second); ; {
		var err error
		if rec, err = q.Lot(ctx, lotID); err != nil {
			t.Fatal(err)
		}
		if info, err := dead.Info(ctx); err == nil {
			deadMsgs = info.State.Msgs
		}
		if (rec.State == queue.LotDead && deadMsgs >= 1) || time.Now().After(until) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec.State != queue.LotDead || rec.Attempt != 2 {
		t.Fatalf("lot %s: state %s attempt %d, want dead after 2 attempts", lotID, rec.State, rec.Attempt)
	}
	if deadMsgs != 1 {
		t.Fatalf("FSE_DEAD holds %d messages, want 1", deadMsgs)
	}

	// The insurer is back: resubmit, same lot id, next attempt.
	ins := &fakeInsurer{id: "cpam751"}
	e.insurer(t, ins)
	if ids, err := q.Resubmit(ctx, lotID); err != nil || len(ids) != 1 || ids[0] != lotID {
		t.Fatalf("resubmit: %v %v", ids, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := q.Status(ctx, "751000019", nums[0])
		if st.State == queue.Accepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after resubmit: %s", st.State)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// ARL but no return: returns_overdue.
	quiet := &fakeInsurer{id: "amc1", outcome: func(*queue.Lot, queue.LotSheet) string { return "" }}
	e.insurer(t, quiet)
	s := sheet("751000019", "000000900", "d900")
	s.Destinations = []queue.Destination{{Insurer: "amc1", Kind: "AMC"}}
	if _, err := q.Submit(ctx, s); err != nil {
		t.Fatal(err)
	}
	st := waitFinal(t, q, "751000019", []string{"000000900"}, 20*time.Second)["000000900"]
	if st.State != queue.ReturnsOverdue {
		t.Fatalf("no return: %s, want returns_overdue", st.State)
	}
}

// TestReturnsDeadlineWorkingDays: with ReturnsWorkingDays, a lot whose ARL
// came on Friday 2026-12-18 is still awaited on Wednesday 30 at 22:00
// (the 7th working day: Christmas, a holiday of the insurer's calendar,
// does not count), although its one-hour duration (ReturnsDeadline,
// ignored) is long past, and its sheets are returns_overdue once Thursday
// 31 begins in Paris.
func TestReturnsDeadlineWorkingDays(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	hol, err := fse.ParseHolidays(strings.NewReader("date,name\n2026-12-25,Noël\n"))
	if err != nil {
		t.Fatal(err)
	}
	var offset atomic.Int64 // the test's clock is the real one moved by offset
	setClock := func(at time.Time) { offset.Store(int64(time.Until(at))) }
	setClock(time.Date(2026, 12, 18, 10, 0, 0, 0, paris))
	e := newEnv(t)
	e.cfg.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e.cfg.Limits = func(string) queue.Limits {
		return queue.Limits{MaxSheets: 1, MaxAge: 100 * time.Millisecond, DeliveryDeadline: time.Hour, ARLDeadline: time.Hour,
			ReturnsDeadline: time.Hour, ReturnsWorkingDays: fse.PaymentDays, Holidays: hol, Backoff: 10 * time.Millisecond}
	}
	q := e.open(t)
	quiet := &fakeInsurer{id: "cpam751", outcome: func(*queue.Lot, queue.LotSheet) string { return "" }}
	e.insurer(t, quiet)
	submitAll(t, q, "751000019", []string{"000000950"})
	state := func() queue.State {
		st, err := q.Status(context.Background(), "751000019", "000000950")
		if err != nil {
			t.Fatal(err)
		}
		return st.Destinations[0].State
	}
	for deadline := time.Now().Add(20 * time.Second); state() != queue.ARLPositive; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no ARL: %s", state())
		}
	}
	setClock(time.Date(2026, 12, 30, 22, 0, 0, 0, paris))
	// Many timer passes (Tick 50 ms) at that time: the sheet stays awaited.
	time.Sleep(20 * e.cfg.Tick)
	if s := state(); s != queue.ARLPositive {
		t.Fatalf("on the 7th working day: %s, want arl_positive", s)
	}
	setClock(time.Date(2026, 12, 31, 0, 0, 1, 0, paris))
	st := waitFinal(t, q, "751000019", []string{"000000950"}, 20*time.Second)["000000950"]
	if st.State != queue.ReturnsOverdue {
		t.Fatalf("after the 7th working day: %s, want returns_overdue", st.State)
	}
}
