package reconcile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fsegate/fsegate/problem"
)

// Codes of this package (docs/errors.md, "Workstation commands"), declared
// once; Codes lists them.
const (
	// CodeBankCSV: the bank statement is not a CSV of the documented form.
	CodeBankCSV problem.Code = "BANK_CSV_INVALID"
	// CodeDifferences: the statement and the transfers differ (the
	// differences are listed).
	CodeDifferences problem.Code = "RECONCILE_DIFFERENCES"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeBankCSV, Title: "the bank statement is not a CSV of the documented form"},
		{Code: CodeDifferences, Title: "the bank statement and the transfers differ"},
	}
}

// ErrBankCSV is wrapped by every *FormatError (errors.Is).
var ErrBankCSV = problem.New(CodeBankCSV, string(CodeBankCSV))

// FormatError is why a statement could not be read: its row (1 is the
// header) and column.
type FormatError struct {
	Row    int
	Column string
	Msg    string
	cause  error // besides ErrBankCSV: ErrNoLines
}

func (e *FormatError) Error() string {
	where := fmt.Sprintf("row %d", e.Row)
	if e.Column != "" {
		where += ", column " + e.Column
	}
	return fmt.Sprintf("%s: bank statement %s: %s", CodeBankCSV, where, e.Msg)
}

func (e *FormatError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrBankCSV, e.cause}
	}
	return []error{ErrBankCSV}
}

// Line is one credit (or, negative, debit) of a bank statement.
type Line struct {
	Row       int    // in the file, the header being 1
	Date      string // YYYY-MM-DD
	Amount    int64  // cents
	Reference string // the transfer's reference, when the bank gives it in a column of its own
	Label     string // the bank's text, where a reference may also be found
}

// MaxLines bounds a statement.
const MaxLines = 100000

// ReadCSV reads a bank statement: a header row naming the columns (date and
// amount required; reference and label optional; others ignored, in any
// order, case-insensitive), separated by ',' or ';' (found on the header);
// dates YYYY-MM-DD or DD/MM/YYYY; amounts in euros with '.' or ',' as the
// decimal mark, at most two decimals, an optional sign, no thousands
// separator.
func ReadCSV(r io.Reader) ([]Line, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, &FormatError{Row: 0, Msg: err.Error()}
	}
	s := strings.TrimPrefix(string(b), "\ufeff") // a spreadsheet's byte order mark
	head, _, _ := strings.Cut(s, "\n")
	cr := csv.NewReader(strings.NewReader(s))
	if strings.Count(head, ";") > strings.Count(head, ",") {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &FormatError{Row: 1, Msg: "empty file: want a header row with date and amount"}
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"date", "amount"} {
		if _, ok := col[need]; !ok {
			return nil, &FormatError{Row: 1, Column: need, Msg: fmt.Sprintf("no %q column in the header (columns: date, amount, reference, label)", need)}
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var out []Line
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		if len(out) >= MaxLines {
			return nil, &FormatError{Row: row, Msg: fmt.Sprintf("more than %d lines", MaxLines)}
		}
		l := Line{Row: row, Reference: get(rec, "reference"), Label: get(rec, "label")}
		if l.Date, err = parseDate(get(rec, "date")); err != nil {
			return nil, &FormatError{Row: row, Column: "date", Msg: err.Error()}
		}
		if l.Amount, err = ParseAmount(get(rec, "amount")); err != nil {
			return nil, &FormatError{Row: row, Column: "amount", Msg: err.Error()}
		}
		out = append(out, l)
	}
	return out, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FormatError{Row: pe.Line, Msg: pe.Err.Error()}
	}
	return &FormatError{Msg: err.Error()}
}

func parseDate(s string) (string, error) {
	for _, layout := range []string{time.DateOnly, "02/01/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), nil
		}
	}
	return "", fmt.Errorf("%q is not a date (YYYY-MM-DD or DD/MM/YYYY)", s)
}

// ParseAmount reads euros ("37.00", "-19,5", "+21") as cents.
func ParseAmount(s string) (int64, error) {
	bad := fmt.Errorf("%q is not an amount in euros (e.g. 37.00 or -19,50)", s)
	v := s
	neg := false
	switch {
	case strings.HasPrefix(v, "-"):
		neg, v = true, v[1:]
	case strings.HasPrefix(v, "+"):
		v = v[1:]
	}
	v = strings.Replace(v, ",", ".", 1)
	whole, frac, hasFrac := strings.Cut(v, ".")
	if whole == "" || len(whole) > 12 || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, bad
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, bad
			}
		}
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	var f int64
	if hasFrac {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	c := w*100 + f
	if neg {
		c = -c
	}
	return c, nil
}
