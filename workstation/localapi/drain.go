package localapi

import (
	"context"
	"time"

	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// Drain sends the due sheets of the outbox, then waits every (or until a
// posted sheet wakes it), until ctx ends; after a transport failure it
// waits with backoff (outbox.Backoff: 2 s doubling to 5 min). A sheet of
// another practitioner than the card's holder is kept, logged once.
func (s *Server) Drain(ctx context.Context, every time.Duration) {
	s.init()
	ob := s.outbox()
	failures := 0
	for {
		wait := every
		if failures > 0 {
			wait = max(every, outbox.Backoff(failures))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-s.kick:
		}
		due, err := ob.Due()
		if err != nil || len(due) == 0 {
			continue
		}
		sender, err := s.session(ctx)
		if err != nil {
			failures++
			continue
		}
		keys := make([]string, len(due))
		for i, e := range due {
			keys[i] = e.Key
		}
		sent := 0
		err = sender.SendAll(ctx, keys, func(res workstation.SendResult) bool {
			switch res.Outcome {
			case workstation.Held:
				if !s.held[res.Key] {
					s.held[res.Key] = true
					s.logf("outbox: %s kept, not sent with this card: %v", res.Key, res.Held)
				}
				return true
			case workstation.Offline:
				failures++
				s.logf("gateway not reachable, %d sheets wait: %v", len(due)-sent, res.Cause)
				return false
			}
			sent++
			failures = 0
			return true
		})
		if err != nil {
			failures++
			s.logf("outbox: %v", err)
		}
		if sent > 0 {
			s.logf("outbox: %d sheets sent", sent)
		}
	}
}
