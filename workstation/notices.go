package workstation

import (
	"context"
	"fmt"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// ReadNotices reads one page of the notices of billing (waiting up to
// wait for one), hands them to write, marks final in the outbox the sheets
// they bring to a final state (FollowNotices), then confirms them to the
// gateway: a notice is confirmed only once written, so a crash before
// shows it again. It returns how many it read.
func ReadNotices(ctx context.Context, cl *client.Client, ob *outbox.Outbox, billing string, wait time.Duration, write func([]client.Notice) error) (int, error) {
	ns, err := cl.Notices(ctx, billing, wait)
	if err != nil || len(ns) == 0 {
		return 0, err
	}
	if err := write(ns); err != nil {
		return 0, err
	}
	var last uint64
	for _, n := range ns {
		last = max(last, n.Seq)
	}
	if err := FollowNotices(ctx, cl, ob, ns); err != nil {
		return len(ns), err
	}
	if err := cl.Confirm(ctx, ns[0].Billing, last); err != nil {
		return len(ns), fmt.Errorf("confirm notices: %w", err)
	}
	return len(ns), nil
}

// NotFinalError is UntilFinal's error when its context ends (interrupted,
// timed out) while sheets sent from the outbox are not final yet.
type NotFinalError struct {
	Waiting int   // receipted sheets not final yet
	Err     error // the context's error
}

func (e *NotFinalError) Error() string {
	return fmt.Sprintf("sheets sent from the outbox not final yet: %d: %v", e.Waiting, e.Err)
}

func (e *NotFinalError) Unwrap() error { return e.Err }

// UntilFinal reads the notices of billing (ReadNotices, each page handed
// to write) until every sheet the outbox sent (of billing; all when
// empty) has reached its final state and the notices that came with it
// are read (a payment's, its transfer's), and returns how many are final.
// It asks the gateway for the state of the receipted sheets first
// (FollowOutbox), and again whenever a wait brought no notice, so it ends
// at once when nothing is outstanding, and also when their notices were
// read elsewhere (another outbox, the practice software). When ctx ends
// first, the error is a *NotFinalError when sheets are not final yet,
// else ctx's error.
func UntilFinal(ctx context.Context, cl *client.Client, ob *outbox.Outbox, billing string, write func([]client.Notice) error) (final int, err error) {
	settle := true
	for {
		wait := time.Duration(0)
		if !settle {
			wait = 30 * time.Second
		}
		n, err := ReadNotices(ctx, cl, ob, billing, wait, write)
		if err != nil {
			if ctx.Err() != nil {
				if waiting, _, err := Waiting(ob, billing); err == nil && waiting > 0 {
					return 0, &NotFinalError{Waiting: waiting, Err: ctx.Err()}
				}
				return 0, ctx.Err()
			}
			return 0, err
		}
		var waiting int
		if settle {
			waiting, final, err = FollowOutbox(ctx, cl, ob, billing)
		} else {
			waiting, final, err = Waiting(ob, billing)
		}
		if err != nil && ctx.Err() == nil {
			return 0, err
		}
		if err == nil && waiting == 0 {
			// The notices of the last changes (a payment's, its
			// transfer's) are published just after the states the
			// outbox read: take them too before stopping.
			n, err := ReadNotices(ctx, cl, ob, billing, time.Second, write)
			if err != nil {
				return 0, err
			}
			if n > 0 {
				continue
			}
			return final, nil
		}
		settle = n == 0 && !settle
	}
}
