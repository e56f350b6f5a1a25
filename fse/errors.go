package fse

import (
	"errors"
	"strconv"
	"strings"

	"github.com/fsegate/fsegate/problem"
)

var errValue = errors.New("value is not of its type")

// FieldError is one violation: a code, the path of the field at fault
// ("patient/nir", "lines/2/amount"), the offending value (a NIR is masked),
// a message and a hint. Line is the line in the XML input for format errors
// when it is known (0 otherwise).
//
// It is kept apart from problem.Problem, the coded problem of the other
// libraries, because a validation failure is data (style.md §9): it holds
// the value at fault, the line of the input and the sentinel of its code
// (errors.Is(err, fse.ErrNIRKey)), which the workstation's check and the
// tests read; the HTTP layer keeps only code, path, message and hint.
type FieldError struct {
	Code    problem.Code // stable code, the name of Err
	Path    string       // slash-separated path of the field, lines counted from 1
	Value   string       // the value at fault; NIRs are masked
	Message string       // lowercase, no final period
	Hint    string       // how to fix it
	Line    int          // line in the XML input, 0 when unknown
	Err     *CodeInfo
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(e.Path)
	}
	if e.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// ErrorCode is the violation's code (problem.CodeOf).
func (e *FieldError) ErrorCode() problem.Code { return e.Code }

// Unwrap gives the code's sentinel.
func (e *FieldError) Unwrap() error { return e.Err }

// ValidationError holds every violation found in one sheet.
type ValidationError struct {
	Errors []*FieldError
}

func (e *ValidationError) Error() string {
	if len(e.Errors) == 1 {
		return "care sheet invalid: " + e.Errors[0].Error()
	}
	var b strings.Builder
	b.WriteString("care sheet invalid: ")
	b.WriteString(strconv.Itoa(len(e.Errors)))
	b.WriteString(" errors: ")
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap gives every violation, for errors.Is and errors.As.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		out[i] = fe
	}
	return out
}

// Has reports whether one of the violations has code c.
func (e *ValidationError) Has(c *CodeInfo) bool {
	for _, fe := range e.Errors {
		if fe.Err == c {
			return true
		}
	}
	return false
}

func newFieldError(c *CodeInfo, path, value, msg string) *FieldError {
	return &FieldError{Code: c.Code, Path: path, Value: value, Message: msg, Hint: c.Hint, Err: c}
}

// single wraps one format error as a *ValidationError.
func single(c *CodeInfo, path string, line int, msg string) error {
	fe := newFieldError(c, path, "", msg)
	fe.Line = line
	return &ValidationError{Errors: []*FieldError{fe}}
}
