package problem

import (
	"errors"
	"strings"
)

// Code is a stable error code. A Code is also an error, so that
// errors.Is(err, code) tells whether err holds a problem of that code.
type Code string

func (c Code) Error() string { return string(c) }

// ErrorCode is c itself: a Code returned as an error carries its code.
func (c Code) ErrorCode() Code { return c }

// DocURL is where the code is explained, relative to the repository.
func (c Code) DocURL() string { return "docs/errors.md#" + string(c) }

// Info is a code's entry in the list of the package that raises it.
type Info struct {
	Code  Code
	Title string // one line, lowercase, no final period
	// Warning codes never refuse anything; they travel in a receipt.
	Warning bool
}

// Problem is one coded problem: its code, the slash-separated path of the
// field at fault ("patient/nir", "lines/2/amount"; may be empty), a message
// (lowercase, no final period, no patient data) and a hint saying what to
// do (may be empty). It is the problem of every library that has no more
// to say than that (signature, gateway/rx, gateway/practices); the HTTP
// layer turns it into the wire's api.Error.
type Problem struct {
	Code    Code
	Path    string
	Message string
	Hint    string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(string(p.Code))
	if p.Path != "" {
		b.WriteString(" at ")
		b.WriteString(p.Path)
	}
	if p.Message != "" {
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// ErrorCode is the problem's code (CodeOf).
func (p Problem) ErrorCode() Code { return p.Code }

// Is lets errors.Is(err, signature.CodeCertRevoked) match a problem of that
// code.
func (p Problem) Is(target error) bool {
	c, ok := target.(Code)
	return ok && p.Code == c
}

// Error is a sentinel error that carries its code: a package defines its
// sentinels with New (queue.ErrDuplicate = problem.New(CodeDuplicate, …)),
// callers compare them with errors.Is and read their code with CodeOf, so
// that no caller maps sentinels to codes by hand.
type Error struct {
	code Code
	msg  string
}

// New is a sentinel of code whose message is msg (lowercase, no final
// period).
func New(code Code, msg string) *Error { return &Error{code: code, msg: msg} }

func (e *Error) Error() string { return e.msg }

// ErrorCode is the sentinel's code (CodeOf).
func (e *Error) ErrorCode() Code { return e.code }

// Is lets errors.Is(err, queue.CodeDuplicate) match as well as
// errors.Is(err, queue.ErrDuplicate).
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && e.code == c
}

// coder is an error that carries a code.
type coder interface {
	error
	ErrorCode() Code
}

// CodeOf is the code of the first error of err's tree that carries one
// (a Problem, an *Error, an *fse.FieldError, an *oidcauth.Error …), "" when
// none does.
func CodeOf(err error) Code {
	var c coder
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return ""
}
