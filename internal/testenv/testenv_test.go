package testenv_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ebfe/scard"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/internal/testenv"
)

// selectCard answers SELECT with 90 00 and anything else with 6D 00
// (instruction not supported): the least a card can do.
type selectCard struct{}

func (selectCard) ATR() []byte {
	return []byte{0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90, 0x00}
}
func (selectCard) Reset() {}
func (selectCard) APDU(cmd []byte) []byte {
	if len(cmd) >= 4 && cmd[1] == 0xA4 {
		return []byte{0x90, 0x00}
	}
	return []byte{0x6D, 0x00}
}

// TestCardThroughPCSCD proves the harness: a leased vpcd reader, a virtual
// card in it, and a SELECT answered through pcscd with ebfe/scard. The same
// test runs in another package (queue) at the same time and gets another
// reader.
func TestCardThroughPCSCD(t *testing.T) {
	r := testenv.InsertCard(t, selectCard{})
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	c, err := ctx.Connect(r.Name, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("connect %q: %v", r.Name, err)
	}
	defer c.Disconnect(scard.LeaveCard)
	resp, err := c.Transmit([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT answered % X, want 90 00", resp)
	}
	resp, err = c.Transmit([]byte{0x00, 0xFF, 0x00, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, []byte{0x6D, 0x00}) {
		t.Fatalf("unknown INS answered % X, want 6D 00", resp)
	}
}

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
