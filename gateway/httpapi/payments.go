package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/queue"
)

// getPayments lists the transfers paid to a billing number, in the order
// the gateway kept them (GET /v1/payments): ?after= the cursor of the last
// page, ?limit= (≤ 500), ?from= and ?to= value dates, ?insurer=.
func (s *Server) getPayments(w http.ResponseWriter, r *http.Request, c *caller) {
	billing, ok := billingOf(w, r, c)
	if !ok {
		return
	}
	q := r.URL.Query()
	var f queue.PaymentFilter
	var errs []api.Error
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			errs = append(errs, api.NewError(api.CodeRequestInvalid, "after", "after is the next value of an earlier page", ""))
		}
		f.After = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			errs = append(errs, api.NewError(api.CodeRequestInvalid, "limit", "limit is 1 to 500", ""))
		}
		f.Max = n
	}
	for _, p := range []struct {
		name string
		to   *string
	}{{"from", &f.From}, {"to", &f.To}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			errs = append(errs, api.NewError(api.CodeRequestInvalid, p.name, p.name+" is a date YYYY-MM-DD", ""))
		}
		*p.to = v
	}
	if v := q.Get("insurer"); v != "" {
		if !queue.ValidToken(v) {
			errs = append(errs, api.NewError(api.CodeRequestInvalid, "insurer", "not an insurer id", ""))
		}
		f.Insurer = v
	}
	if len(errs) > 0 {
		Error(w, r, Refuse("bad payments query", errs...))
		return
	}
	ts, next, err := s.Queue.Payments(r.Context(), billing, f)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		Error(w, r, Refuse("payments not read", api.NewError(queue.CodeUnavailable, "", "the payments stream did not answer", "try again")))
		return
	}
	if ts == nil {
		ts = []queue.Transfer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"billing": billing, "transfers": ts, "next": next})
}
