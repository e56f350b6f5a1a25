package localapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// maxSheet is the largest care sheet POST /v1/sheets takes.
const maxSheet = 1 << 20

// SheetResult is the answer to POST /v1/sheets and GET /v1/sheets/{number}.
type SheetResult struct {
	Key      string          `json:"key"`
	Billing  string          `json:"billing"`
	Number   string          `json:"number"`
	State    outbox.State    `json:"state"` // pending, receipted, refused, final
	Final    string          `json:"final_state,omitempty"`
	Receipt  json.RawMessage `json:"receipt,omitempty"`
	Gateway  json.RawMessage `json:"gateway,omitempty"` // the gateway's state and history
	Codes    []string        `json:"codes,omitempty"`
	Waiting  string          `json:"waiting,omitempty"` // why it is not sent yet
	Attempts int             `json:"attempts"`
}

func resultOf(e *outbox.Entry) SheetResult {
	return SheetResult{Key: e.Key, Billing: e.Billing, Number: e.Number, State: e.State, Final: e.FinalState,
		Receipt: json.RawMessage(e.Receipt), Codes: e.Codes, Waiting: e.LastError, Attempts: e.Attempts}
}

// conflict is the refusal of a sheet whose number the outbox holds for
// another sheet.
func conflict(err error) *Error {
	return refuse(KindConflict, "another sheet with this number is in the outbox", CodeOutboxConflict, "number", err.Error(), "a sheet number is used once; a refused sheet may be corrected")
}

// postSheet is POST /v1/sheets: check, sign, keep, send.
func (s *Server) postSheet(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSheet+1))
	if err != nil || len(body) > maxSheet {
		return refuse(KindTooLarge, "body too large", CodeBodyTooLarge, "", "a care sheet is 1 MiB at most", "")
	}
	sh, err := workstation.Decode("", body)
	if err != nil {
		return &Error{Kind: KindSheet, Title: "not a care sheet", Errors: sheetErrors(err, "post a care sheet in XML (urn:fsegate:fse:1) or JSON")}
	}
	step, e, err := s.Flow.Plan(sh)
	var se *workstation.SheetError
	switch {
	case errors.Is(err, workstation.CodeAlreadyInOutbox):
		return conflict(err)
	case errors.As(err, &se):
		return &Error{Kind: KindSheet, Title: "invalid care sheet", Errors: sheetErrors(err, "")}
	case err != nil:
		return outboxError(err, "check the outbox directory (disk full?)")
	case step != workstation.StepSign:
		// The same sheet posted again (the caller lost our answer).
		return answer(w, e)
	}
	if err := s.Flow.Check(sh); err != nil {
		return &Error{Kind: KindSheet, Title: "invalid care sheet: nothing was signed", Errors: sheetErrors(err, "")}
	}
	doc, sender, err := s.sign(r, sh)
	if err != nil {
		return err
	}
	_, err = s.Flow.Put(sh, doc)
	switch {
	case errors.Is(err, outbox.ErrConflict):
		return conflict(err)
	case err != nil:
		return outboxError(err, "check the outbox directory (disk full?)")
	}
	res, err := sender.Send(r.Context(), sh.Key)
	if err != nil {
		return outboxError(err, "")
	}
	if res.Outcome == workstation.Refused {
		return &Error{Kind: KindSheet, Title: "refused by the gateway", Status: res.Problem.Status, Errors: relayed(res.Problem, true)}
	}
	if e, err = s.outbox().Get(sh.Key); err != nil {
		return outboxError(err, "")
	}
	return answer(w, e)
}

// sign signs sh with the card, once its holder is found to be the sheet's
// practitioner (from the certificate, before the PIN).
func (s *Server) sign(r *http.Request, sh *workstation.Sheet) ([]byte, *workstation.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, sender, err := s.openCard(r.Context())
	if err != nil {
		return nil, nil, s.cardError(err)
	}
	if err := sess.Check(sh); err != nil {
		return nil, nil, &Error{Kind: KindSigner, Title: "the card in the reader may not sign this sheet: nothing was signed", Errors: sheetErrors(err, "")}
	}
	doc, err := sess.Sign(r.Context(), sh)
	if err != nil {
		if errors.Is(err, card.ErrCardRemoved) || errors.Is(err, card.ErrNoCard) {
			s.dropCard()
		}
		return nil, nil, s.cardError(err)
	}
	return doc, sender, nil
}

// answer writes an outbox entry: 201 receipted (or final), 202 pending,
// 422 refused.
func answer(w http.ResponseWriter, e *outbox.Entry) error {
	status := http.StatusCreated
	switch e.State {
	case outbox.Pending:
		status = http.StatusAccepted
	case outbox.Refused:
		var errs []api.Error
		for _, c := range e.Codes {
			errs = append(errs, api.NewError(problem.Code(c), "", "refused by the gateway before", "correct the sheet and post it again"))
		}
		return &Error{Kind: KindSheet, Title: "refused by the gateway", Errors: errs}
	}
	writeJSON(w, status, resultOf(e))
	return nil
}

// getSheet is GET /v1/sheets/{number}: the outbox's record and the
// gateway's state; the outbox follows the gateway.
func (s *Server) getSheet(w http.ResponseWriter, r *http.Request) error {
	billing := r.URL.Query().Get("billing")
	idBilling, number, err := fse.ParseSheetID(r.PathValue("number"))
	if err != nil {
		return refuse(KindRequest, "bad sheet id", CodeRequestInvalid, "number", err.Error(), "name the sheet as 751000019-000100002 or by its number")
	}
	if idBilling != "" {
		if billing != "" && billing != idBilling {
			return refuse(KindRequest, "billing numbers differ", CodeRequestInvalid, "billing", "?billing= names another billing number than the sheet id", "")
		}
		billing = idBilling
	}
	ob := s.outbox()
	key, ok := workstation.KeyFor(ob, billing, number)
	var res SheetResult
	if ok {
		if e, err := ob.Get(key); err == nil {
			res = resultOf(e)
		}
	}
	if res.Key == "" {
		res = SheetResult{Billing: billing, Number: number}
	}
	if res.State != outbox.Pending {
		if cl := s.client(r.Context()); cl != nil {
			st, err := cl.Sheet(r.Context(), res.Billing, number)
			switch {
			case err == nil:
				res.Gateway = st.Raw
				if st.Billing != "" {
					res.Billing = st.Billing
				}
				if err := workstation.Follow(ob, st); err == nil && res.Key != "" {
					if e, err := ob.Get(res.Key); err == nil {
						res.State, res.Final = e.State, e.FinalState
					}
				}
			case errors.Is(err, client.ErrNotFound) && res.Key != "":
				if again, _ := workstation.Forgotten(ob, res.Key); again {
					res.State = outbox.Pending
					res.Waiting = "the gateway no longer knows it: it is sent again"
					s.wake()
				}
			}
		}
	}
	if res.Key == "" && res.Gateway == nil {
		return refuse(KindUnknown, "no such sheet", CodeSheetUnknown, "number", "neither the outbox nor the gateway knows this sheet", "")
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// getOutbox is GET /v1/outbox: every sheet of the outbox.
func (s *Server) getOutbox(w http.ResponseWriter, _ *http.Request) error {
	all, err := s.outbox().List()
	if err != nil {
		return outboxError(err, "")
	}
	out := struct {
		Sheets []SheetResult `json:"sheets"`
	}{Sheets: []SheetResult{}}
	for _, e := range all {
		out.Sheets = append(out.Sheets, resultOf(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
