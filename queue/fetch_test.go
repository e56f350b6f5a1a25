package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fixtures/testenv"
)

// TestFetchReady: fewer messages than asked for are handed over as they
// are, without waiting for a full batch or for the wait to end (an hour
// here: the test's deadline would catch a wait).
func TestFetchReady(t *testing.T) {
	s := testenv.NATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	// fetch takes want messages with calls of fetchReady for up to 500,
	// none of which may wait for a full batch. The server may hand out what
	// is there in more than one answer (seen once under load: 2, then 1).
	fetch := func(want int) {
		t.Helper()
		type result struct {
			msgs []jetstream.Msg
			err  error
		}
		for got := 0; got < want; {
			done := make(chan result, 1)
			go func() {
				msgs, err := fetchReady(cons, 500, time.Hour)
				done <- result{msgs, err}
			}()
			select {
			case r := <-done:
				if r.err != nil || len(r.msgs) == 0 || got+len(r.msgs) > want {
					t.Fatalf("fetchReady: %d messages, %v; want %d in all, %d so far", len(r.msgs), r.err, want, got)
				}
				got += len(r.msgs)
				for _, m := range r.msgs {
					_ = m.Ack()
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("fetchReady waited for a full batch of 500 (%d messages were there)", want-got)
			}
		}
	}
	// Three there already.
	for i := range 3 {
		if _, err := js.Publish(ctx, fmt.Sprintf("t.%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	fetch(3)
	// None there: the first one to come.
	go func() {
		time.Sleep(200 * time.Millisecond)
		_, _ = js.Publish(ctx, "t.late", nil)
	}()
	fetch(1)
}
