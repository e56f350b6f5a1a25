package mock

import (
	"testing"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/insurers"
)

// TestYearlyCaps: an AMO mock insurer records the participation forfaitaire
// of each sheet it accepts, counting over the sheets it has seen of the
// same patient (NIR and rank) and year, up to the yearly cap (fse.Caps,
// €50: domain.md §5); another patient, or another year, counts apart; an
// AMC records none.
func TestYearlyCaps(t *testing.T) {
	amo := &Insurer{cfg: Config{Insurer: &insurers.Insurer{ID: "cpam751", Kind: insurers.AMO}}, yearCaps: map[string]*fse.Caps{}}
	sheet := func(nir string, rank int, year int) *Checked {
		s := &fse.Sheet{CareDate: fse.Date{Year: year, Month: 6, Day: 2}, Patient: fse.Patient{NIR: nir, Rank: rank}}
		return &Checked{Sheet: s, Breakdown: &fse.Breakdown{Participation: 200, Franchises: 0}}
	}
	var total int64
	for i := 0; i < 30; i++ {
		p, f := amo.caps(sheet("295109912611193", 1, 2025))
		if f != 0 || p < 0 || p > 200 {
			t.Fatalf("sheet %d: participation %d, franchises %d", i+1, p, f)
		}
		if i >= 25 && p != 0 {
			t.Errorf("sheet %d: participation %d recorded past the €50 cap", i+1, p)
		}
		total += p
	}
	if total != 5000 {
		t.Fatalf("participation recorded over 30 sheets: %d cents, want the cap, 5000", total)
	}
	if p, _ := amo.caps(sheet("295109912611193", 2, 2025)); p != 200 {
		t.Errorf("a twin (rank 2): %d, want 200 (counted apart)", p)
	}
	if p, _ := amo.caps(sheet("295109912611193", 1, 2026)); p != 200 {
		t.Errorf("the next year: %d, want 200", p)
	}
	if p, _ := amo.caps(sheet("295109912611193", 1, 2025)); p != 0 {
		t.Errorf("a late sheet of the capped year, after one of the next: %d, want 0", p)
	}
	amc := &Insurer{cfg: Config{Insurer: &insurers.Insurer{ID: "amc1", Kind: insurers.AMC}}, yearCaps: map[string]*fse.Caps{}}
	if p, f := amc.caps(sheet("295109912611193", 1, 2025)); p != 0 || f != 0 {
		t.Errorf("an AMC records %d, %d; want nothing", p, f)
	}
}
