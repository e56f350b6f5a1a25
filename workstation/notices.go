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
