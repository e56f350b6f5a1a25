package queue_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/queue"
)

// TestTransfers: transfers pay sheets of the lots sent to their insurer,
// each applied once whatever the duplicates; a reversal lowers the net
// amount and keeps the state; a transfer naming a sheet its insurer never
// got is refused whole and not kept; the practice lists its transfers.
func TestTransfers(t *testing.T) {
	e := newEnv(t)
	q := e.open(t)
	ins := &fakeInsurer{id: "cpam751"}
	e.insurer(t, ins)
	ctx := context.Background()
	nums := numbers(1, 4)
	for _, n := range nums {
		s := sheet("751000019", n, "d"+n)
		s.Destinations[0].ExpectPayment = true
		if _, err := q.Submit(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// Accepted everywhere, waiting for their payment.
	lotOf := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range nums {
		for {
			st, err := q.Status(ctx, "751000019", n)
			if err == nil && st.Destinations[0].State == queue.Accepted {
				if st.Final() {
					t.Fatalf("sheet %s final when accepted, want it to wait for its payment", n)
				}
				lotOf[n] = st.Destinations[0].Lot
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sheet %s not accepted: %+v %v", n, st, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	js, _ := jetstream.New(e.nc)
	send := func(tr *queue.Transfer, msgID string) {
		t.Helper()
		b, _ := json.Marshal(queue.Ack{ID: tr.ID, Level: queue.LevelTransfer, Insurer: "cpam751", Transfer: tr})
		if _, err := js.Publish(ctx, queue.AckSubject("cpam751"), b, jetstream.WithMsgID(msgID)); err != nil {
			t.Fatal(err)
		}
	}
	line := func(kind, n string, amount int64, code string) queue.TransferLine {
		return queue.TransferLine{Kind: kind, Number: n, Lot: lotOf[n], Amount: amount, Code: code, Label: code + " label"}
	}
	t1 := &queue.Transfer{ID: "trf:1", Insurer: "cpam751", Billing: "751000019", Reference: "CPAM751-1", Date: "2026-11-23", Total: 3700,
		Lines: []queue.TransferLine{line("paid", nums[0], 2100, ""), line("paid", nums[1], 1600, ""), line("withheld", nums[1], 500, "W_PARTIAL")}}
	t1.Lines[0].Code, t1.Lines[0].Label, t1.Lines[1].Code, t1.Lines[1].Label = "", "", "", ""
	send(t1, "m1")
	send(t1, "m1-again") // a duplicate past the dedup window
	t2 := &queue.Transfer{ID: "trf:2", Insurer: "cpam751", Billing: "751000019", Reference: "CPAM751-2", Date: "2026-11-30", Total: 2100,
		Lines: []queue.TransferLine{line("paid", nums[2], 2100, ""), line("paid", nums[3], 2100, ""), line("reversed", nums[0], -2100, "X_REVERSAL")}}
	t2.Lines[0].Code, t2.Lines[0].Label, t2.Lines[1].Code, t2.Lines[1].Label = "", "", "", ""
	bad := &queue.Transfer{ID: "trf:bad", Insurer: "cpam751", Billing: "751000019", Reference: "CPAM751-X", Date: "2026-11-30", Total: 100,
		Lines: []queue.TransferLine{{Kind: "paid", Number: "000000999", Lot: lotOf[nums[0]], Amount: 100}}}
	send(bad, "m3")
	send(t2, "m2")

	st := waitFinal(t, q, "751000019", nums, 10*time.Second)
	want := map[string]int64{nums[1]: 1600, nums[2]: 2100, nums[3]: 2100} // nums[0]: reversed, below
	for n, amount := range want {
		d := st[n].Destinations[0]
		if d.State != queue.Paid || d.Amount != amount {
			t.Errorf("sheet %s: %s %d, want paid %d", n, d.State, d.Amount, amount)
		}
	}
	if d := st[nums[1]].Destinations[0]; d.Transfer != "CPAM751-1" {
		t.Errorf("sheet %s: transfer %q, want CPAM751-1", nums[1], d.Transfer)
	}
	// The reversal may land after the sheets are final: wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		s, _ := q.Status(ctx, "751000019", nums[0])
		if d := s.Destinations[0]; d.Amount == 0 && d.State == queue.Paid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reversal not applied: %+v", s.Destinations[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, next, err := q.Payments(ctx, "751000019", queue.PaymentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "trf:1" || got[1].ID != "trf:2" || next != got[1].Seq {
		t.Fatalf("payments: got %+v (next %d), want trf:1 then trf:2 once each", got, next)
	}
	if got[0].Paid() != 3700 || got[0].Withheld() != 500 || got[1].Reversed() != -2100 || got[1].Total != 2100 {
		t.Fatalf("sums: %+v", got)
	}
	if got, _, _ := q.Payments(ctx, "751000019", queue.PaymentFilter{From: "2026-11-24"}); len(got) != 1 || got[0].ID != "trf:2" {
		t.Fatalf("from 2026-11-24: got %+v, want trf:2", got)
	}
	if got, _, _ := q.Payments(ctx, "751000019", queue.PaymentFilter{After: next}); len(got) != 0 {
		t.Fatalf("after the cursor: got %+v, want none", got)
	}
	if got, _, _ := q.Payments(ctx, "751000018", queue.PaymentFilter{}); len(got) != 0 {
		t.Fatalf("another practice: got %+v, want none", got)
	}
	// Notices: one per transfer, one per paid sheet, one for the reversal,
	// each once.
	ns, err := q.Notices(ctx, "751000019", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, n := range ns {
		count[n.Event]++
		if n.Event == "reversed" && (n.Amount != -2100 || n.Transfer != "CPAM751-2" || n.Code != "X_REVERSAL") {
			t.Errorf("reversal notice: %+v", n)
		}
	}
	if count["transfer"] != 2 || count["paid"] != 4 || count["reversed"] != 1 {
		t.Fatalf("notices by event: %v, want 2 transfers, 4 paid, 1 reversed", count)
	}
}

// TestTransferKilled: the router fails between a transfer line's state
// change and its history and notice (StepTransfer), then the queue is
// restarted on the same data: the transfer is kept once, each sheet paid
// once, one notice each, one for the transfer.
func TestTransferKilled(t *testing.T) {
	e := newEnv(t)
	f := &failOnce{step: queue.StepTransfer, n: 2}
	e.cfg.FailPoint = f.hook
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751"})
	ctx := context.Background()
	nums := numbers(1, 3)
	lotOf := map[string]string{}
	for _, n := range nums {
		s := sheet("751000019", n, "d"+n)
		s.Destinations[0].ExpectPayment = true
		if _, err := q.Submit(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); len(lotOf) < len(nums); {
		for _, n := range nums {
			if st, err := q.Status(ctx, "751000019", n); err == nil && st.Destinations[0].State == queue.Accepted {
				lotOf[n] = st.Destinations[0].Lot
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not accepted: %v", lotOf)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr := &queue.Transfer{ID: "trf:k", Insurer: "cpam751", Billing: "751000019", Reference: "CPAM751-K", Date: "2026-11-23", Total: 6300}
	for _, n := range nums {
		tr.Lines = append(tr.Lines, queue.TransferLine{Kind: "paid", Number: n, Lot: lotOf[n], Amount: 2100})
	}
	b, _ := json.Marshal(queue.Ack{ID: tr.ID, Level: queue.LevelTransfer, Insurer: "cpam751", Transfer: tr})
	js, _ := jetstream.New(e.nc)
	if _, err := js.Publish(ctx, queue.AckSubject("cpam751"), b, jetstream.WithMsgID("k1")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !f.fired.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the failure point was never reached")
		}
		time.Sleep(20 * time.Millisecond)
	}
	q.Close()
	q2, err := queue.Open(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q2.Close)
	sts := waitFinal(t, q2, "751000019", nums, 15*time.Second)
	for n, st := range sts {
		paid := 0
		for _, h := range st.History {
			if h.State == queue.Paid {
				paid++
			}
		}
		if d := st.Destinations[0]; d.State != queue.Paid || d.Amount != 2100 || paid != 1 {
			t.Errorf("sheet %s: %s %d, paid %d times", n, d.State, d.Amount, paid)
		}
	}
	ts, _, err := q2.Payments(ctx, "751000019", queue.PaymentFilter{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("payments: %v, %d transfers, want 1", err, len(ts))
	}
	var count map[string]int
	for deadline := time.Now().Add(10 * time.Second); ; {
		ns, err := q2.Notices(ctx, "751000019", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		count = map[string]int{}
		for _, n := range ns {
			count[n.Event+" "+n.Number]++
		}
		if count["transfer "] == 1 && len(count) >= 1+len(nums) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range nums {
		if count["paid "+n] != 1 {
			t.Errorf("sheet %s: %d paid notices, want 1 (%v)", n, count["paid "+n], count)
		}
	}
	if count["transfer "] != 1 {
		t.Errorf("%d transfer notices, want 1", count["transfer "])
	}
}

// TestLatePaymentAfterOverdue: a tiers-payant sheet accepted but not paid
// within the returns deadline becomes returns_overdue; the transfer that
// pays it later still makes it paid (the money came: domain.md §12, a late
// tiers-payant sheet is still payable), once.
func TestLatePaymentAfterOverdue(t *testing.T) {
	e := newEnv(t)
	e.cfg.Limits = func(string) queue.Limits {
		return queue.Limits{MaxSheets: 5, MaxAge: 100 * time.Millisecond, DeliveryDeadline: time.Hour, ARLDeadline: time.Hour, ReturnsDeadline: 300 * time.Millisecond, Backoff: 10 * time.Millisecond}
	}
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751"})
	ctx := context.Background()
	s := sheet("751000019", "000000001", "d1")
	s.Destinations[0].ExpectPayment = true
	if _, err := q.Submit(ctx, s); err != nil {
		t.Fatal(err)
	}
	st := waitFinal(t, q, "751000019", []string{"000000001"}, 10*time.Second)["000000001"]
	d := st.Destinations[0]
	if d.State != queue.ReturnsOverdue {
		t.Fatalf("got %s, want returns_overdue (accepted, not paid within the deadline)", d.State)
	}
	tr := &queue.Transfer{ID: "trf:late", Insurer: "cpam751", Billing: "751000019", Reference: "CPAM751-LATE", Date: "2026-12-01", Total: 2100,
		Lines: []queue.TransferLine{{Kind: "paid", Number: "000000001", Lot: d.Lot, Amount: 2100}}}
	b, _ := json.Marshal(queue.Ack{ID: tr.ID, Level: queue.LevelTransfer, Insurer: "cpam751", Transfer: tr})
	js, _ := jetstream.New(e.nc)
	for _, id := range []string{"late-1", "late-2"} { // and a duplicate
		if _, err := js.Publish(ctx, queue.AckSubject("cpam751"), b, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, _ = q.Status(ctx, "751000019", "000000001")
		if st.Destinations[0].State == queue.Paid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a late payment did not make the sheet paid: %+v", st.Destinations[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Both copies handled (the router deletes what it applied).
	for deadline := time.Now().Add(10 * time.Second); ; {
		backlog, _, err := q.AckBacklog(ctx)
		if err == nil && backlog["cpam751"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acknowledgements still waiting: %v %v", backlog, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, _ = q.Status(ctx, "751000019", "000000001")
	paid := 0
	for _, h := range st.History {
		if h.State == queue.Paid {
			paid++
		}
	}
	if d := st.Destinations[0]; paid != 1 || d.Amount != 2100 || d.Transfer != "CPAM751-LATE" || st.State != queue.Paid {
		t.Fatalf("paid %d times, %+v, overall %s", paid, d, st.State)
	}
}
