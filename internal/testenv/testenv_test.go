package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/internal/testenv"
)

// TestCardThroughPCSCD proves the harness: a leased vpcd reader, a virtual
// card in it, and a SELECT answered through pcscd with ebfe/scard. The same
// test runs in another package (twin) at the same time and gets another
// reader.
func TestCardThroughPCSCD(t *testing.T) { testenv.ProveCardHarness(t) }

// TestTwoLeasesDiffer checks that two leases in one process never share a reader.
func TestTwoLeasesDiffer(t *testing.T) {
	a := testenv.LeaseReader(t)
	b := testenv.LeaseReader(t)
	if a.Port == b.Port || a.Name == b.Name {
		t.Fatalf("two leases got the same reader %v and %v", a, b)
	}
}

func TestJetStreamPublish(t *testing.T) {
	s := testenv.NATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, "t.x", []byte("hello"), jetstream.WithMsgID("one"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Sequence != 1 || ack.Stream != "T" {
		t.Fatalf("got ack %+v, want stream T seq 1", ack)
	}
	dup, err := js.Publish(ctx, "t.x", []byte("hello"), jetstream.WithMsgID("one"))
	if err != nil {
		t.Fatal(err)
	}
	if !dup.Duplicate {
		t.Fatal("second publish with the same Nats-Msg-Id was not flagged duplicate")
	}
}
