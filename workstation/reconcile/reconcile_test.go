package reconcile

import (
	"errors"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/client"
)

func transfers() []client.Transfer {
	paid := func(n string, c int64) client.TransferLine {
		return client.TransferLine{Kind: "paid", Number: n, Lot: "l1", Amount: c}
	}
	return []client.Transfer{
		{Reference: "CPAM751-20261123-AAAA", Insurer: "cpam751", Date: "2026-11-23", Total: 5100, Lines: []client.TransferLine{paid("000000001", 3000), paid("000000002", 2100)}},
		{Reference: "CPAM751-20261124-BBBB", Insurer: "cpam751", Date: "2026-11-24", Total: 2100, Lines: []client.TransferLine{paid("000000003", 2100)}},
		{Reference: "CPAM751-20261125-CCCC", Insurer: "cpam751", Date: "2026-11-25", Total: 1600, Lines: []client.TransferLine{paid("000000004", 1600), {Kind: "withheld", Number: "000000004", Amount: 500, Code: "W_PARTIAL"}}},
		{Reference: "MGEN-20261126-DDDD", Insurer: "amc1", Date: "2026-11-26", Total: 900, Lines: []client.TransferLine{paid("000000005", 900)}},
		{Reference: "CPAM751-20261127-EEEE", Insurer: "cpam751", Date: "2026-11-27", Total: 3000, Lines: []client.TransferLine{paid("000000006", 3000)}},
		{Reference: "CPAM751-20261201-FFFF", Insurer: "cpam751", Date: "2026-12-20", Total: 100, Lines: []client.TransferLine{paid("000000007", 100)}},
	}
}

// TestMatch: every kind of difference, each explained.
func TestMatch(t *testing.T) {
	csv := `Date;Label;Amount;Reference
23/11/2026;VIR CPAM PARIS;51,00;CPAM751-20261123-AAAA
24/11/2026;VIR CPAM PARIS CPAM751-20261124-BBBB;21,00;
25/11/2026;VIR CPAM PARIS;21,00;CPAM751-20261125-CCCC
26/11/2026;VIR MGEN;9,00;
30/11/2026;VIR CPAM PARIS;30,00;CPAM751-20261127-EEEE
28/11/2026;VIR INCONNU;12,00;
`
	lines, err := ReadCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	rep := Match(lines, transfers(), Options{})
	want := map[Status]int{Matched: 3, AmountDiffers: 1, DateDiffers: 1, Unexpected: 1}
	for s, n := range want {
		if rep.Counts[s] != n {
			t.Errorf("%s: %d, want %d", s, rep.Counts[s], n)
		}
	}
	// The transfer of 2026-12-20 is outside the statement's period: not missing.
	if rep.Counts[Missing] != 0 || rep.Transfers != 5 || rep.From != "2026-11-21" || rep.To != "2026-12-02" {
		t.Errorf("period %s..%s, %d transfers, %d missing; want 2026-11-21..2026-12-02, 5, 0", rep.From, rep.To, rep.Transfers, rep.Counts[Missing])
	}
	byRow := map[int]Result{}
	for _, r := range rep.Results {
		byRow[r.Bank.Row] = r
	}
	if r := byRow[3]; r.Status != Matched || r.Transfer.Reference != "CPAM751-20261124-BBBB" {
		t.Errorf("reference in the label: %+v", r)
	}
	if r := byRow[4]; r.Status != AmountDiffers || !strings.Contains(r.Detail, "bank 21.00 EUR, transfer 16.00 EUR (difference 5.00 EUR); the transfer withheld 5.00 EUR") {
		t.Errorf("amount: %+v", r)
	}
	if r := byRow[5]; r.Status != Matched || !strings.Contains(r.Detail, "by amount and date") || r.Transfer.Insurer != "amc1" {
		t.Errorf("without a reference: %+v", r)
	}
	if r := byRow[6]; r.Status != DateDiffers || !strings.Contains(r.Detail, "booked 2026-11-30, value date 2026-11-27 (3 days apart, tolerance 2)") {
		t.Errorf("date: %+v", r)
	}
	if r := byRow[7]; r.Status != Unexpected {
		t.Errorf("unknown line: %+v", r)
	}
	if rep.Differences() != 3 {
		t.Errorf("%d differences, want 3", rep.Differences())
	}
	// A statement without the first line: its transfer is missing.
	rep = Match(lines[1:], transfers(), Options{DateTolerance: 5})
	if rep.Counts[Missing] != 1 || rep.Counts[DateDiffers] != 0 {
		t.Fatalf("got %v, want 1 missing and the 3-day date within a 5-day tolerance", rep.Counts)
	}
	for _, r := range rep.Results {
		if r.Status == Missing && (r.Transfer.Reference != "CPAM751-20261123-AAAA" || !strings.Contains(r.Detail, "2 sheets")) {
			t.Errorf("missing: %+v", r)
		}
	}
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name, csv string
		want      []Line
		row       int
		col       string
	}{
		{name: "commas, ISO dates, extra columns", csv: "date,amount,currency,label\n2026-11-23,37.00,EUR,VIR X\n2026-11-24,-19.5,EUR,\n",
			want: []Line{{Row: 2, Date: "2026-11-23", Amount: 3700, Label: "VIR X"}, {Row: 3, Date: "2026-11-24", Amount: -1950}}},
		{name: "byte order mark, semicolons", csv: "\ufeffDATE;AMOUNT\n23/11/2026;+21\n", want: []Line{{Row: 2, Date: "2026-11-23", Amount: 2100}}},
		{name: "empty", csv: "", row: 1},
		{name: "no amount column", csv: "date,label\n", row: 1, col: "amount"},
		{name: "bad date", csv: "date,amount\n2026-13-01,1\n", row: 2, col: "date"},
		{name: "thousands separator", csv: "date;amount\n2026-11-23;1 000,00\n", row: 2, col: "amount"},
		{name: "three decimals", csv: "date,amount\n2026-11-23,1.005\n", row: 2, col: "amount"},
		{name: "two decimal marks", csv: "date;amount\n2026-11-23;1,00,0\n", row: 2, col: "amount"},
		{name: "broken quote", csv: "date,amount\n\"2026-11-23,1\n", row: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadCSV(strings.NewReader(tt.csv))
			if tt.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("line %d: got %+v, want %+v", i, got[i], tt.want[i])
					}
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrBankCSV) || fe.Row != tt.row || fe.Column != tt.col {
				t.Fatalf("got %v, want BANK_CSV_INVALID at row %d column %q", err, tt.row, tt.col)
			}
		})
	}
}
