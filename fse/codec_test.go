package fse_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/fsegate/fsegate/fse"
)

func TestEncodeStable(t *testing.T) {
	s := generate(t, 3, "pharmacist", "")
	a, b := s.Encode(), s.Encode()
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same sheet differ")
	}
	back, err := fse.Decode(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Encode(), a) {
		t.Fatal("decode then encode changed the bytes")
	}
}

func TestDecodeElementAndDigest(t *testing.T) {
	unsigned, err := os.ReadFile("testdata/cases/valid-doctor-1.xml")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile("testdata/cases/valid-signed.xml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := fse.Decode(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(signed); err != nil {
		t.Fatal(err)
	}
	b, err := fse.DecodeElement(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("signed and unsigned sheets decode differently:\n%+v\n%+v", a, b)
	}
	if a.ContentDigest() != b.ContentDigest() {
		t.Fatal("the content digest depends on the signature")
	}
	b.Totals.Billed++
	if a.ContentDigest() == b.ContentDigest() {
		t.Fatal("the content digest does not change with the content")
	}
}

func TestDecodeElementErrorsHaveNoLine(t *testing.T) {
	data, err := os.ReadFile("testdata/cases/fmt-unknown-element.xml")
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		t.Fatal(err)
	}
	_, err = fse.DecodeElement(doc.Root())
	if !errors.Is(err, fse.ErrUnknownElement) {
		t.Fatalf("got %v, want SHEET_UNKNOWN_ELEMENT", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, p := range []string{"doctor", "pharmacist", "nurse"} {
		s := generate(t, 11, p, "")
		j, err := s.EncodeJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := fse.DecodeJSON(j)
		if err != nil {
			t.Fatalf("%s: %v\n%s", p, err, j)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("%s: JSON round trip differs:\n%s", p, j)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"syntax", `{"number": }`, fse.ErrMalformed},
		{"unknown field", `{"numero": "1"}`, fse.ErrUnknownElement},
		{"amount", `{"totals": {"billed": "30,00"}}`, fse.ErrValue},
		{"type", `{"patient": {"rank": "one"}}`, fse.ErrValue},
		{"kind", `{"lines": [{"kind": "other"}]}`, fse.ErrValue},
		{"fields of another kind", `{"lines": [{"kind": "ngap", "cip13": "3400930000014"}]}`, fse.ErrUnknownElement},
		{"trailing", `{} {}`, fse.ErrMalformed},
	}
	for _, tt := range tests {
		_, err := fse.DecodeJSON([]byte(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want.(*fse.CodeInfo).Code)
		}
	}
}

func TestValidationErrorHoldsEveryViolation(t *testing.T) {
	s := generate(t, 5, "doctor", "")
	s.Patient.NIR = s.Patient.NIR[:13] + "00"
	s.Number = "12"
	s.Totals.Billed++
	_, err := fse.Validate(s, testOptions(t))
	var ve *fse.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %T %v, want *ValidationError", err, err)
	}
	for _, c := range []*fse.CodeInfo{fse.ErrNIRKey, fse.ErrNumberFormat, fse.ErrTotalBilled} {
		if !errors.Is(err, c) {
			t.Errorf("missing %s in %v", c.Code, err)
		}
	}
	for _, fe := range ve.Errors {
		if fe.Code == "NIR_KEY" && (strings.Contains(fe.Value, s.Patient.NIR[5:10]) || strings.Contains(fe.Message, s.Patient.NIR)) {
			t.Errorf("NIR not masked: %q / %q", fe.Value, fe.Message)
		}
		if fe.Hint == "" {
			t.Errorf("%s has no hint", fe.Code)
		}
	}
}

func TestNoTariffTableIsStrict(t *testing.T) {
	s := generate(t, 5, "doctor", "")
	opts := testOptions(t)
	opts.Tariffs = nil
	if _, err := fse.Validate(s, opts); !errors.Is(err, fse.ErrNGAPKey) {
		t.Fatalf("without a tariff table: got %v, want NGAP_KEY_UNKNOWN", err)
	}
}

func TestDestinations(t *testing.T) {
	s := generate(t, 1, "pharmacist", "")
	s.Patient.AMC = fse.GenAMC
	s.Totals.AMC, s.Totals.TiersPayantAMC = 100, true
	d := s.Destinations()
	if len(d) != 2 || d[0].Kind != "AMO" || d[1].Kind != "AMC" || d[1].AMC != fse.GenAMC || d[0].Regime != s.Patient.Regime {
		t.Fatalf("got %+v", d)
	}
	s.Totals.TiersPayantAMC = false
	if d := s.Destinations(); len(d) != 1 {
		t.Fatalf("without AMC tiers payant: got %+v", d)
	}
}

func TestCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fse.Codes() {
		if !bytes.Contains(doc, []byte("\n### "+string(c.Code)+"\n")) {
			t.Errorf("code %s has no '### %s' section in docs/errors.md", c.Code, c.Code)
		}
	}
}

func TestVersion(t *testing.T) {
	if got := testOptions(t).Version(); got != "fse-rules-2+ngap-2024-12-22+ccam-2025-01-01+drugs-2020-01-01" {
		t.Errorf("got %q", got)
	}
}

// TestMoneyFieldsRoundTrip: the optional additions of fse-rules-2 (line
// exemptions, CCAM activity and modifiers, a drug's base, fee lines, the
// franchises, the rectification reference) survive XML and JSON, and a
// sheet without them encodes as before (no empty element).
func TestMoneyFieldsRoundTrip(t *testing.T) {
	s := generate(t, 11, "pharmacist", "")
	s.Rectifies = &fse.Rectification{Number: "000000007", Date: s.CareDate}
	s.Lines = append(s.Lines,
		fse.Line{Kind: fse.KindCCAM, Code: "DEQP003", Activity: 1, Modifiers: "F", Exemption: fse.ExemptionALD, Amount: 3358, AMO: 3358},
		fse.Line{Kind: fse.KindDrug, CIP13: "3400930000137", Quantity: 2, UnitPrice: 742, Rate: 65, Amount: 1484, Base: 910, AMO: 592})
	s.Totals.Franchises = 300
	x, err := fse.Decode(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x, s) {
		t.Fatalf("XML round trip:\n got %+v\nwant %+v", x, s)
	}
	j, err := s.EncodeJSON()
	if err != nil {
		t.Fatal(err)
	}
	y, err := fse.DecodeJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(y, s) {
		t.Fatalf("JSON round trip:\n got %+v\nwant %+v", y, s)
	}
	plain := generate(t, 12, "doctor", "").Encode()
	for _, e := range []string{"<Rectifies>", "<Franchises>", "<Base>", "<Activity>", "<Modifiers>"} {
		if bytes.Contains(plain, []byte(e)) {
			t.Errorf("a sheet without %s encodes it", e)
		}
	}
}
