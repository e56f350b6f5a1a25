package main

import (
	"context"
	"slices"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/queue"
)

// recordRefusal keeps an intake refusal for the practice's view on the
// dashboard (codes and paths, no patient data), when the caller acts for
// the sheet's billing number: nobody fills another practice's list. A
// refusal of the queue itself (5xx: send again) is not listed. Best
// effort: the refusal was already decided.
func (p *pipeline) recordRefusal(ctx context.Context, s queue.Sheet, caller string, errs []api.Error) {
	if s.Billing == "" || s.Number == "" || api.StatusOf(errs) >= 500 || !slices.Contains(p.practices.Billings(caller), s.Billing) {
		return
	}
	r := queue.Refusal{Billing: s.Billing, Number: s.Number, Time: time.Now().UTC()}
	for _, e := range errs {
		r.Codes = append(r.Codes, e.Code)
		r.Paths = append(r.Paths, e.Path)
	}
	_ = p.queue.RecordRefusal(context.WithoutCancel(ctx), r)
}
