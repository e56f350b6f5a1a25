package intake

import (
	"context"
	"slices"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/queue"
)

// recordRefusal keeps an intake refusal for the practice's view on the
// dashboard (codes and paths, no patient data), when the sender acts for
// the sheet's billing number: nobody fills another practice's list. A
// refusal of the queue itself (5xx: send again) is not listed. Best
// effort: the refusal was already decided.
func (s *Service) recordRefusal(ctx context.Context, sh queue.Sheet, sender string, errs []api.Error) {
	if sh.Billing == "" || sh.Number == "" || api.StatusOf(errs) >= 500 || !slices.Contains(s.Practices.Billings(sender), sh.Billing) {
		return
	}
	r := queue.Refusal{Billing: sh.Billing, Number: sh.Number, Time: time.Now().UTC()}
	for _, e := range errs {
		r.Codes = append(r.Codes, string(e.Code))
		r.Paths = append(r.Paths, e.Path)
	}
	_ = s.Queue.RecordRefusal(context.WithoutCancel(ctx), r)
}
