package localapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/reconcile"
)

// The routes that relay the gateway through the card's session: notices,
// payments, prescriptions and SCOR pieces.

// getNotices is GET /v1/notices: the notices not confirmed yet (?billing,
// ?wait up to 60 s); the outbox follows them.
func (s *Server) getNotices(w http.ResponseWriter, r *http.Request) error {
	cl := s.client(r.Context())
	if cl == nil {
		return s.noCard()
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return refuse(KindRequest, "bad wait", CodeRequestInvalid, "wait", "wait is a duration like 30s", "")
		}
		wait = min(d, 60*time.Second)
	}
	ns, err := cl.Notices(r.Context(), r.URL.Query().Get("billing"), wait)
	if err != nil {
		return s.gatewayError(err)
	}
	if ns == nil {
		ns = []client.Notice{}
	}
	_ = workstation.FollowNotices(r.Context(), cl, s.outbox(), ns)
	writeJSON(w, http.StatusOK, map[string]any{"notices": ns})
	return nil
}

// postAck is POST /v1/notices/ack: confirm the notices up to seq.
func (s *Server) postAck(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Billing string `json:"billing"`
		Seq     uint64 `json:"seq"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.Seq == 0 {
		return refuse(KindRequest, "bad request", CodeRequestInvalid, "", `want {"billing": "…", "seq": N}`, "")
	}
	cl := s.client(r.Context())
	if cl == nil {
		return s.noCard()
	}
	if err := cl.Confirm(r.Context(), req.Billing, req.Seq); err != nil {
		return s.gatewayError(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"billing": req.Billing, "confirmed": req.Seq})
	return nil
}

// Health is the answer to GET /v1/health.
type Health struct {
	Card    string         `json:"card"`
	Outbox  map[string]int `json:"outbox"`
	Gateway string         `json:"gateway"`
}

// getHealth is GET /v1/health: the card, the outbox's counts, the gateway.
func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	h := Health{Card: "ok", Gateway: s.Gateway, Outbox: map[string]int{}}
	if _, err := s.session(r.Context()); err != nil {
		h.Card = err.Error()
	}
	if all, err := s.outbox().List(); err == nil {
		for _, e := range all {
			h.Outbox[string(e.State)]++
		}
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// getPayments is GET /v1/payments: the gateway's transfers to the
// practice, every page read (?billing, ?from, ?to, ?insurer as the
// gateway's).
func (s *Server) getPayments(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pq := client.PaymentsQuery{From: q.Get("from"), To: q.Get("to"), Insurer: q.Get("insurer")}
	for _, p := range []struct{ name, v string }{{"from", pq.From}, {"to", pq.To}} {
		if _, err := time.Parse(time.DateOnly, p.v); p.v != "" && err != nil {
			return refuse(KindRequest, "bad payments query", CodeRequestInvalid, p.name, p.name+" is a date YYYY-MM-DD", "")
		}
	}
	cl := s.client(r.Context())
	if cl == nil {
		return s.noCard()
	}
	ts, err := cl.AllPayments(r.Context(), q.Get("billing"), pq)
	if err != nil {
		return s.gatewayError(err)
	}
	if ts == nil {
		ts = []client.Transfer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": ts})
	return nil
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

// postReconcile is POST /v1/payments/reconcile: the body is a bank
// statement (CSV, docs/workstation.md#reconciling-payments), matched with
// the transfers of its period (?billing, ?tolerance days).
func (s *Server) postReconcile(w http.ResponseWriter, r *http.Request) error {
	opt := reconcile.Options{}
	if v := r.URL.Query().Get("tolerance"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 366 {
			return refuse(KindRequest, "bad tolerance", CodeRequestInvalid, "tolerance", "tolerance is 0 to 366 days", "")
		}
		opt = reconcile.Tolerance(n)
	}
	lines, err := reconcile.ReadStatement(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		var fe *reconcile.FormatError
		path := ""
		if errors.As(err, &fe) {
			path = fe.Path()
		}
		return refuse(KindRequest, "bank statement not read", reconcile.CodeBankCSV, path, err.Error(), "a CSV with a header row naming date and amount")
	}
	cl := s.client(r.Context())
	if cl == nil {
		return s.noCard()
	}
	from, to := reconcile.Period(lines, opt)
	ts, err := cl.AllPayments(r.Context(), r.URL.Query().Get("billing"), client.PaymentsQuery{From: from, To: to})
	if err != nil {
		return s.gatewayError(err)
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
	return nil
}

// forward sends the body (limit bytes at most) to the gateway with the
// card's client and relays the gateway's answer (or refusal).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, limit int64, send func(cl *client.Client, body []byte) (any, error)) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		return refuse(KindTooLarge, "body too large", CodeBodyTooLarge, "", "the body is over the size limit", "")
	}
	sender, err := s.session(r.Context())
	if err != nil {
		return s.cardError(err)
	}
	cl, err := sender.Client(r.Context())
	if err != nil {
		return refuse(KindGateway, "gateway not reachable", CodeGatewayUnreachable, "", err.Error(), "check the gateway's address and the network")
	}
	out, err := send(cl, body)
	var p *client.Problem
	switch {
	case errors.As(err, &p):
		return &Error{Kind: KindRelayed, Title: p.Title, Status: p.Status, Errors: relayed(p, true)}
	case err != nil:
		return refuse(KindGateway, "gateway not reachable", CodeGatewayUnreachable, "", err.Error(), "the gateway did not answer; send again")
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// postPrescription is POST /v1/prescriptions: a signed prescription PDF
// carried to the gateway.
func (s *Server) postPrescription(w http.ResponseWriter, r *http.Request) error {
	return s.forward(w, r, 8<<20, func(cl *client.Client, body []byte) (any, error) {
		raw, err := cl.SendPrescription(r.Context(), body)
		return raw, err
	})
}

// postSCOR is POST /v1/sheets/{number}/scor: the SCOR piece of sheet
// {number} (?billing= when the card holds several billing numbers).
func (s *Server) postSCOR(w http.ResponseWriter, r *http.Request) error {
	return s.forward(w, r, lot.MaxPieceBytes, func(cl *client.Client, body []byte) (any, error) {
		st, err := cl.SendSCOR(r.Context(), r.URL.Query().Get("billing"), r.PathValue("number"), body)
		if err != nil {
			return nil, err
		}
		return map[string]any{"number": r.PathValue("number"), "scor": st}, nil
	})
}
