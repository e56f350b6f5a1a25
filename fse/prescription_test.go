package fse_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fse"
)

// TestPrescriptionReference: the kind and the dispensed lines of a
// prescription reference go through XML and JSON unchanged, and are
// checked: a kind the format does not know, a dispense naming no line of
// the sheet or a line twice.
func TestPrescriptionReference(t *testing.T) {
	s := generate(t, 3, "pharmacist", "")
	s.Prescription.Kind = fse.RxCarried
	s.Prescription.Dispenses = []fse.Dispense{{Line: 1, RxLine: 2}, {Line: 2, RxLine: 1}}
	x := s.Encode()
	if !bytes.Contains(x, []byte("<Kind>fsegate</Kind>")) || !bytes.Contains(x, []byte("<RxLine>2</RxLine>")) {
		t.Fatalf("the reference is not written:\n%s", x)
	}
	back, err := fse.Decode(x)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Prescription, s.Prescription) {
		t.Fatalf("XML: got %+v, want %+v", back.Prescription, s.Prescription)
	}
	j, err := s.EncodeJSON()
	if err != nil {
		t.Fatal(err)
	}
	jback, err := fse.DecodeJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(jback.Prescription, s.Prescription) {
		t.Fatalf("JSON: got %+v, want %+v", jback.Prescription, s.Prescription)
	}
	if got := back.Prescription.RxLineOf(2); got != 1 {
		t.Errorf("RxLineOf(2): got %d, want 1", got)
	}
	if _, err := fse.Validate(back, testOptions(t)); err != nil {
		t.Fatalf("a valid reference: %v", err)
	}

	bad := strings.Replace(string(x), "<Kind>fsegate</Kind>", "<Kind>fax</Kind>", 1)
	if _, err := fse.Decode([]byte(bad)); !errors.Is(err, fse.ErrValue) {
		t.Errorf("kind fax: got %v, want SHEET_VALUE", err)
	}
	for _, ds := range [][]fse.Dispense{{{Line: 99, RxLine: 1}}, {{Line: 1, RxLine: 1}, {Line: 1, RxLine: 2}}, {{Line: 1, RxLine: 0}}} {
		c := *back
		rx := *back.Prescription
		rx.Dispenses = ds
		c.Prescription = &rx
		if _, err := fse.Validate(&c, testOptions(t)); !errors.Is(err, fse.ErrValue) {
			t.Errorf("dispenses %+v: got %v, want SHEET_VALUE", ds, err)
		}
	}
	c := *back
	rx := *back.Prescription
	rx.Kind = "fax"
	c.Prescription = &rx
	if _, err := fse.Validate(&c, testOptions(t)); !errors.Is(err, fse.ErrValue) {
		t.Errorf("JSON kind fax: got %v, want SHEET_VALUE", err)
	}
	if !(&fse.Prescription{Kind: fse.RxPaper}).NeedsSCOR() || (&fse.Prescription{}).NeedsSCOR() || (&fse.Prescription{}).RxKind() != fse.RxCarried {
		t.Error("NeedsSCOR / RxKind")
	}
}
