package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/queue"
)

// Refusal is a refused request: a title and every coded error found,
// answered as application/problem+json (api.Problem).
type Refusal struct {
	Title  string
	Errors []api.Error
	// Credentials marks a refusal of the caller's credentials (a client
	// certificate refused at the connection): 401, whatever the status
	// its codes have when a signed sheet raises them.
	Credentials bool
}

// Refuse is the Refusal titled title for errs.
func Refuse(title string, errs ...api.Error) *Refusal {
	return &Refusal{Title: title, Errors: errs}
}

func (r *Refusal) Error() string {
	codes := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		codes[i] = string(e.Code)
	}
	return r.Title + ": " + strings.Join(codes, ", ")
}

// The kinds of the few answers in plain text (a sheet's state not found,
// the admin endpoints): what happened, whose status StatusCode chooses. An
// error of a kind keeps its own message (kindOf).
var (
	errInvalid     = errors.New("invalid request")
	errConflict    = errors.New("conflict")
	errUnavailable = errors.New("unavailable")
)

var (
	errNoSuchSheet = kindOf(queue.ErrNotFound, errors.New("no such sheet"))
	errNotReady    = kindOf(errUnavailable, errors.New("not ready"))
	errNoWhat      = kindOf(errInvalid, errors.New("want ?what=LOT or ?what=BILLING.NUMBER"))
)

type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.err }

// kindOf is err, of kind (errInvalid, errConflict, errUnavailable).
func kindOf(kind, err error) error { return &kindError{kind: kind, err: err} }

// StatusCode is the HTTP status of an error answered by the gateway's
// HTTP layer: the one place where statuses are chosen. A Refusal's status
// is its first refusing code's (api.StatusOf), 401 for refused
// credentials; a plain error's is its kind's (queue.ErrNotFound: 404).
func StatusCode(err error) int {
	var ref *Refusal
	switch {
	case errors.As(err, &ref) && ref.Credentials:
		return http.StatusUnauthorized
	case errors.As(err, &ref):
		return api.StatusOf(ref.Errors)
	case errors.Is(err, queue.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errConflict):
		return http.StatusConflict
	case errors.Is(err, errUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Error answers err: a Refusal as application/problem+json, any other
// error as plain text (its message), with the status StatusCode chooses.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	var ref *Refusal
	if !errors.As(err, &ref) {
		http.Error(w, err.Error(), StatusCode(err))
		return
	}
	_, p := problemOf(ref)
	api.WriteProblem(w, *p)
}

// problemOf is the status and the problem+json body of ref (an answer's,
// or a batch item's).
func problemOf(ref *Refusal) (int, *api.Problem) {
	p := api.NewProblem(ref.Title, ref.Errors)
	p.Status = StatusCode(ref)
	return p.Status, &p
}
