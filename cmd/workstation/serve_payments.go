package main

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/workstation/reconcile"
)

// getPayments is GET /v1/payments of the local API: the gateway's
// transfers to the practice, every page read (?billing, ?from, ?to,
// ?insurer as the gateway's).
func (s *server) getPayments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pq := client.PaymentsQuery{From: q.Get("from"), To: q.Get("to"), Insurer: q.Get("insurer")}
	for _, p := range []struct{ name, v string }{{"from", pq.From}, {"to", pq.To}} {
		if _, err := time.Parse(time.DateOnly, p.v); p.v != "" && err != nil {
			problem(w, http.StatusBadRequest, "bad payments query", api.NewError("REQUEST_INVALID", p.name, p.name+" is a date YYYY-MM-DD", ""))
			return
		}
	}
	cl := s.client(r.Context())
	if cl == nil {
		cardProblem(w, errors.New("no card to authenticate to the gateway with"))
		return
	}
	ts, err := cl.AllPayments(r.Context(), q.Get("billing"), pq)
	if err != nil {
		s.gatewayProblem(w, err)
		return
	}
	if ts == nil {
		ts = []client.Transfer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": ts})
}

// reconcileResult is one result of POST /v1/payments/reconcile.
type reconcileResult struct {
	Status         reconcile.Status `json:"status"`
	Date           string           `json:"date"`
	BankRow        int              `json:"bank_row,omitempty"`
	BankAmount     *int64           `json:"bank_amount,omitempty"`
	Reference      string           `json:"reference,omitempty"`
	TransferAmount *int64           `json:"transfer_amount,omitempty"`
	ValueDate      string           `json:"value_date,omitempty"`
	Detail         string           `json:"detail"`
}

// postReconcile is POST /v1/payments/reconcile of the local API: the body
// is a bank statement (CSV, docs/workstation.md#reconciling-payments),
// matched with the transfers of its period (?billing, ?tolerance days).
func (s *server) postReconcile(w http.ResponseWriter, r *http.Request) {
	opt := reconcile.Options{}
	if v := r.URL.Query().Get("tolerance"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 366 {
			problem(w, http.StatusBadRequest, "bad tolerance", api.NewError("REQUEST_INVALID", "tolerance", "tolerance is 0 to 366 days", ""))
			return
		}
		opt.DateTolerance = n
		if n == 0 {
			opt.DateTolerance = -1
		}
	}
	lines, err := reconcile.ReadCSV(io.LimitReader(r.Body, 16<<20))
	if err == nil && len(lines) == 0 {
		err = &reconcile.FormatError{Row: 2, Msg: "no line under the header"}
	}
	if err != nil {
		var fe *reconcile.FormatError
		path := ""
		if errors.As(err, &fe) {
			path = "row " + strconv.Itoa(fe.Row)
			if fe.Column != "" {
				path += "/" + fe.Column
			}
		}
		problem(w, http.StatusBadRequest, "bank statement not read", api.NewError(reconcile.CodeBankCSV, path, err.Error(), "a CSV with a header row naming date and amount"))
		return
	}
	cl := s.client(r.Context())
	if cl == nil {
		cardProblem(w, errors.New("no card to authenticate to the gateway with"))
		return
	}
	from, to := reconcile.Period(lines, opt)
	ts, err := cl.AllPayments(r.Context(), r.URL.Query().Get("billing"), client.PaymentsQuery{From: from, To: to})
	if err != nil {
		s.gatewayProblem(w, err)
		return
	}
	rep := reconcile.Match(lines, ts, opt)
	out := make([]reconcileResult, 0, len(rep.Results))
	for _, x := range rep.Results {
		res := reconcileResult{Status: x.Status, Date: x.Date(), Detail: x.Detail}
		if x.Bank != nil {
			res.BankRow, res.BankAmount = x.Bank.Row, &x.Bank.Amount
		}
		if x.Transfer != nil {
			res.Reference, res.TransferAmount, res.ValueDate = x.Transfer.Reference, &x.Transfer.Total, x.Transfer.Date
		}
		out = append(out, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": rep.From, "to": rep.To, "bank_lines": rep.BankLines, "transfers": rep.Transfers,
		"differences": rep.Differences(), "counts": rep.Counts, "results": out})
}
