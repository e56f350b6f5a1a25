package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RefusalAge is how long an intake refusal is listed (FSE_REFUSALS' TTL).
const RefusalAge = 30 * 24 * time.Hour

// Refusal is a sheet the intake refused, as the practice's view lists it:
// codes and paths only, never patient data. The latest refusal of a sheet
// replaces the earlier ones; a sheet receipted since still has its entry
// (the view shows its state beside it).
type Refusal struct {
	Billing string    `json:"billing"`
	Number  string    `json:"number"`
	Time    time.Time `json:"time"`
	Codes   []string  `json:"codes"`
	Paths   []string  `json:"paths,omitempty"`
}

// RecordRefusal keeps an intake refusal for the practice's view.
func (q *Queue) RecordRefusal(ctx context.Context, r Refusal) error {
	if !ValidToken(r.Billing) || !ValidToken(r.Number) {
		return fmt.Errorf("%w: billing %q, number %q", ErrInvalid, r.Billing, r.Number)
	}
	b, _ := json.Marshal(r)
	if _, err := q.top.Refusals.Put(ctx, StatusKey(r.Billing, r.Number), b); err != nil {
		return q.writeErr(err)
	}
	return nil
}

// Refusals lists a billing number's intake refusals of the last
// RefusalAge, newest first, up to max.
func (q *Queue) Refusals(ctx context.Context, billing string, max int) ([]Refusal, error) {
	if !ValidToken(billing) {
		return nil, nil
	}
	lister, err := q.top.Refusals.ListKeysFiltered(ctx, billing+".*")
	if err != nil {
		return nil, fmt.Errorf("list refusals: %w", err)
	}
	var out []Refusal
	for k := range lister.Keys() {
		e, err := q.top.Refusals.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("read refusal %s: %w", k, err)
		}
		var r Refusal
		if json.Unmarshal(e.Value(), &r) == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) > max {
		out = out[:max]
	}
	return out, nil
}
