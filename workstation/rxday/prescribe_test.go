package rxday

import (
	"errors"
	"testing"
	"time"

	"github.com/fsegate/fsegate/signature"
)

func TestPrescriptionCheck(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	valid := func() *Prescription {
		rx := &Prescription{ID: "RX-2026-000123", Lines: []Line{{Text: "AMOXICILLINE 1 g", Quantity: 2}}}
		rx.Patient.Name = "DURAND Paul"
		return rx
	}
	rx := valid()
	if err := rx.Check(now); err != nil || rx.Date != "2026-11-20" {
		t.Errorf("got %v, date %q; want valid, dated 2026-11-20", err, rx.Date)
	}
	for name, edit := range map[string]func(*Prescription){
		"a short id":      func(rx *Prescription) { rx.ID = "RX1" },
		"a space in id":   func(rx *Prescription) { rx.ID = "RX 2026" },
		"no patient name": func(rx *Prescription) { rx.Patient.Name = "" },
		"no lines":        func(rx *Prescription) { rx.Lines = nil },
	} {
		rx := valid()
		edit(rx)
		if err := rx.Check(now); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

func TestPrescriptionSignedBy(t *testing.T) {
	id := signature.Identity{NationalID: "899700218896", Profession: "10"}
	rx := &Prescription{}
	if err := rx.SignedBy(id); err != nil || rx.Prescriber.NationalID != id.NationalID || rx.Prescriber.Profession != "10" {
		t.Errorf("got %v %+v, want the card holder as prescriber", err, rx.Prescriber)
	}
	rx = &Prescription{}
	rx.Prescriber.NationalID = "810107592585"
	if err := rx.SignedBy(id); !errors.Is(err, ErrOtherPrescriber) {
		t.Errorf("got %v, want ErrOtherPrescriber", err)
	}
}
