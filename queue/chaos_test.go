package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/queue"
)

// TestFrozenLotPublishedAfterFailedClose is the regression test of the
// fault campaign's first finding (docs/reliability.md): a lot frozen while
// the cluster was partitioned, whose publish failed (not a crash: a
// timeout) after the manifest was reset, stayed "closed" until the gateway
// restarted, and its receipted sheets went nowhere. The queue must publish
// it again by itself once FSE_LOTS takes writes again.
func TestFrozenLotPublishedAfterFailedClose(t *testing.T) {
	e := newEnv(t)
	e.cfg.PublishTimeout = 300 * time.Millisecond
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751"})
	ctx := context.Background()
	js := q.Topology().JS
	// FSE_LOTS refuses new messages (one message in, at most one): every
	// lot publish fails, as in a partition.
	if _, err := js.Publish(ctx, queue.LotSubject("amc1"), []byte("filler")); err != nil {
		t.Fatal(err)
	}
	info, err := q.Topology().Lots.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open := info.Config
	closed := open
	closed.MaxMsgs, closed.Discard = 1, jetstream.DiscardNew
	if _, err := js.UpdateStream(ctx, closed); err != nil {
		t.Fatal(err)
	}
	nums := numbers(1, 3)
	submitAll(t, q, "751000017", nums)
	// Wait for the lot to be frozen and its publish to have failed.
	var frozen string
	for until := time.Now().Add(10 * time.Second); frozen == "" && time.Now().Before(until); time.Sleep(20 * time.Millisecond) {
		keys, err := q.Topology().Batches.ListKeysFiltered(ctx, "lot.>")
		if err != nil {
			continue
		}
		for k := range keys.Keys() {
			if rec, err := q.Lot(ctx, strings.TrimPrefix(k, "lot.")); err == nil && rec.State == queue.LotClosed {
				frozen = rec.ID
			}
		}
	}
	if frozen == "" {
		t.Fatal("no lot frozen within 10s")
	}
	time.Sleep(2 * e.cfg.PublishTimeout) // the close has given up
	if _, err := js.UpdateStream(ctx, open); err != nil {
		t.Fatal(err)
	}
	waitFinal(t, q, "751000017", nums, 20*time.Second)
}

// TestProtocolBucketsReadFromLeader is the regression test of the
// campaign's second finding: FSE_BATCHES was read by direct get, which
// any replica answers; one just back from a partition said "no such lot"
// and the ack router refused, for good, an insurer's payment for a lot
// created while that replica was away. On a cluster the protocol's buckets
// are read from their stream leader only, also those an earlier version
// made with direct gets on.
func TestProtocolBucketsReadFromLeader(t *testing.T) {
	c := testenv.NATSCluster(t, testenv.ClusterConfig{})
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := context.Background()
	cfg := queue.Config{Conn: nc, Topology: queue.TopologyConfig{Replicas: 3, Insurers: []string{"cpam751"}, MaxBytes: 1 << 30}}
	q, err := queue.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	direct := func(q *queue.Queue, name string) bool {
		s, err := q.Topology().JS.Stream(ctx, "KV_"+name)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.AllowDirect
	}
	for _, name := range []string{queue.BucketStatus, queue.BucketBatches} {
		if direct(q, name) {
			t.Errorf("bucket %s: direct gets allowed (any replica answers, stale ones too); want leader reads", name)
		}
	}
	s, _ := q.Topology().JS.Stream(ctx, "KV_"+queue.BucketBatches)
	sc := s.CachedInfo().Config
	sc.AllowDirect = true
	if _, err := q.Topology().JS.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	q2, err := queue.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if direct(q2, queue.BucketBatches) {
		t.Error("a bucket made with direct gets kept them")
	}
}

// TestIntakeRefusesWhenLotsFull is the regression test of the campaign's
// third finding: FSE_LOTS (14 % of the budget) filled long before
// FSE_SHEETS (26 %); the intake went on receipting sheets that no lot could
// carry, stuck "queued" with no refusal. Once a lot publish finds FSE_LOTS
// full the intake refuses STORAGE_FULL (retryable), and receipts again
// once a lot goes out.
func TestIntakeRefusesWhenLotsFull(t *testing.T) {
	e := newEnv(t)
	q := e.open(t)
	e.insurer(t, &fakeInsurer{id: "cpam751"})
	ctx := context.Background()
	js := q.Topology().JS
	info, err := q.Topology().Lots.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roomy := info.Config
	full := roomy
	full.MaxBytes = 64 // no lot fits
	if _, err := js.UpdateStream(ctx, full); err != nil {
		t.Fatal(err)
	}
	submitAll(t, q, "751000017", numbers(1, 2))
	// The batcher closes the lot (300 ms) and fails to publish it; from
	// then on the intake refuses.
	var refused error
	for until := time.Now().Add(10 * time.Second); time.Now().Before(until); time.Sleep(50 * time.Millisecond) {
		if _, err := q.Submit(ctx, sheet("751000017", "000000099", "d99")); err != nil {
			refused = err
			break
		}
		// receipted: the lot was not tried yet; the same sheet again
		// gets the same receipt, harmless.
	}
	if !errors.Is(refused, queue.ErrStorageFull) {
		t.Fatalf("intake while FSE_LOTS is full: %v, want ErrStorageFull", refused)
	}
	if _, err := js.UpdateStream(ctx, roomy); err != nil {
		t.Fatal(err)
	}
	waitFinal(t, q, "751000017", numbers(1, 2), 20*time.Second)
	if _, err := q.Submit(ctx, sheet("751000017", "000000100", "d100")); err != nil {
		t.Fatalf("intake once lots go out again: %v", err)
	}
}

// TestInsurerConsumerWaitsForCluster is the regression test of the
// campaign's fifth finding: a gateway restarted while the cluster had no
// quorum exited at once ("topology: consumer for insurer …: context
// deadline exceeded") and stayed down. Creating the consumers is retried,
// like the streams, until the cluster answers (30 s at most).
func TestInsurerConsumerWaitsForCluster(t *testing.T) {
	c := testenv.NATSCluster(t, testenv.ClusterConfig{})
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Config{Conn: nc, Topology: queue.TopologyConfig{Replicas: 3, Insurers: []string{"cpam751"}, MaxBytes: 1 << 30}})
	if err != nil {
		t.Fatal(err)
	}
	c.Stop(1)
	c.Stop(2) // no quorum
	done := make(chan error, 1)
	go func() { done <- queue.EnsureInsurer(ctx, q.Topology().JS, "cpam931", 0) }()
	time.Sleep(time.Second)
	c.Restart(1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("consumer while the cluster came back: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("no answer within 45 s")
	}
}
