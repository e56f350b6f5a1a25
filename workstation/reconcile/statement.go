package reconcile

import (
	"errors"
	"io"
	"strconv"
)

// ErrNoLines is wrapped by the *FormatError of a statement with a header
// and no line under it (errors.Is): nothing to reconcile.
var ErrNoLines = errors.New("no line under the header")

// ReadStatement is ReadCSV for a statement to reconcile: one with no line
// under its header is a *FormatError too (row 2, wrapping ErrNoLines).
func ReadStatement(r io.Reader) ([]Line, error) {
	lines, err := ReadCSV(r)
	if err == nil && len(lines) == 0 {
		err = &FormatError{Row: 2, Msg: ErrNoLines.Error(), cause: ErrNoLines}
	}
	return lines, err
}

// Tolerance is the Options of a date tolerance of days as a user gives it:
// 0 means none (Options' 0 is the default of 2 days).
func Tolerance(days int) Options {
	if days == 0 {
		return Options{DateTolerance: -1}
	}
	return Options{DateTolerance: days}
}

// Path is where the statement is wrong, as a problem's path: "row N", or
// "row N/COLUMN".
func (e *FormatError) Path() string {
	p := "row " + strconv.Itoa(e.Row)
	if e.Column != "" {
		p += "/" + e.Column
	}
	return p
}
