package fse_test

import (
	"testing"

	"github.com/fsegate/fsegate/fse"
)

func TestNIR(t *testing.T) {
	tests := []struct {
		nir        string
		format, ok bool
	}{
		{"295109912611193", true, true},
		{"253072A07300443", true, true},
		{"253072B07300470", true, true},
		{"255081416802538", true, true},
		{"255081416802539", true, false}, // wrong key
		{"253072A07300470", true, false}, // 2B's key on 2A
		{"355081416802538", false, false},
		{"25508141680253", false, false},
		{"2550814168025X8", false, false},
		{"2550A1416802538", false, false}, // A outside the department
	}
	for _, tt := range tests {
		if got := fse.NIRFormat(tt.nir); got != tt.format {
			t.Errorf("NIRFormat(%s) = %v, want %v", tt.nir, got, tt.format)
		}
		if got := fse.ValidNIR(tt.nir); got != tt.ok {
			t.Errorf("ValidNIR(%s) = %v, want %v", tt.nir, got, tt.ok)
		}
	}
}

func TestMaskNIR(t *testing.T) {
	if got, want := fse.MaskNIR("185057512345642"), "1 85 05 ** *** *** 42"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := fse.MaskNIR("1850575"); got != "*******" {
		t.Errorf("short NIR: got %q", got)
	}
}

func TestLuhnIdentifiers(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) bool
		in   string
		want bool
	}{
		{"rpps", fse.ValidRPPS, "10107592585", true},
		{"rpps", fse.ValidRPPS, "10107592544", true},
		{"rpps", fse.ValidRPPS, "99700218896", true},
		{"rpps", fse.ValidRPPS, "99900023351", true},
		{"rpps", fse.ValidRPPS, "99700075122", true},
		{"rpps", fse.ValidRPPS, "10002813839", true},
		{"rpps typo", fse.ValidRPPS, "10107582544", false},
		{"rpps short", fse.ValidRPPS, "0107592585", false},
		{"adeli", fse.ValidADELI, "012800736", true},
		{"adeli", fse.ValidADELI, "012800728", true},
		{"adeli", fse.ValidADELI, "010000206", true},
		{"adeli bad", fse.ValidADELI, "012800737", false},
		{"finess", fse.ValidFINESS, "010000016", true},
		{"finess", fse.ValidFINESS, "010780195", true},
		{"finess", fse.ValidFINESS, "750712184", true},
		{"finess", fse.ValidFINESS, "760021832", true},
		{"finess bad", fse.ValidFINESS, "750712185", false},
		{"cip13", fse.ValidCIP13, "3400930000014", true},
		{"cip13 key", fse.ValidCIP13, "3400930000015", false},
		{"cip13 prefix", fse.ValidCIP13, "4400930000011", false},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s %s: got %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestAmountAndCoefficient(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want fse.Amount
		ok   bool
	}{
		{"12.34", 1234, true}, {"0.00", 0, true}, {"1000.05", 100005, true},
		{"12.3", 0, false}, {"12", 0, false}, {"-1.00", 0, false}, {"01.00", 0, false}, {"1,00", 0, false}, {"", 0, false},
	} {
		got, ok := fse.ParseAmount(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && got.String() != tt.in {
			t.Errorf("Amount(%d).String() = %q, want %q", got, got.String(), tt.in)
		}
	}
	for _, tt := range []struct {
		in, out string
		ok      bool
	}{{"1", "1", true}, {"1.5", "1.5", true}, {"1.50", "1.5", true}, {"0.25", "0.25", true}, {"1.", "", false}, {".5", "", false}, {"1.234", "", false}} {
		var c fse.Coefficient
		err := c.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && c.String() != tt.out) {
			t.Errorf("coefficient %q: got %q, %v", tt.in, c.String(), err)
		}
	}
}

func TestDeadline(t *testing.T) {
	_, hol := loadTables(t)
	tests := []struct {
		care string
		tp   bool
		want string
	}{
		{"2026-03-18", false, "2026-03-23"}, // Wednesday + 3 working days
		{"2026-03-18", true, "2026-03-30"},
		{"2025-04-17", false, "2025-04-23"}, // Easter Monday 2025-04-21 skipped
		{"2025-12-24", false, "2025-12-30"}, // Christmas skipped
	}
	for _, tt := range tests {
		d, _ := fse.ParseDate(tt.care)
		if got := fse.Deadline(d, tt.tp, hol).String(); got != tt.want {
			t.Errorf("Deadline(%s, %v) = %s, want %s", tt.care, tt.tp, got, tt.want)
		}
	}
}
