package api

import (
	"encoding/json"
	"net/http"

	"github.com/fsegate/fsegate/problem"
)

// Error is one reason of a refusal (or a warning in a receipt), as the
// wire carries it. It is kept apart from problem.Problem, the libraries'
// coded problem, for the wire: its JSON names and the link to the code's
// documentation (Doc). The gateway's client decodes the same type.
type Error struct {
	Code    problem.Code `json:"code"`
	Path    string       `json:"path,omitempty"`
	Message string       `json:"message,omitempty"`
	Hint    string       `json:"hint,omitempty"`
	Doc     string       `json:"doc,omitempty"`
}

// NewError makes an Error for code with its documentation anchor.
func NewError(code problem.Code, path, message, hint string) Error {
	return Error{Code: code, Path: path, Message: message, Hint: hint, Doc: code.DocURL()}
}

// ErrorOf is the wire form of a library's problem.
func ErrorOf(p problem.Problem) Error { return NewError(p.Code, p.Path, p.Message, p.Hint) }

// Problem is the application/problem+json body of every refusal (RFC 9457),
// with every error found. It is the body, not a coded problem: its items
// (Error) carry the codes.
type Problem struct {
	Type   string  `json:"type"`
	Title  string  `json:"title"`
	Status int     `json:"status"`
	Detail string  `json:"detail,omitempty"`
	Errors []Error `json:"errors"`
}

// ProblemType is the type URI of every problem.
const ProblemType = "https://fsegate.example/docs/errors.md"

// StatusOf is the HTTP status of a refusal for errs: the status of the
// first code that has one (warnings have none; 422 when no code has one).
func StatusOf(errs []Error) int {
	for _, e := range errs {
		if s, ok := statuses[e.Code]; ok {
			return s
		}
	}
	return http.StatusUnprocessableEntity
}

// NewProblem builds the problem for errs.
func NewProblem(title string, errs []Error) Problem {
	return Problem{Type: ProblemType, Title: title, Status: StatusOf(errs), Errors: errs}
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
