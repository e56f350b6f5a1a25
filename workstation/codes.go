package workstation

import (
	"errors"
	"strconv"
	"strings"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/signature"
)

// Code is problem.Code: a stable error code of the workstation's flow.
// docs/errors.md explains each one under a heading of the same name.
type Code = problem.Code

// The codes of this package. The rules' codes are fse's, the signature's
// and the signer's (SIGNER_MISMATCH, CARD_TYPE_FORBIDDEN) signature's.
const (
	// A file the command was given cannot be read: the code both
	// binaries' commands share (internal/cli lists it).
	CodeFileUnreadable       = cli.CodeFileUnreadable
	CodeAlreadySigned   Code = "ALREADY_SIGNED"
	CodeAlreadyInOutbox Code = "ALREADY_IN_OUTBOX"
	// The card's billing situations (Session.Check).
	CodeSituationUnknown    Code = "SITUATION_UNKNOWN"
	CodeSituationMayNotSign Code = "SITUATION_MAY_NOT_SIGN"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeAlreadySigned, Title: "the care sheet is already signed"},
		{Code: CodeAlreadyInOutbox, Title: "another sheet with the same billing number and number is already in the outbox"},
		{Code: CodeSituationUnknown, Title: "the card holds no billing situation for the sheet's billing number (or not of the kind the sheet needs)"},
		{Code: CodeSituationMayNotSign, Title: "the card's billing situation for the sheet's billing number may not sign invoices"},
	}
}

// Problem is one reason a sheet may not go on (or one warning): a stable
// code, the path of the field at fault when there is one, a message and a
// hint. Err is what it comes from: a *fse.FieldError, a signature.Problem
// or a Code, so errors.Is(p, fse.ErrNIRKey), errors.Is(p,
// signature.CodeSignerMismatch) and errors.Is(p, CodeAlreadySigned) work.
//
// It is kept apart from problem.Problem because it carries more: the line
// of the XML input ('workstation check' prints it) and the error it comes
// from, which errors.Is and errors.As reach through Unwrap.
type Problem struct {
	Code    problem.Code
	Path    string // slash-separated; may be empty
	Message string // lowercase, no final period
	Hint    string // what to do; may be empty
	Line    int    // line in the XML input, 0 when unknown
	Err     error
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(string(p.Code))
	if p.Path != "" {
		b.WriteString(" at ")
		b.WriteString(p.Path)
	}
	if p.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(")")
	}
	if p.Message != "" {
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// ErrorCode is the problem's code (problem.CodeOf).
func (p Problem) ErrorCode() problem.Code { return p.Code }

// Unwrap gives the error the problem comes from.
func (p Problem) Unwrap() error { return p.Err }

// SheetError holds every reason one sheet was stopped before the card
// signed it (or, for a sheet of the outbox, before it was sent).
type SheetError struct {
	Name     string // the file, the outbox key, or empty
	Problems []Problem
}

func (e *SheetError) Error() string {
	var b strings.Builder
	if e.Name != "" {
		b.WriteString(e.Name)
		b.WriteString(": ")
	}
	if len(e.Problems) > 1 {
		b.WriteString(strconv.Itoa(len(e.Problems)))
		b.WriteString(" problems: ")
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap gives every problem, for errors.Is and errors.As.
func (e *SheetError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// Has reports whether one of the problems has code c.
func (e *SheetError) Has(c problem.Code) bool {
	for _, p := range e.Problems {
		if p.Code == c {
			return true
		}
	}
	return false
}

// ProblemsOf lists the problems an error of this package, of fse
// (*fse.ValidationError, *fse.FieldError) or of signature
// (*signature.VerifyError) holds. Another error is one SHEET_MALFORMED
// problem with its message.
func ProblemsOf(err error) []Problem {
	var (
		se *SheetError
		ve *fse.ValidationError
		fe *fse.FieldError
		xe *signature.VerifyError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se.Problems
	case errors.As(err, &ve):
		out := make([]Problem, len(ve.Errors))
		for i, fe := range ve.Errors {
			out[i] = fieldProblem(fe)
		}
		return out
	case errors.As(err, &fe):
		return []Problem{fieldProblem(fe)}
	case errors.As(err, &xe):
		out := make([]Problem, len(xe.Problems))
		for i, p := range xe.Problems {
			path := p.Path
			if path == "" {
				path = "Signature"
			}
			out[i] = Problem{Code: p.Code, Path: path, Message: p.Message, Hint: p.Code.DocURL(), Err: p}
		}
		return out
	}
	return []Problem{{Code: fse.ErrMalformed.Code, Message: err.Error(), Err: err}}
}

func fieldProblem(fe *fse.FieldError) Problem {
	return Problem{Code: fe.Code, Path: fe.Path, Message: fe.Message, Hint: fe.Hint, Line: fe.Line, Err: fe}
}

// sheetError is a *SheetError for name holding the problems of errs; nil
// when there are none.
func sheetError(name string, ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	return &SheetError{Name: name, Problems: ps}
}
