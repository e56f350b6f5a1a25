package rx_test

import (
	"testing"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/rx"
	"github.com/fsegate/fsegate/problem"
)

func record(date string, renewals int) *rx.Record {
	return &rx.Record{ID: "RX-1", Prescriber: "99700218896", Date: date, NIR: "295109912611193",
		Lines: []rx.RecordLine{{CIP13: "3400930000014", Group: "", Quantity: 2, Renewals: renewals}}}
}

func sheet(number, care string, qty int) *fse.Sheet {
	d, _ := fse.ParseDate(care)
	return &fse.Sheet{
		Number: number, CareDate: d,
		Practitioner: fse.Practitioner{ID: "99700075122", Billing: "751000027"},
		Patient:      fse.Patient{NIR: "295109912611193"},
		Prescription: &fse.Prescription{ID: "RX-1", Prescriber: "99700218896", Dispenses: []fse.Dispense{{Line: 1, RxLine: 1}}},
		Lines:        []fse.Line{{Kind: fse.KindDrug, CIP13: "3400930000014", Quantity: qty}},
	}
}

func codes(ps []rx.Problem) []problem.Code {
	var out []problem.Code
	for _, p := range ps {
		out = append(out, p.Code)
	}
	return out
}

// TestDispense: renewals, validity (3 months to a first dispensation, 12
// to the last), the prescriber dispensing its own prescription, and a
// sheet sent again.
func TestDispense(t *testing.T) {
	tests := []struct {
		name    string
		rec     *rx.Record
		claims  []*fse.Sheet
		self    bool
		wantErr problem.Code // code of the last claim's problem, "" when it passes
	}{
		{"first dispensation", record("2026-01-10", 0), []*fse.Sheet{sheet("000000001", "2026-01-12", 2)}, false, ""},
		{"second without renewal", record("2026-01-10", 0), []*fse.Sheet{sheet("000000001", "2026-01-12", 2), sheet("000000002", "2026-02-12", 2)}, false, rx.CodeDispensed},
		{"renewed once", record("2026-01-10", 1), []*fse.Sheet{sheet("000000001", "2026-01-12", 2), sheet("000000002", "2026-02-12", 2)}, false, ""},
		{"the same sheet again", record("2026-01-10", 0), []*fse.Sheet{sheet("000000001", "2026-01-12", 2), sheet("000000001", "2026-01-12", 2)}, false, ""},
		{"over the quantity", record("2026-01-10", 3), []*fse.Sheet{sheet("000000001", "2026-01-12", 3)}, false, rx.CodeQuantity},
		{"first after 3 months", record("2026-01-10", 3), []*fse.Sheet{sheet("000000001", "2026-04-11", 1)}, false, rx.CodeExpired},
		{"renewal within 12 months", record("2026-01-10", 3), []*fse.Sheet{sheet("000000001", "2026-03-01", 1), sheet("000000002", "2026-12-01", 1)}, false, ""},
		{"renewal after 12 months", record("2026-01-10", 3), []*fse.Sheet{sheet("000000001", "2026-03-01", 1), sheet("000000002", "2027-01-11", 1)}, false, rx.CodeExpired},
		{"before the prescription", record("2026-01-10", 0), []*fse.Sheet{sheet("000000001", "2026-01-09", 1)}, false, rx.CodeExpired},
		{"prescriber dispenses", record("2026-01-10", 0), []*fse.Sheet{sheet("000000001", "2026-01-12", 1)}, true, rx.CodeSelf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []rx.Problem
			for _, s := range tc.claims {
				dispenser := s.Practitioner.ID
				if tc.self {
					dispenser = tc.rec.Prescriber
				}
				_, ps = tc.rec.Dispense(rx.Claim{Sheet: s, Dispenser: dispenser})
			}
			got := codes(ps)
			switch {
			case tc.wantErr == "" && len(got) > 0:
				t.Fatalf("got %v, want no problem", got)
			case tc.wantErr != "" && (len(got) == 0 || got[0] != tc.wantErr):
				t.Fatalf("got %v, want %s", got, tc.wantErr)
			}
		})
	}
}

// TestGenericSubstitution: a drug of the prescribed drug's group, or of the
// prescribed group, is accepted; another is not.
func TestGenericSubstitution(t *testing.T) {
	groups := rx.Groups{"3400930000014": "PARA", "3400930001011": "PARA", "3400930000021": "AMOX"}
	for _, tc := range []struct {
		line    rx.RecordLine
		cip     string
		wantErr problem.Code
	}{
		{rx.RecordLine{CIP13: "3400930000014", Quantity: 1}, "3400930001011", ""},
		{rx.RecordLine{Group: "PARA", Quantity: 1}, "3400930000014", ""},
		{rx.RecordLine{CIP13: "3400930000014", Quantity: 1}, "3400930000021", rx.CodeProduct},
		{rx.RecordLine{Group: "PARA", Quantity: 1}, "3400930000106", rx.CodeProduct},
	} {
		rec := &rx.Record{ID: "RX-1", Prescriber: "99700218896", Date: "2026-01-10", NIR: "295109912611193", Lines: []rx.RecordLine{tc.line}}
		s := sheet("000000001", "2026-01-12", 1)
		s.Lines[0].CIP13 = tc.cip
		_, ps := rec.Dispense(rx.Claim{Sheet: s, Dispenser: "99700075122", Groups: groups})
		if got := codes(ps); (tc.wantErr == "") != (len(got) == 0) || (tc.wantErr != "" && got[0] != tc.wantErr) {
			t.Errorf("line %+v, drug %s: got %v, want %q", tc.line, tc.cip, got, tc.wantErr)
		}
	}
}
