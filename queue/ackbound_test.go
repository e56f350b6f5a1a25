package queue_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/queue"
)

// TestAckBoundPerInsurer: an insurer filling its acknowledgement subject
// (noise, or a flood) has its own publications refused at its bound; another
// insurer's ARL is still taken. On a single FSE_ACKS with one byte limit for
// all, the flood made the other insurer's ARL be refused and its sheets
// stay at batched. Once the router runs, it drains the noise (refused and
// deleted) and the noisy insurer may publish again.
func TestAckBoundPerInsurer(t *testing.T) {
	e := newEnv(t)
	e.cfg.Topology.MaxBytes = 64 << 20 // acks' old share: 2.5 MiB for every insurer together
	ctx := context.Background()
	q, err := queue.Open(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	_, bound, err := q.AckBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bound != queue.MinAckBacklog {
		t.Fatalf("got a bound of %d messages, want %d (64 MiB budget, 2 insurers)", bound, queue.MinAckBacklog)
	}

	// amc1 floods its subject with 64 KiB messages until refused.
	noise := bytes.Repeat([]byte("x"), 64<<10)
	sent := 0
	for ; sent < 1000; sent++ {
		if _, err := js.Publish(ctx, queue.AckSubject("amc1"), noise); err != nil {
			break
		}
	}
	if int64(sent) != bound {
		t.Fatalf("the noisy insurer published %d messages before a refusal, want its bound %d", sent, bound)
	}
	// cpam751's acknowledgement is still taken.
	if _, err := js.Publish(ctx, queue.AckSubject("cpam751"), []byte(`[]`)); err != nil {
		t.Fatalf("another insurer's acknowledgement refused: %v", err)
	}
	waiting, _, err := q.AckBacklog(ctx)
	if err != nil || waiting["amc1"] != uint64(bound) || waiting["cpam751"] != 1 {
		t.Fatalf("backlog: got %v, %v; want amc1 %d, cpam751 1", waiting, err, bound)
	}

	// The router applies or refuses every waiting message, and deletes it.
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		waiting, _, err = q.AckBacklog(ctx)
		if err == nil && waiting["amc1"] == 0 && waiting["cpam751"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backlog not drained: %v, %v", waiting, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := js.Publish(ctx, queue.AckSubject("amc1"), []byte(`[]`)); err != nil {
		t.Fatalf("the drained insurer may not publish again: %v", err)
	}
}
