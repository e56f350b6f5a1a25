package reconcile

import (
	"errors"
	"strings"
	"testing"
)

func TestReadStatement(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		lines     int
		wantErr   []error
		wantPath  string
	}{
		{"two lines", "date,amount\n2026-11-02,12.30\n2026-11-03,1\n", 2, nil, ""},
		{"no line", "date,amount\n", 0, []error{ErrBankCSV, ErrNoLines}, "row 2"},
		{"no amount column", "date;montant\n2026-11-02;1\n", 0, []error{ErrBankCSV}, "row 1/amount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := ReadStatement(strings.NewReader(tc.csv))
			if len(lines) != tc.lines {
				t.Errorf("got %d lines, want %d", len(lines), tc.lines)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("got %v, want %v", err, want)
				}
			}
			if tc.wantErr == nil && err != nil {
				t.Errorf("got %v, want no error", err)
			}
			var fe *FormatError
			if tc.wantPath != "" && (!errors.As(err, &fe) || fe.Path() != tc.wantPath) {
				t.Errorf("got %v, want a *FormatError at %s", err, tc.wantPath)
			}
			if tc.name != "no line" && errors.Is(err, ErrNoLines) {
				t.Errorf("got %v: ErrNoLines for a statement that has lines", err)
			}
		})
	}
}

func TestTolerance(t *testing.T) {
	for days, want := range map[int]int{0: -1, 1: 1, 2: 2, 30: 30} {
		if got := Tolerance(days).DateTolerance; got != want {
			t.Errorf("Tolerance(%d): got %d, want %d", days, got, want)
		}
	}
}
