package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/queue"
)

// TestZeroCodecIsProduction: a Config that names no Codec sends lots in the
// production format (urn:fsegate:lot:1, package insurers/lot), not the
// JSON stand-in the other tests choose.
func TestZeroCodecIsProduction(t *testing.T) {
	e := newEnv(t)
	e.cfg.Codec = nil
	e.cfg.Limits = func(string) queue.Limits { // the lot closes at 5 sheets, not by age
		return queue.Limits{MaxSheets: 5, MaxAge: time.Hour, DeliveryDeadline: time.Hour, ARLDeadline: time.Hour, ReturnsDeadline: time.Hour, Backoff: 10 * time.Millisecond}
	}
	q := e.open(t)
	submitAll(t, q, "123456789", numbers(1, 5))
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, queue.StreamLots, queue.LotConsumer("cpam751"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatalf("no lot: %v", err)
	}
	l, err := lot.DecodeLot(m.Data())
	if err != nil {
		t.Fatalf("lot of the zero Config: %v, want urn:fsegate:lot:1 (%.60q)", err, m.Data())
	}
	if len(l.Sheets) != 5 || l.Insurer != "cpam751" {
		t.Fatalf("got a lot of %d sheets for %s, want 5 for cpam751", len(l.Sheets), l.Insurer)
	}
}
