package queue

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// fetchReady returns up to n messages of cons: those available now, or,
// when there are none, the first to come within wait and those behind it.
// A plain Fetch(n, wait) completes only with n messages or at wait, so
// below n messages per wait every message sat there until the wait ended:
// up to a tick at each of the batcher and the ack router.
func fetchReady(cons jetstream.Consumer, n int, wait time.Duration) ([]jetstream.Msg, error) {
	msgs, err := collect(cons.FetchNoWait(n))
	if err != nil || len(msgs) > 0 || n <= 0 {
		return msgs, err
	}
	msgs, err = collect(cons.Fetch(1, jetstream.FetchMaxWait(wait)))
	if err != nil || len(msgs) == 0 || n == 1 {
		return msgs, err
	}
	more, err := collect(cons.FetchNoWait(n - 1))
	if err != nil {
		// The first message is in hand: handle it; the error comes back
		// on the next call if it lasts.
		return msgs, nil
	}
	return append(msgs, more...), nil
}

func collect(batch jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, batch.Error()
}
