package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Replay feeds m with what the queue's recorded state holds from before
// the time before (a gateway's start): one SheetQueued per sheet queued by
// then, one SheetFinal per sheet final by then (its state; receipt to its
// last destination's change), one LotPublished per lot attempt published,
// Ack("arl_positive") per lot acknowledged, and Ack("return") per
// destination answered (accepted, paid or rejected) by then. It returns how
// many sheets were received by then. Counters fed by the live hooks from
// the start and by Replay for what came before show the store's totals,
// not the process's: a restarted gateway does not show zeros beside lots.
// Refusals, negative ARLs and dead lots leave no record to replay.
//
// It reads every FSE_STATUS record and every lot record once (a watch of
// the current values): run it in the background on a large store.
func (q *Queue) Replay(ctx context.Context, before time.Time, m Metrics) (received int, err error) {
	err = watchValues(ctx, q.top.Status, ">", func(_ string, b []byte) {
		var s Status
		if json.Unmarshal(b, &s) != nil || s.ReceivedAt.IsZero() || !s.ReceivedAt.Before(before) {
			return
		}
		received++
		if !s.QueuedAt.IsZero() && s.QueuedAt.Before(before) {
			m.SheetQueued()
		}
		var last time.Time
		for _, d := range s.Destinations {
			if d.Updated.After(last) {
				last = d.Updated
			}
			switch d.State {
			case Accepted, Paid, Rejected:
				if d.Updated.Before(before) {
					m.Ack("return")
				}
			}
		}
		if s.Final() && last.Before(before) {
			m.SheetFinal(s.State, last.Sub(s.ReceivedAt))
		}
	})
	if err != nil {
		return received, fmt.Errorf("replay the sheets' states: %w", err)
	}
	err = watchValues(ctx, q.top.Batches, "lot.>", func(key string, b []byte) {
		var r LotRecord
		if !strings.HasPrefix(key, "lot.") || json.Unmarshal(b, &r) != nil {
			return
		}
		for _, a := range r.Attempts {
			if !a.Published.IsZero() && a.Published.Before(before) {
				m.LotPublished(r.Insurer)
			}
		}
		if !r.ARLAt.IsZero() && r.ARLAt.Before(before) {
			m.Ack("arl_positive")
		}
	})
	if err != nil {
		return received, fmt.Errorf("replay the lots: %w", err)
	}
	return received, nil
}

// watchValues calls f with the current value of every key of kv matching
// filter, and returns once they are all read.
func watchValues(ctx context.Context, kv jetstream.KeyValue, filter string, f func(key string, value []byte)) error {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch of %s ended", kv.Bucket())
			}
			if e == nil {
				return nil // every current value was delivered
			}
			f(e.Key(), e.Value())
		}
	}
}
