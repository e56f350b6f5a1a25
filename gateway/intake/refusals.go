package intake

import (
	"context"
	"slices"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

// transient are the refusals whose cause is the gateway's, not the
// sheet's: the queue did not confirm, or a revocation list is missing or
// stale. The sender sends the same sheet again.
var transient = map[problem.Code]bool{
	queue.CodeUnavailable:        true,
	queue.CodeStorageFull:        true,
	signature.CodeCRLStale:       true,
	signature.CodeCRLUnavailable: true,
}

// recordRefusal keeps an intake refusal for the practice's view on the
// dashboard (codes and paths, no patient data), when the sender acts for
// the sheet's billing number: nobody fills another practice's list. A
// transient refusal (its first reason is transient: send again) is not
// listed. Best effort: the refusal was already decided.
func (s *Service) recordRefusal(ctx context.Context, sh queue.Sheet, sender string, errs []api.Error) {
	if sh.Billing == "" || sh.Number == "" || (len(errs) > 0 && transient[errs[0].Code]) || !slices.Contains(s.Practices.Billings(sender), sh.Billing) {
		return
	}
	r := queue.Refusal{Billing: sh.Billing, Number: sh.Number, Time: time.Now().UTC()}
	for _, e := range errs {
		r.Codes = append(r.Codes, string(e.Code))
		r.Paths = append(r.Paths, e.Path)
	}
	_ = s.Queue.RecordRefusal(context.WithoutCancel(ctx), r)
}
