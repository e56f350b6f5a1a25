package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv/pdfbomb"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
)

// TestAmountsThroughIntake: sheets priced by the rules (docs/amounts.md)
// posted through the HTTPS intake with the cards' keys; the mock insurers
// pay what fse.Compute gives, the participation recorded, not deducted; a
// Corsican FINESS passes; a billing number whose key fails gives the
// warning BILLING_KEY; the receipt names the tables' versions.
func TestAmountsThroughIntake(t *testing.T) {
	file := filepath.Join(t.TempDir(), "practices.yaml")
	doc := `practices:
  - billing: "751000019"
    profession: "10"
    specialty: "01"
    signers: ["899700218896"]
  - billing: "751000018"
    name: the same doctor, a billing number whose key fails
    profession: "10"
    specialty: "01"
    signers: ["899700218896"]
  - billing: "201000015"
    name: Pharmacie d'Ajaccio
    profession: "21"
    specialty: "00"
    finess: "2A0000123"
    signers: ["899700075122"]
`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startGateway(t, "--practices", file, "--mock-insurers", "--lot-max-age", "200ms")
	rules, err := dev.Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	today := fse.DateOf(time.Now().In(paris))
	doctor, pharmacist := newClient(t, m, "doctor"), newClient(t, m, "pharmacist")

	// sheet prices lines as the rules do, for a standard adult of the
	// CPAM de Paris, under tiers payant AMO.
	sheet := func(pr fse.Practitioner, number string, lines ...fse.Line) *fse.Sheet {
		s := &fse.Sheet{Number: number, Created: time.Now().UTC().Truncate(time.Second), CareDate: today, Securing: fse.SecuringVitale,
			Practitioner: pr,
			Patient:      fse.Patient{NIR: "170057512345632", BirthDate: fse.Date{Year: 1970, Month: time.May, Day: 4}, Rank: 1, Regime: "01", Caisse: "751", Centre: "0001", Coverage: fse.CoverageStandard},
			Lines:        lines,
			Totals:       fse.Totals{TiersPayantAMO: true},
		}
		if pr.Profession == fse.ProfessionPharmacist {
			s.Prescription = &fse.Prescription{ID: "RX-AJAC-0001-TEST", Prescriber: "99700218896", Dispenses: []fse.Dispense{{Line: 1, RxLine: 1}}}
		}
		b := fse.Compute(s, rules.Tables())
		for i := range s.Lines {
			s.Lines[i].AMO = b.Lines[i].AMO
			if b.Lines[i].Base != s.Lines[i].Amount {
				s.Lines[i].Base = b.Lines[i].Base
			}
		}
		s.Totals.Billed, s.Totals.AMO, s.Totals.Patient = b.Billed, b.AMO, b.Patient
		s.Totals.Participation, s.Totals.Franchises = b.Participation, b.Franchises
		return s
	}
	sign := func(card string, s *fse.Sheet) []byte {
		t.Helper()
		ms := cardSheets(t, card, s.Practitioner)
		signed, err := signature.SignOptions{}.Sign(t.Context(), s.Encode(), ms.Signer, ms.Chain)
		if err != nil {
			t.Fatal(err)
		}
		return signed
	}
	paid := func(c *client.Client, billing, number string) client.DestStatus {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st, err := c.Sheet(t.Context(), billing, number)
			if err == nil && len(st.Destinations) > 0 && st.Destinations[0].Final() {
				return st.Destinations[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("sheet %s/%s: not final: %+v %v", billing, number, st, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	g := fse.Line{Kind: fse.KindNGAP, Key: "G", Coefficient: 100, Amount: 3000}

	t.Run("G under tiers payant: paid 21.00, participation 2.00 recorded", func(t *testing.T) {
		s := sheet(doctorPr, "000007001", g)
		if s.Totals.AMO != 2100 || s.Totals.Participation != 200 {
			t.Fatalf("computed AMO %s participation %s, want 21.00 and 2.00", s.Totals.AMO, s.Totals.Participation)
		}
		r, err := doctor.SendSheet(t.Context(), sign("doctor", s))
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if len(r.Warnings) > 0 {
			t.Errorf("warnings %+v", r.Warnings)
		}
		for _, v := range []string{"fse-rules-2", rules.Tariffs.Version(), rules.CCAM.Version(), rules.Drugs.Version()} {
			if !strings.Contains(r.RulesVersion, v) {
				t.Errorf("receipt rules_version %q does not name %s", r.RulesVersion, v)
			}
		}
		if d := paid(doctor, "751000019", r.Number); d.State != "paid" || d.Amount != 2100 {
			t.Fatalf("got %s %d cents, want paid 2100", d.State, d.Amount)
		}
	})
	t.Run("participation deducted from the AMO total: refused", func(t *testing.T) {
		s := sheet(doctorPr, "000007002", g)
		s.Totals.AMO -= s.Totals.Participation
		s.Totals.Patient += s.Totals.Participation
		_, err := doctor.SendSheet(t.Context(), sign("doctor", s))
		wantRefused(t, err, http.StatusUnprocessableEntity, "TOTAL_AMO")
	})
	t.Run("billing number with a wrong key: warning BILLING_KEY", func(t *testing.T) {
		pr := doctorPr
		pr.Billing = "751000018"
		r, err := doctor.SendSheet(t.Context(), sign("doctor", sheet(pr, "000007003", g)))
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		var codes []string
		for _, w := range r.Warnings {
			codes = append(codes, string(w.Code))
		}
		if !slices.Equal(codes, []string{"BILLING_KEY"}) {
			t.Fatalf("got warnings %v, want BILLING_KEY", codes)
		}
	})
	t.Run("Corsican FINESS, a drug above its TFR and its dispensing fee", func(t *testing.T) {
		pr := fse.Practitioner{IDType: fse.IDTypeRPPS, ID: "99700075122", NationalID: "899700075122", Billing: "201000015", Profession: fse.ProfessionPharmacist, Specialty: "00", FINESS: "2A0000123"}
		// The prescription the claim references, sent first by its prescriber.
		rx := pdfbomb.File{Name: "prescription.json", Data: []byte(`{"id":"RX-AJAC-0001-TEST","date":"` + today.String() + `","patient":{"nir":"170057512345632"},"lines":[{"text":"ESOMEPRAZOLE 20 mg","cip13":"3400930000137","quantity":2}]}`)}
		if _, err := doctor.SendPrescription(t.Context(), signedPrescription(t, pdfbomb.Build(pdfbomb.Options{Files: []pdfbomb.File{rx}}))); err != nil {
			t.Fatalf("prescription: %v", err)
		}
		s := sheet(pr, "000007004",
			fse.Line{Kind: fse.KindDrug, CIP13: "3400930000137", Quantity: 2, UnitPrice: 742, Rate: 65, Amount: 1484},
			fse.Line{Kind: fse.KindFee, Code: "HD", Quantity: 2, UnitPrice: 102, Rate: 65, Amount: 204})
		if s.Totals.AMO != 725 || s.Totals.Franchises != 200 {
			t.Fatalf("computed AMO %s franchises %s, want 7.25 and 2.00", s.Totals.AMO, s.Totals.Franchises)
		}
		r, err := pharmacist.SendSheet(t.Context(), sign("pharmacist", s))
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if len(r.Warnings) > 0 {
			t.Errorf("warnings %+v", r.Warnings)
		}
		if d := paid(pharmacist, "201000015", r.Number); d.State != "paid" || d.Amount != 725 {
			t.Fatalf("got %s %d cents, want paid 725", d.State, d.Amount)
		}
	})
}
