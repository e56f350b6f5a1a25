package api

import (
	"encoding/json"
	"net/http"
)

// Error is one reason of a refusal (or a warning in a receipt).
type Error struct {
	Code    string `json:"code"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message,omitempty"`
	Hint    string `json:"hint,omitempty"`
	Doc     string `json:"doc,omitempty"`
}

// NewError makes an Error for code with its documentation anchor.
func NewError(code, path, message, hint string) Error {
	return Error{Code: code, Path: path, Message: message, Hint: hint, Doc: "docs/errors.md#" + code}
}

// Problem is the application/problem+json body of every refusal (RFC 9457),
// with every error found.
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
// first registered code that is not a warning (422 when none is known).
func StatusOf(errs []Error) int {
	for _, e := range errs {
		if c, ok := Lookup(e.Code); ok && !c.Warning {
			return c.Status
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
