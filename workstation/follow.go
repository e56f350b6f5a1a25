package workstation

import (
	"context"
	"errors"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// Follow marks the outbox entry of st final when st is (its final state in
// one word: FinalState). A sheet the outbox does not hold (sent from
// another workstation) is not an error.
func Follow(ob *outbox.Outbox, st *client.Status) error {
	if !st.Final() {
		return nil
	}
	key, err := outbox.Key(st.Billing, st.Number)
	if err != nil {
		return nil
	}
	err = ob.Finalize(key, FinalState(st))
	if errors.Is(err, outbox.ErrNotFound) {
		return nil
	}
	return err
}

// FinalState names a final sheet's outcome in one word: rejected when a
// destination rejected it, else paid when one paid, else the state of the
// first destination.
func FinalState(st *client.Status) string {
	out := ""
	for _, d := range st.Destinations {
		switch {
		case d.State == "rejected":
			return "rejected"
		case d.State == "paid" || out == "":
			out = d.State
		}
	}
	return out
}

// FollowNotices marks final, in the outbox, the sheets the notices ns
// bring to a final state: it asks the gateway for the state of each sheet
// a notice names that the outbox holds and that is not final yet.
func FollowNotices(ctx context.Context, cl *client.Client, ob *outbox.Outbox, ns []client.Notice) error {
	seen := map[string]bool{}
	for _, n := range ns {
		key, err := outbox.Key(n.Billing, n.Number)
		if n.Number == "" || err != nil || seen[key] {
			continue
		}
		seen[key] = true
		e, err := ob.Get(key)
		if err != nil || e.State == outbox.Final {
			continue // not ours, or already final
		}
		st, err := cl.Sheet(ctx, n.Billing, n.Number)
		if errors.Is(err, client.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := Follow(ob, st); err != nil {
			return err
		}
	}
	return nil
}

// FollowOutbox asks the gateway for the state of every sheet of the outbox
// receipted and not final yet (of billing number billing; all when empty)
// and marks final those that are: the sheets whose notices were read and
// confirmed elsewhere (another outbox, the practice software) reach their
// final state in this outbox too. It returns how many stay receipted, and
// how many are final. A sheet the gateway no longer knows stays as it is
// ('workstation status' puts it back to be sent).
func FollowOutbox(ctx context.Context, cl *client.Client, ob *outbox.Outbox, billing string) (waiting, final int, err error) {
	es, err := ob.List()
	if err != nil {
		return 0, 0, err
	}
	for _, e := range es {
		if billing != "" && e.Billing != billing {
			continue
		}
		if e.State == outbox.Receipted {
			st, err := cl.Sheet(ctx, e.Billing, e.Number)
			switch {
			case errors.Is(err, client.ErrNotFound):
			case err != nil:
				return 0, 0, err
			case st.Final():
				if err := Follow(ob, st); err != nil {
					return 0, 0, err
				}
				final++
				continue
			}
			waiting++
		} else if e.State == outbox.Final {
			final++
		}
	}
	return waiting, final, nil
}
