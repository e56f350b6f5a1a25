package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/testenv/pdfbomb"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/rx"
	"github.com/fsegate/fsegate/signature"
)

// Prescriptions that bind (docs/care-sheet.md, "Prescription"), through
// the HTTPS API with the cards' software keys, as a modified workstation
// or a raw TLS client would.

var pharmPr = fse.Practitioner{IDType: fse.IDTypeRPPS, ID: "99700075122", NationalID: "899700075122", Billing: "751000027", Profession: fse.ProfessionPharmacist, Specialty: "00", FINESS: "750712184"}

// rxLine is one line of a test prescription's structured data.
type rxLine struct {
	Text     string `json:"text"`
	CIP13    string `json:"cip13,omitempty"`
	Group    string `json:"group,omitempty"`
	Quantity int    `json:"quantity"`
	Renewals int    `json:"renewals,omitempty"`
}

// issue signs a prescription with card's signature key (a PDF embedding
// its prescription.json).
func issue(t testing.TB, card, id, nir string, lines []rxLine) []byte {
	t.Helper()
	content := map[string]any{"id": id, "date": time.Now().Format(time.DateOnly), "patient": map[string]any{"name": "DURAND Paul", "nir": nir}, "lines": lines}
	data, _ := json.Marshal(content)
	doc := pdfbomb.Build(pdfbomb.Options{Files: []pdfbomb.File{{Name: "prescription.json", Data: data}}})
	return signPDFWith(t, doc, cardKey(t, "pki/cards/"+card+"-sig.key"), readCert(t, "pki/cards/"+card+"-sig.crt"))
}

// pharmacySheet draws a pharmacist's sheet (number) and lets change edit
// it before it is signed with the pharmacist's card.
func pharmacySheet(t testing.TB, number int, change func(*fse.Sheet)) (*fse.Sheet, []byte) {
	t.Helper()
	sm := cardSheets(t, "pharmacist", pharmPr)
	signed := makeSigned(t, sm, number)
	s, err := fse.Decode(signed)
	if err != nil {
		t.Fatal(err)
	}
	resign := func(s *fse.Sheet) []byte {
		b, err := signature.SignOptions{Now: func() time.Time { return sm.Now }}.Sign(t.Context(), s.Encode(), sm.Signer, sm.Chain)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if change != nil {
		change(s)
	}
	return s, resign(s)
}

// claim points every line of s at the same-numbered line of prescription id.
func claim(s *fse.Sheet, id, kind string) {
	s.Prescription = &fse.Prescription{ID: id, Prescriber: "99700218896", Kind: kind}
	for i := range s.Lines {
		s.Prescription.Dispenses = append(s.Prescription.Dispenses, fse.Dispense{Line: i + 1, RxLine: i + 1})
	}
}

// linesOf prescribes what s dispenses, one line each; a drug with a
// generic group is prescribed by another drug of its group (the pharmacy
// substitutes).
func linesOf(t testing.TB, s *fse.Sheet) []rxLine {
	t.Helper()
	groups := fixtureGroups(t)
	byGroup := map[string][]string{}
	for cip, g := range groups {
		byGroup[g] = append(byGroup[g], cip)
	}
	var out []rxLine
	for _, l := range s.Lines {
		cip := l.CIP13
		for _, other := range byGroup[groups[l.CIP13]] {
			if other != l.CIP13 {
				cip = other
			}
		}
		out = append(out, rxLine{Text: l.Label, CIP13: cip, Quantity: l.Quantity})
	}
	return out
}

func fixtureGroups(t testing.TB) map[string]string {
	t.Helper()
	b, err := fixtures.ReadFile("generics.csv")
	if err != nil {
		t.Fatal(err)
	}
	g, err := rx.ParseGroups(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestPharmacistMayNotPrescribe: a "prescription" signed with a
// pharmacist's card is refused, whoever carries it; so is one without its
// structured data.
func TestPharmacistMayNotPrescribe(t *testing.T) {
	m := startGateway(t)
	c := newClient(t, m, "pharmacist")
	lines := []rxLine{{Text: "PARACETAMOL 1 g", CIP13: "3400930000014", Quantity: 2}}
	_, err := c.SendPrescription(t.Context(), issue(t, "pharmacist", "RX-PH-1", "295109912611193", lines))
	wantRefused(t, err, http.StatusForbidden, "PRESCRIBER_NOT_ALLOWED")

	_, err = newClient(t, m, "doctor").SendPrescription(t.Context(), issue(t, "doctor", "RX-NONIR-1", "", lines))
	wantRefused(t, err, http.StatusUnprocessableEntity, "PRESCRIPTION_CONTENT")
}

// TestPrescriptionBinds: a doctor's prescription, carried by the pharmacy,
// binds the claims made against it: its patient, its lines, its
// quantities, its renewals; a generic of the prescribed drug's group is
// accepted; the same sheet sent again keeps its receipt.
func TestPrescriptionBinds(t *testing.T) {
	m := startGateway(t)
	ph := newClient(t, m, "pharmacist")
	ctx := t.Context()
	base, _ := pharmacySheet(t, 7100, nil)
	nir := base.Patient.NIR
	if _, err := ph.SendPrescription(ctx, issue(t, "doctor", "RX-BIND-1", nir, linesOf(t, base))); err != nil {
		t.Fatalf("the pharmacy carries the doctor's prescription: %v", err)
	}
	// Every line at most one box: two sheet lines on one prescription line
	// go beyond its quantity.
	one := []rxLine{{Text: "any", Quantity: 1}}
	if _, err := ph.SendPrescription(ctx, issue(t, "doctor", "RX-BIND-2", nir, one)); err != nil {
		t.Fatal(err)
	}
	sheet := func(number int, change func(*fse.Sheet)) []byte {
		_, b := pharmacySheet(t, 7100, func(s *fse.Sheet) {
			s.Number = fmt.Sprintf("%09d", number)
			claim(s, "RX-BIND-1", fse.RxCarried)
			if change != nil {
				change(s)
			}
		})
		return b
	}
	refused := []struct {
		name   string
		signed []byte
		status int
		code   string
	}{
		{"another patient", sheet(7101, func(s *fse.Sheet) { s.Patient.NIR = "253072A07300443" }), http.StatusUnprocessableEntity, "PRESCRIPTION_PATIENT_MISMATCH"},
		{"another line", sheet(7102, func(s *fse.Sheet) { s.Prescription.Dispenses[0].RxLine = len(s.Lines) + 1 }), http.StatusUnprocessableEntity, "PRESCRIPTION_LINE_UNKNOWN"},
		{"a line named by nothing", sheet(7103, func(s *fse.Sheet) { s.Prescription.Dispenses = s.Prescription.Dispenses[1:] }), http.StatusUnprocessableEntity, "PRESCRIPTION_LINE_MISSING"},
		{"beyond the quantity", sheet(7104, func(s *fse.Sheet) {
			s.Prescription.ID = "RX-BIND-2"
			for i := range s.Prescription.Dispenses {
				s.Prescription.Dispenses[i].RxLine = 1
			}
		}), http.StatusUnprocessableEntity, "PRESCRIPTION_QUANTITY_EXCEEDED"},
		{"a prescription never received", sheet(7105, func(s *fse.Sheet) { s.Prescription.ID = "RX-NEVER-1" }), http.StatusUnprocessableEntity, "PRESCRIPTION_UNKNOWN"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ph.SendSheet(ctx, tc.signed)
			wantRefused(t, err, tc.status, tc.code)
		})
	}

	first := sheet(7110, nil)
	r1, err := ph.SendSheet(ctx, first)
	if err != nil {
		t.Fatalf("the claim as prescribed (generics of the prescribed groups): %v", err)
	}
	r2, err := ph.SendSheet(ctx, first)
	if err != nil || r2.Digest != r1.Digest {
		t.Fatalf("the same sheet again: got %v %v, want its receipt", r2, err)
	}
	_, err = ph.SendSheet(ctx, sheet(7111, nil))
	wantRefused(t, err, http.StatusConflict, "PRESCRIPTION_DISPENSED")

	// A prescription whose first line names another drug, of no group
	// in common with the one dispensed.
	other := linesOf(t, base)
	other[0].CIP13 = "3400930000106" // insulin, of no generic group
	if base.Lines[0].CIP13 == other[0].CIP13 {
		other[0].CIP13 = "3400930000120" // salbutamol, neither
	}
	if _, err := ph.SendPrescription(ctx, issue(t, "doctor", "RX-BIND-3", nir, other)); err != nil {
		t.Fatal(err)
	}
	_, err = ph.SendSheet(ctx, sheet(7112, func(s *fse.Sheet) { s.Prescription.ID = "RX-BIND-3" }))
	wantRefused(t, err, http.StatusUnprocessableEntity, "PRESCRIPTION_PRODUCT_MISMATCH")
}

// TestDispensationRace: eight sheets claim the lines of a prescription
// (no renewal) at once: exactly one is receipted, the others get
// PRESCRIPTION_DISPENSED.
func TestDispensationRace(t *testing.T) {
	m := startGateway(t)
	ph := newClient(t, m, "pharmacist")
	ctx := t.Context()
	base, _ := pharmacySheet(t, 7200, nil)
	if _, err := ph.SendPrescription(ctx, issue(t, "doctor", "RX-RACE-1", base.Patient.NIR, linesOf(t, base))); err != nil {
		t.Fatal(err)
	}
	const n = 8
	sheets := make([][]byte, n)
	for i := range sheets {
		_, sheets[i] = pharmacySheet(t, 7200, func(s *fse.Sheet) {
			s.Number = fmt.Sprintf("%09d", 7201+i)
			claim(s, "RX-RACE-1", "")
		})
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range sheets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, m, "pharmacist")
			<-start
			_, errs[i] = c.SendSheet(ctx, sheets[i])
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		if p := problemOf(t, err); !p.Has("PRESCRIPTION_DISPENSED") {
			t.Errorf("sheet %d: got %v, want PRESCRIPTION_DISPENSED", i, p)
		}
	}
	if won != 1 {
		t.Fatalf("got %d dispensations of the line, want exactly 1", won)
	}
}

func testJPEG(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 200, 280)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSCOR: a sheet on a paper prescription is receipted waiting for its
// SCOR piece; the piece is checked (not a JPEG or PDF: refused), queued,
// sent in a SCOR lot and acknowledged by the insurer's ARL, which the
// sheet's state and the practice's notices show. A national number is
// receipted with its warning, and needs no piece.
func TestSCOR(t *testing.T) {
	m := startGateway(t, "--mock-insurers")
	ph := newClient(t, m, "pharmacist")
	ctx := t.Context()
	_, paper := pharmacySheet(t, 7300, func(s *fse.Sheet) { claim(s, "P-7300", fse.RxPaper) })
	r, err := ph.SendSheet(ctx, paper)
	if err != nil {
		t.Fatal(err)
	}
	if r.SCOR != "awaiting" || !hasWarning(r.Warnings, "SCOR_REQUIRED") {
		t.Fatalf("got scor %q warnings %+v, want awaiting and SCOR_REQUIRED", r.SCOR, r.Warnings)
	}
	_, err = ph.SendSCOR(ctx, r.Billing, r.Number, []byte("%PDF-1.4 not really"))
	wantRefused(t, err, http.StatusUnprocessableEntity, "SCOR_PIECE_INVALID")
	if _, err := ph.SendSCOR(ctx, r.Billing, r.Number, testJPEG(t)); err != nil {
		t.Fatalf("the scanned prescription: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var st *client.Status
	for time.Now().Before(deadline) {
		if st, err = ph.Sheet(ctx, r.Billing, r.Number); err == nil && st.SCOR != nil && st.SCOR.Final() {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st == nil || st.SCOR == nil || st.SCOR.State != "acknowledged" {
		t.Fatalf("got SCOR %+v, want acknowledged", st.SCOR)
	}
	ns, err := ph.Notices(ctx, r.Billing, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range ns {
		found = found || (n.Number == r.Number && n.Event == "scor_acknowledged")
	}
	if !found {
		t.Errorf("no scor_acknowledged notice for sheet %s among %d notices", r.Number, len(ns))
	}

	_, national := pharmacySheet(t, 7301, func(s *fse.Sheet) { claim(s, "1234567890ABCDEF", fse.RxNational) })
	r, err = ph.SendSheet(ctx, national)
	if err != nil {
		t.Fatal(err)
	}
	if r.SCOR != "" || !hasWarning(r.Warnings, "PRESCRIPTION_NOT_VERIFIED") {
		t.Fatalf("got scor %q warnings %+v, want no SCOR and PRESCRIPTION_NOT_VERIFIED", r.SCOR, r.Warnings)
	}
	_, err = ph.SendSCOR(ctx, r.Billing, r.Number, testJPEG(t))
	wantRefused(t, err, http.StatusConflict, "SCOR_NOT_NEEDED")
}

func hasWarning(ws []client.ProblemItem, code string) bool {
	for _, w := range ws {
		if string(w.Code) == code {
			return true
		}
	}
	return false
}

// TestIntakeRefusalsListed: a sheet refused at the intake for a
// prescription not yet received is listed on its practice's rejects page
// ("Refused at the intake", not queued); once the prescription is carried,
// the same signed sheet is receipted, and the page shows it queued.
func TestIntakeRefusalsListed(t *testing.T) {
	m := startGateway(t)
	ph := newClient(t, m, "pharmacist")
	ctx := t.Context()
	s, signed := pharmacySheet(t, 7400, func(s *fse.Sheet) { claim(s, "RX-LATE-1", "") })
	_, err := ph.SendSheet(ctx, signed)
	wantRefused(t, err, http.StatusUnprocessableEntity, "PRESCRIPTION_UNKNOWN")
	page := func() string {
		req, _ := http.NewRequest("GET", "http://"+m.AdminAddr()+"/dashboard/practices/751000027/rejects", nil)
		req.Header.Set("Authorization", "Bearer "+operatorToken(t, m))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	row := regexp.MustCompile(`data-refusal="` + s.Number + `".*`)
	if got := row.FindString(page()); !strings.Contains(got, "PRESCRIPTION_UNKNOWN") || !strings.Contains(got, "not queued") {
		t.Fatalf("got row %q, want the sheet refused PRESCRIPTION_UNKNOWN, not queued", got)
	}
	if _, err := ph.SendPrescription(ctx, issue(t, "doctor", "RX-LATE-1", s.Patient.NIR, linesOf(t, s))); err != nil {
		t.Fatal(err)
	}
	if _, err := ph.SendSheet(ctx, signed); err != nil {
		t.Fatalf("the same sheet once its prescription is there: %v", err)
	}
	if got := row.FindString(page()); !strings.Contains(got, `s-queued`) && !strings.Contains(got, `s-batched`) {
		t.Fatalf("got row %q, want the sheet's state since", got)
	}
}
