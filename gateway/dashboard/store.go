package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/queue"
)

// Store is what the pages read of the queue. It only reads: nothing here
// confirms a notice or changes a state.
type Store interface {
	// Status is one sheet's state and history (queue.ErrNotFound when
	// there is no such sheet).
	Status(ctx context.Context, billing, number string) (*queue.Status, error)
	// Lots lists up to max closed lots of an insurer, newest first.
	Lots(ctx context.Context, insurer string, max int) ([]*queue.LotRecord, error)
	// Rejected lists the numbers of a billing number's sheets that an
	// insurer rejected at some point (from FSE_HISTORY), up to max.
	Rejected(ctx context.Context, billing string, max int) ([]string, error)
}

// QueueStore reads a running queue: statuses through its API, lots from
// FSE_BATCHES (lot.<id> records) and rejections from FSE_HISTORY.
func QueueStore(q *queue.Queue) Store { return queueStore{q} }

type queueStore struct{ q *queue.Queue }

func (s queueStore) Status(ctx context.Context, billing, number string) (*queue.Status, error) {
	return s.q.Status(ctx, billing, number)
}

func (s queueStore) Lots(ctx context.Context, insurer string, max int) ([]*queue.LotRecord, error) {
	if !queue.ValidToken(insurer) {
		return nil, nil
	}
	kv := s.q.Topology().Batches
	lister, err := kv.ListKeysFiltered(ctx, "lot.>")
	if err != nil {
		return nil, fmt.Errorf("list lots: %w", err)
	}
	prefix := "lot." + insurer + "-"
	var ids []string
	for k := range lister.Keys() {
		if strings.HasPrefix(k, prefix) {
			ids = append(ids, strings.TrimPrefix(k, "lot."))
		}
	}
	// Lot ids end with a zero-padded sequence per lot key: the newest lot
	// of each key sorts last; order by close time after reading.
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	var out []*queue.LotRecord
	for _, id := range ids {
		r, err := s.q.Lot(ctx, id)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		if r.Insurer == insurer {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Closed.After(out[j].Closed) })
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

func (s queueStore) Rejected(ctx context.Context, billing string, max int) ([]string, error) {
	if !queue.ValidToken(billing) {
		return nil, nil
	}
	js := s.q.Topology().JS
	c, err := js.OrderedConsumer(ctx, queue.StreamHistory, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{queue.SubjectHistory + "." + billing + ".>"},
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", billing, err)
	}
	seen := map[string]bool{}
	var out []string
	for {
		batch, err := c.Fetch(256, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			return out, fmt.Errorf("read history of %s: %w", billing, err)
		}
		n, last := 0, uint64(1)
		for m := range batch.Messages() {
			n++
			if md, err := m.Metadata(); err == nil {
				last = md.NumPending
			}
			var e queue.HistoryEntry
			if json.Unmarshal(m.Data(), &e) != nil || e.State != queue.Rejected || seen[e.Number] {
				continue
			}
			seen[e.Number] = true
			out = append(out, e.Number)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return out, fmt.Errorf("read history of %s: %w", billing, err)
		}
		if n == 0 || last == 0 || len(out) >= max {
			break
		}
	}
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// RefusalStore is a Store that also lists intake refusals (QueueStore
// does): the rejects page then shows them, each with the sheet's state
// since.
type RefusalStore interface {
	Refusals(ctx context.Context, billing string, max int) ([]queue.Refusal, error)
}

func (s queueStore) Refusals(ctx context.Context, billing string, max int) ([]queue.Refusal, error) {
	return s.q.Refusals(ctx, billing, max)
}
