package localapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/workstation"
)

// The codes the local API raises itself (docs/errors.md, "Workstation
// local API"), declared once; Codes lists them. The others are the
// sheet's rules', the card holder check's, the gateway's and the HTTP
// edge's (api.CodeRequestInvalid, api.CodeBodyTooLarge).
const (
	CodeTokenInvalid       problem.Code = "TOKEN_INVALID"
	CodeHostRefused        problem.Code = "HOST_REFUSED"
	CodeOriginRefused      problem.Code = "ORIGIN_REFUSED"
	CodeCardUnavailable    problem.Code = "CARD_UNAVAILABLE"
	CodeOutboxConflict     problem.Code = "OUTBOX_CONFLICT"
	CodeOutboxUnavailable  problem.Code = "OUTBOX_UNAVAILABLE"
	CodeGatewayUnreachable problem.Code = "GATEWAY_UNREACHABLE"
	CodeSheetUnknown       problem.Code = "SHEET_UNKNOWN"
	CodeRequestInvalid                  = api.CodeRequestInvalid
	CodeBodyTooLarge                    = api.CodeBodyTooLarge
)

// Codes lists every code this package declares, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeTokenInvalid, Title: "missing or wrong bearer token for the workstation's local API"},
		{Code: CodeHostRefused, Title: "the Host header does not name the workstation's loopback address"},
		{Code: CodeOriginRefused, Title: "a web page may not call the workstation's local API"},
		{Code: CodeCardUnavailable, Title: "the CPS card could not sign (absent, removed, PIN refused)"},
		{Code: CodeOutboxConflict, Title: "another sheet with the same number is already in the workstation's outbox"},
		{Code: CodeOutboxUnavailable, Title: "the workstation's outbox could not be written or read"},
		{Code: CodeGatewayUnreachable, Title: "the workstation could not reach the gateway"},
		{Code: CodeSheetUnknown, Title: "neither the workstation's outbox nor the gateway knows this sheet"},
	}
}

// Kind is what went wrong with a request; ErrorStatus maps it to the HTTP
// status of the answer.
type Kind int

const (
	// KindOutbox: the outbox could not be read or written (500).
	KindOutbox Kind = iota
	// KindRequest: the request is not of the documented form: a query
	// parameter, a sheet id, a JSON body, a bank statement (400).
	KindRequest
	// KindToken: no bearer token, or the wrong one (401).
	KindToken
	// KindOrigin: a web page called (an Origin header) (403).
	KindOrigin
	// KindUnknown: no such sheet (404).
	KindUnknown
	// KindConflict: the outbox holds another sheet under this number (409).
	KindConflict
	// KindTooLarge: the body is over the size limit (413).
	KindTooLarge
	// KindHost: the Host header does not name this loopback address (421).
	KindHost
	// KindSheet: not a care sheet, a sheet the rules refuse, or a sheet
	// the gateway refused (422).
	KindSheet
	// KindSigner: the card in the reader may not sign the sheet (another
	// practitioner, a card type that may not bill, a billing situation it
	// lacks) (403).
	KindSigner
	// KindGateway: the gateway could not be reached (502).
	KindGateway
	// KindCard: the card could not sign or authenticate (503).
	KindCard
	// KindRelayed: the gateway refused the request relayed to it: its own
	// status (Error.Status).
	KindRelayed
)

// Error is a refusal of the local API: what went wrong, a title and
// every reason (each with its code).
type Error struct {
	Kind   Kind
	Title  string
	Errors []api.Error
	// Status is the gateway's status for a refusal of the gateway
	// (KindRelayed, and KindSheet when the gateway refused the sheet);
	// the answer's body carries it. 0 otherwise.
	Status int
}

func (e *Error) Error() string {
	if len(e.Errors) > 0 {
		return e.Title + ": " + string(e.Errors[0].Code)
	}
	return e.Title
}

// ErrorStatus is the HTTP status of the answer to err: the one place the
// local API chooses one. An error that is not an *Error is the outbox's
// (500).
func ErrorStatus(err error) int {
	var e *Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError
	}
	switch e.Kind {
	case KindRequest:
		return http.StatusBadRequest
	case KindToken:
		return http.StatusUnauthorized
	case KindOrigin, KindSigner:
		return http.StatusForbidden
	case KindUnknown:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindHost:
		return http.StatusMisdirectedRequest
	case KindSheet:
		return http.StatusUnprocessableEntity
	case KindGateway:
		return http.StatusBadGateway
	case KindCard:
		return http.StatusServiceUnavailable
	case KindRelayed:
		return e.Status
	}
	return http.StatusInternalServerError
}

// refuse is an *Error of kind with one reason.
func refuse(kind Kind, title string, code problem.Code, path, message, hint string) *Error {
	return &Error{Kind: kind, Title: title, Errors: []api.Error{api.NewError(code, path, message, hint)}}
}

// outboxError is the refusal when the outbox failed.
func outboxError(err error, hint string) *Error {
	return refuse(KindOutbox, "outbox", CodeOutboxUnavailable, "", err.Error(), hint)
}

// sheetErrors are the problems of err (workstation.ProblemsOf) as reasons;
// hint is given to those without one.
func sheetErrors(err error, hint string) []api.Error {
	var out []api.Error
	for _, p := range workstation.ProblemsOf(err) {
		h := p.Hint
		if h == "" {
			h = hint
		}
		out = append(out, api.Error{Code: p.Code, Path: p.Path, Message: p.Message, Hint: h, Doc: p.Code.DocURL()})
	}
	return out
}

// relayed is the gateway's refusal p as the reasons of an answer; withDoc
// keeps each reason's documentation link.
func relayed(p *client.Problem, withDoc bool) []api.Error {
	var out []api.Error
	for _, it := range p.Errors {
		e := api.Error{Code: it.Code, Path: it.Path, Message: it.Message, Hint: it.Hint}
		if withDoc {
			e.Doc = it.Doc
		}
		out = append(out, e)
	}
	return out
}

// writeError answers err as an application/problem+json body, with the
// status ErrorStatus gives.
func writeError(w http.ResponseWriter, err error) {
	status := ErrorStatus(err)
	p := api.Problem{Type: api.ProblemType, Status: status}
	var e *Error
	if errors.As(err, &e) {
		p.Title, p.Errors = e.Title, e.Errors
		if e.Status != 0 {
			p.Status = e.Status
		}
	} else {
		p.Title, p.Errors = "outbox", []api.Error{api.NewError(CodeOutboxUnavailable, "", err.Error(), "")}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
