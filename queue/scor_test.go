package queue_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/queue"
)

// scorInsurer answers the SCOR lots of cpam751 with a positive ARL and
// counts, per sheet, the lot messages its piece came in; lots of sheets are
// only acked.
type scorInsurer struct {
	mu     sync.Mutex
	pieces map[string]int
}

func (f *scorInsurer) run(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	cons, err := js.Consumer(ctx, queue.StreamLots, queue.LotConsumer("cpam751"))
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
			_ = m.Ack()
			if !lot.IsSCOR(m.Data()) {
				continue
			}
			l, err := lot.DecodeSCORLot(m.Data())
			if err != nil {
				t.Errorf("SCOR lot: %v", err)
				continue
			}
			f.mu.Lock()
			for _, p := range l.Pieces {
				f.pieces[p.Key()]++
			}
			f.mu.Unlock()
			b, _ := json.Marshal([]queue.Ack{{ID: "arl-" + l.ID, Level: queue.LevelARL, Lot: l.ID, Attempt: 1, Positive: true}})
			if _, err := js.Publish(ctx, queue.AckSubject("cpam751"), b); err != nil && ctx.Err() == nil {
				t.Errorf("publish SCOR ARL: %v", err)
			}
		}
	}
}

// TestSCORExactlyOnce: a sheet on a paper prescription waits for its
// piece; the piece goes in a SCOR lot whose publication fails once after
// the lot was recorded (a crash there): the lot is published afterwards,
// the insurer gets each piece once, and its ARL marks them acknowledged.
func TestSCORExactlyOnce(t *testing.T) {
	e := newEnv(t)
	f := &failOnce{step: queue.StepSCORPublish, n: 1}
	e.cfg.FailPoint = f.hook
	q := e.open(t)
	js, _ := jetstream.New(e.nc)
	ins := &scorInsurer{pieces: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { ins.run(t, ctx, js) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	nums := []string{"000000001", "000000002", "000000003"}
	for _, n := range nums {
		s := sheet("751000027", n, "d"+n)
		s.SCORInsurer = "cpam751"
		r, err := q.Submit(ctx, s)
		if err != nil || r.SCOR != queue.SCORAwaiting {
			t.Fatalf("sheet %s: got %+v %v, want its receipt awaiting its SCOR piece", n, r, err)
		}
		if _, err := q.SubmitSCOR(ctx, "751000027", n, lot.PieceJPEG, []byte("\xff\xd8\xff piece "+n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.SubmitSCOR(ctx, "751000027", "000000001", lot.PieceJPEG, []byte("\xff\xd8\xff another")); err == nil {
		t.Error("a second, different piece for a sheet: accepted")
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nums {
		for {
			st, err := q.Status(ctx, "751000027", n)
			if err == nil && st.SCOR != nil && st.SCOR.State == queue.SCORAcknowledged {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sheet %s: SCOR %+v, want acknowledged", n, st.SCOR)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !f.fired.Load() {
		t.Fatal("the SCOR publication never failed")
	}
	ins.mu.Lock()
	defer ins.mu.Unlock()
	for _, n := range nums {
		if got := ins.pieces["751000027."+n]; got != 1 {
			t.Errorf("sheet %s: its piece came %d times, want once", n, got)
		}
	}
}
