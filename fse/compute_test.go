package fse_test

import (
	"errors"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fse"
)

// Worked examples: what a sheet is paid, to the cent, with the fixtures'
// tables (fixtures/tariffs). Each cites what its rules rest on; the sources
// are detailed in docs/amounts.md.
func TestComputeWorkedExamples(t *testing.T) {
	tar, hol := loadTables(t)
	ccam, drugs := loadPriceTables(t)
	tables := fse.Tables{NGAP: tar, CCAM: ccam, Drugs: drugs}

	doctor := testPractitioners[0]
	pharmacist := testPractitioners[1]
	nurse := testPractitioners[2]
	adult := fse.Date{Year: 1970, Month: time.May, Day: 4}
	esomeprazole := "3400930000137" // princeps, €7.42, TFR €4.55 (drugs.csv)
	paracetamol := "3400930000014"  // €2.08, 65 %
	amoxicilline := "3400930000021" // €3.45, 65 %

	ngap := func(key string, coef fse.Coefficient, amount fse.Amount, ex string) fse.Line {
		return fse.Line{Kind: fse.KindNGAP, Key: key, Coefficient: coef, Amount: amount, Exemption: ex}
	}
	drug := func(cip string, q int, price fse.Amount, rate int, ex string) fse.Line {
		return fse.Line{Kind: fse.KindDrug, CIP13: cip, Quantity: q, UnitPrice: price, Rate: rate, Amount: price * fse.Amount(q), Exemption: ex}
	}
	fee := func(q, rate int, ex string) fse.Line {
		return fse.Line{Kind: fse.KindFee, Code: "HD", Quantity: q, UnitPrice: 102, Rate: rate, Amount: 102 * fse.Amount(q), Exemption: ex}
	}

	type want struct {
		rates         []int
		amo           []fse.Amount
		amoTotal      fse.Amount
		complementary fse.Amount
		patient       fse.Amount
		participation fse.Amount
		franchises    fse.Amount
		paidByAMO     fse.Amount
		paidByAMC     fse.Amount
	}
	tests := []struct {
		name     string
		source   string
		care     fse.Date
		prac     fse.Practitioner
		coverage string
		amc      string // patient's AMC number
		amcShare fse.Amount
		tpAMC    bool
		lines    []fse.Line
		want     want
	}{
		{
			name:   "G under tiers payant with participation",
			source: "domain.md §5 (G €30 since 2024-12-22, AMO 70 %, participation €2 since 2024-05-15) and §12 (participation recovered later, never deducted: AN QE n°7920, service-public F167)",
			care:   fse.Date{Year: 2025, Month: time.March, Day: 10}, prac: doctor, coverage: fse.CoverageStandard,
			lines: []fse.Line{ngap("G", 100, 3000, "")},
			want:  want{rates: []int{70}, amo: []fse.Amount{2100}, amoTotal: 2100, patient: 900, participation: 200, paidByAMO: 2100},
		},
		{
			name:   "C2S patient: the AMO pays 70 %, C2S (managed by the AMO) the rest",
			source: "domain.md §12 (C2S is a complementary paying the ticket modérateur, solidarites.gouv.fr), §5 (no participation under C2S)",
			care:   fse.Date{Year: 2025, Month: time.March, Day: 10}, prac: doctor, coverage: fse.CoverageC2S,
			lines: []fse.Line{ngap("G", 100, 3000, "")},
			want:  want{rates: []int{70}, amo: []fse.Amount{2100}, amoTotal: 2100, complementary: 900, paidByAMO: 3000},
		},
		{
			name:   "ALD patient: the ALD-linked line at 100 %, the other at 70 %",
			source: "domain.md §12 (ALD: 100 % only for ALD-linked care, per line; ameli); participation still due (§5 exempts minors, C2S, maternity only)",
			care:   fse.Date{Year: 2025, Month: time.March, Day: 10}, prac: doctor, coverage: fse.CoverageALD,
			lines: []fse.Line{ngap("G", 100, 3000, fse.ExemptionALD), {Kind: fse.KindCCAM, Code: "DEQP003", Amount: 1452}},
			want:  want{rates: []int{100, 70}, amo: []fse.Amount{3000, 1016}, amoTotal: 4016, patient: 436, participation: 200, paidByAMO: 4016},
		},
		{
			name:   "maternity sheet with drugs and dispensing fees, every line at 100 %, no franchise",
			source: "domain.md §12 (maternity exemption per line, drugs included; dispensing fee at the drug's rate: christianpaul.fr QE 2015); franchise exemption for pregnant women (quechoisir.org 2024-04, décret 2024-114)",
			care:   fse.Date{Year: 2025, Month: time.June, Day: 2}, prac: pharmacist, coverage: fse.CoverageMaternity,
			lines: []fse.Line{drug(paracetamol, 2, 208, 65, fse.ExemptionMaternity), drug(amoxicilline, 1, 345, 65, fse.ExemptionMaternity), fee(3, 65, fse.ExemptionMaternity)},
			want:  want{rates: []int{100, 100, 100}, amo: []fse.Amount{416, 345, 306}, amoTotal: 1067, paidByAMO: 1067},
		},
		{
			name:   "nurse AMI at 60 % with IFD €2.75 after 2024-01-28",
			source: "domain.md §12 (auxiliaries at 60 %; IFD €2.75 since 2024-01-28, avenant 10; AMI €3.15 since 2009); franchise €0.50 per act before 2024-03-31 (décret 2024-114)",
			care:   fse.Date{Year: 2024, Month: time.February, Day: 1}, prac: nurse, coverage: fse.CoverageStandard,
			lines: []fse.Line{ngap("AMI", 100, 315, ""), ngap("IFD", 100, 275, "")},
			want:  want{rates: []int{60, 60}, amo: []fse.Amount{189, 165}, amoTotal: 354, patient: 236, franchises: 50, paidByAMO: 354},
		},
		{
			name:   "nurse AMI at 60 % with IFD €2.50 before 2024-01-28",
			source: "domain.md §5 (IFD €2.50 from 2012) and §12",
			care:   fse.Date{Year: 2024, Month: time.January, Day: 26}, prac: nurse, coverage: fse.CoverageStandard,
			lines: []fse.Line{ngap("AMI", 200, 630, ""), ngap("IFD", 100, 250, "")},
			want:  want{rates: []int{60, 60}, amo: []fse.Amount{378, 150}, amoTotal: 528, patient: 352, franchises: 50, paidByAMO: 528},
		},
		{
			name:   "nurse on five acts: the daily cap of €4 on franchises",
			source: "franchise €1 per auxiliary's act, at most €4 a day, since 2024-03-31 (décret 2024-114; swisslife.fr, quechoisir.org 2024-04)",
			care:   fse.Date{Year: 2025, Month: time.March, Day: 10}, prac: nurse, coverage: fse.CoverageStandard,
			lines: []fse.Line{ngap("AMI", 100, 315, ""), ngap("AMI", 100, 315, ""), ngap("AIS", 100, 265, ""), ngap("AMI", 100, 315, ""), ngap("AMI", 100, 315, "")},
			want:  want{rates: []int{60, 60, 60, 60, 60}, amo: []fse.Amount{189, 189, 159, 189, 189}, amoTotal: 915, patient: 610, franchises: 400, paidByAMO: 915},
		},
		{
			name:   "CCAM act with a modifier (F, Sunday)",
			source: "ccam.csv DEQP003 €14.52 and ccam-modifiers.csv F +€19.06 (values assumed, docs/amounts.md); AMO 70 % and participation €2 (domain.md §5)",
			care:   fse.Date{Year: 2025, Month: time.June, Day: 1}, prac: doctor, coverage: fse.CoverageStandard,
			lines: []fse.Line{{Kind: fse.KindCCAM, Code: "DEQP003", Modifiers: "F", Amount: 3358}},
			want:  want{rates: []int{70}, amo: []fse.Amount{2351}, amoTotal: 2351, patient: 1007, participation: 200, paidByAMO: 2351},
		},
		{
			name:   "pharmacy: a drug above its TFR and its dispensing fee, AMC paying the ticket modérateur",
			source: "domain.md §12 (TFR reimbursement base where a generic group has one; drugs by rate class; HD fee); HD €1.02 per box since 2016 at the drug's rate (sante-pratique-paris.fr, christianpaul.fr); franchise €1 per box since 2024-03-31 (décret 2024-114)",
			care:   fse.Date{Year: 2025, Month: time.June, Day: 2}, prac: pharmacist, coverage: fse.CoverageStandard,
			amc: fse.GenAMC, amcShare: 389, tpAMC: true,
			lines: []fse.Line{drug(esomeprazole, 2, 742, 65, ""), fee(2, 65, "")},
			// base 2 × 4.55 = 9.10, AMO 65 % = 5.92 (half up); HD 2.04 at 65 % = 1.33;
			// AMC = (9.10 − 5.92) + (2.04 − 1.33) = 3.89; the patient pays the 5.74 above the TFR.
			want: want{rates: []int{65, 65}, amo: []fse.Amount{592, 133}, amoTotal: 725, complementary: 389, patient: 574, franchises: 200, paidByAMO: 725, paidByAMC: 389},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Logf("source: %s", tt.source)
			s := &fse.Sheet{
				Number: "000000042", Securing: fse.SecuringVitale, CareDate: tt.care,
				Created:      tt.care.Time(time.UTC).Add(10 * time.Hour),
				Practitioner: tt.prac,
				Patient: fse.Patient{NIR: "170057512345632", BirthDate: adult, Rank: 1, Regime: "01", Caisse: "751", Centre: "0001",
					AMC: tt.amc, Coverage: tt.coverage},
				Lines:  tt.lines,
				Totals: fse.Totals{AMC: tt.amcShare, TiersPayantAMO: true, TiersPayantAMC: tt.tpAMC},
			}
			if tt.prac.Profession != fse.ProfessionDoctor {
				s.Prescription = &fse.Prescription{ID: "RX-TEST-0001", Prescriber: doctor.ID}
			}
			b := fse.Compute(s, tables)
			w := tt.want
			for i := range s.Lines {
				if got := b.Lines[i].Rate; got != w.rates[i] {
					t.Errorf("line %d: got rate %d %%, want %d %%", i+1, got, w.rates[i])
				}
				if got := b.Lines[i].AMO; got != w.amo[i] {
					t.Errorf("line %d: got AMO %s, want %s", i+1, got, w.amo[i])
				}
			}
			for _, c := range []struct {
				what      string
				got, want fse.Amount
			}{
				{"AMO", b.AMO, w.amoTotal},
				{"complementary", b.Complementary, w.complementary},
				{"patient", b.Patient, w.patient},
				{"participation due", b.Participation, w.participation},
				{"franchises due", b.Franchises, w.franchises},
				{"paid by the AMO", b.PaidByAMO(s), w.paidByAMO},
				{"paid by the AMC", b.PaidByAMC(s), w.paidByAMC},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %s, want %s", c.what, c.got, c.want)
				}
			}
			// The same sheet, its amounts recorded, is valid under the rules.
			for i := range s.Lines {
				s.Lines[i].AMO = b.Lines[i].AMO
				if b.Lines[i].Base != s.Lines[i].Amount {
					s.Lines[i].Base = b.Lines[i].Base
				}
			}
			s.Totals.Billed, s.Totals.AMO, s.Totals.AMC, s.Totals.Patient = b.Billed, b.AMO, b.Complementary, b.Patient
			s.Totals.Participation, s.Totals.Franchises = b.Participation, b.Franchises
			opts := fse.Options{Now: func() time.Time { return tt.care.Time(time.UTC).Add(30 * time.Hour) }, Tariffs: tar, CCAM: ccam, Drugs: drugs, Holidays: hol}
			warns, err := fse.Validate(s, opts)
			if err != nil {
				t.Fatalf("the computed sheet is refused: %v", err)
			}
			if len(warns) > 0 {
				t.Errorf("warnings %v", warns)
			}
		})
	}
}

// The participation is recorded, never deducted: a sheet whose AMO total
// has the participation taken off (the rule before fse-rules-2) is refused.
func TestParticipationNotDeducted(t *testing.T) {
	s := generate(t, 3, "doctor", "")
	for seed := uint64(4); s.Totals.Participation == 0; seed++ {
		s = generate(t, seed, "doctor", "")
	}
	if _, err := fse.Validate(s, testOptions(t)); err != nil {
		t.Fatalf("generated sheet: %v", err)
	}
	s.Totals.AMO -= s.Totals.Participation
	s.Totals.Patient += s.Totals.Participation
	_, err := fse.Validate(s, testOptions(t))
	if !errors.Is(err, fse.ErrTotalAMO) {
		t.Fatalf("got %v, want TOTAL_AMO", err)
	}
}

// Caps: the €50 yearly cap of the participation, applied by the insurer
// over the sheets it has seen, starts again each year.
func TestCapsYearly(t *testing.T) {
	var c fse.Caps
	s := &fse.Sheet{CareDate: fse.Date{Year: 2025, Month: time.January, Day: 2}}
	b := &fse.Breakdown{Participation: 200, Franchises: 300}
	var part, fr fse.Amount
	for i := 0; i < 25; i++ { // 25 × €2 = €50
		p, f := c.Apply(s, b, fse.MoneyRules{})
		part += p
		fr += f
	}
	if part != 5000 || fr != 5000 {
		t.Fatalf("after 25 sheets: got %s and %s, want 50.00 and 50.00", part, fr)
	}
	if p, f := c.Apply(s, b, fse.MoneyRules{}); p != 0 || f != 0 {
		t.Errorf("over the cap: got %s and %s recovered, want 0.00", p, f)
	}
	s.CareDate.Year = 2026
	if p, f := c.Apply(s, b, fse.MoneyRules{}); p != 200 || f != 300 {
		t.Errorf("a new year: got %s and %s, want 2.00 and 3.00", p, f)
	}
}

// PaymentDue: 7 working days (CSS D.161-13-3) after the day of the ARL, in
// the insurer's calendar, to the end of the day in Paris.
func TestPaymentDue(t *testing.T) {
	_, hol := loadTables(t)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		arl      time.Time
		holidays *fse.Holidays
		want     time.Time
	}{
		{"a Wednesday: the next Friday but one", time.Date(2026, 3, 18, 15, 0, 0, 0, paris), hol, time.Date(2026, 3, 28, 0, 0, 0, 0, paris)},
		{"over Christmas (2026-12-25 a holiday)", time.Date(2026, 12, 18, 9, 0, 0, 0, paris), hol, time.Date(2026, 12, 31, 0, 0, 0, 0, paris)},
		{"without a calendar, weekends only", time.Date(2026, 12, 18, 9, 0, 0, 0, paris), nil, time.Date(2026, 12, 30, 0, 0, 0, 0, paris)},
		{"late evening UTC is the next day in Paris", time.Date(2026, 3, 17, 23, 30, 0, 0, time.UTC), hol, time.Date(2026, 3, 28, 0, 0, 0, 0, paris)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fse.PaymentDue(tt.arl, fse.PaymentDays, tt.holidays); !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// An AMC's share, declared for the sheet, spread over the lines in
// proportion of their ticket modérateur (the last line takes the rounding).
func TestComputeAMCSpread(t *testing.T) {
	tar, _ := loadTables(t)
	ccam, drugs := loadPriceTables(t)
	s := &fse.Sheet{
		CareDate:     fse.Date{Year: 2025, Month: time.March, Day: 10},
		Practitioner: testPractitioners[0],
		Patient:      fse.Patient{BirthDate: fse.Date{Year: 1970, Month: time.May, Day: 4}, AMC: fse.GenAMC, Coverage: fse.CoverageStandard},
		Lines:        []fse.Line{{Kind: fse.KindNGAP, Key: "G", Coefficient: 100, Amount: 3000}, {Kind: fse.KindCCAM, Code: "DEQP003", Amount: 1452}},
	}
	for _, tt := range []struct {
		amc        fse.Amount
		want       [2]fse.Amount
		patientEnd fse.Amount
	}{
		{1336, [2]fse.Amount{900, 436}, 0},   // the whole ticket modérateur
		{668, [2]fse.Amount{450, 218}, 668},  // half of it
		{1000, [2]fse.Amount{673, 327}, 336}, // 1000 × 900/1336 = 673 (rounded down), the rest on the last line
	} {
		s.Totals.AMC = tt.amc
		b := fse.Compute(s, fse.Tables{NGAP: tar, CCAM: ccam, Drugs: drugs})
		if b.ComplementaryBy != fse.ComplementaryAMC || b.Lines[0].Complementary != tt.want[0] || b.Lines[1].Complementary != tt.want[1] || b.Complementary != tt.amc {
			t.Errorf("AMC %s: got %s and %s (%s by %q), want %s and %s", tt.amc, b.Lines[0].Complementary, b.Lines[1].Complementary, b.Complementary, b.ComplementaryBy, tt.want[0], tt.want[1])
		}
		if b.Patient != tt.patientEnd {
			t.Errorf("AMC %s: patient %s, want %s", tt.amc, b.Patient, tt.patientEnd)
		}
	}
}
