package fse

import (
	"errors"
	"fmt"
	"github.com/fsegate/fsegate/problem"
	"math/rand/v2"
	"strconv"
	"time"
)

// GenerateOptions tunes Generate.
type GenerateOptions struct {
	// Now is the current time: sheets are dated that day or the day before,
	// within their sending deadline. Required.
	Now time.Time
	// Location is where calendar days are counted; nil means Europe/Paris.
	Location *time.Location
	// Practitioners bill the sheets; Generate picks one of the wanted
	// profession. Required.
	Practitioners []Practitioner
	// Prescriber is the RPPS written on pharmacy and nurse claims' prescriptions;
	// empty means the first doctor of Practitioners.
	Prescriber string
	// Profession keeps sheets of one profession: "doctor", "pharmacist",
	// "nurse" (or a G15 code); empty means any of Practitioners.
	Profession string
	// Tariffs prices the NGAP lines at the care date. Required for doctors
	// and nurses.
	Tariffs *Tariffs
	// CCAM and Drugs price CCAM acts and drugs (TFR included, and the
	// dispensing fees) when given; nil uses a few built-in acts and drugs
	// priced as in fixtures/tariffs (no TFR, no fee line).
	CCAM  *CCAMTariffs
	Drugs *DrugTariffs
	// Money are the participation and franchise amounts; the zero value
	// is DefaultMoneyRules.
	Money MoneyRules
	// Number is the sheet number (9 digits once formatted); 0 draws one.
	Number int
	// Break names the code of one rule the sheet must break; empty gives a
	// valid sheet. Format codes cannot be broken, but SHEET_VALUE can.
	Break string
}

// ProfessionCode gives the G15 code of a profession name ("doctor",
// "pharmacist", "nurse", "dentist", "midwife", "physio") or of a code.
func ProfessionCode(name string) (string, bool) {
	switch name {
	case "doctor", ProfessionDoctor:
		return ProfessionDoctor, true
	case "pharmacist", ProfessionPharmacist:
		return ProfessionPharmacist, true
	case "nurse", ProfessionNurse:
		return ProfessionNurse, true
	case "dentist", ProfessionDentist:
		return ProfessionDentist, true
	case "midwife", ProfessionMidwife:
		return ProfessionMidwife, true
	case "physio", ProfessionPhysio:
		return ProfessionPhysio, true
	}
	return "", false
}

// Breakable lists the codes Generate can break. PRICE_TABLE_DIFFERS is
// not among them: it needs options that warn on prices.
func Breakable() []string {
	var out []string
	for _, c := range codes {
		if (!c.Format || c == ErrValue) && c != WarnPriceDiffers {
			out = append(out, string(c.Code))
		}
	}
	return out
}

// breakNeeds gives the profession a broken rule needs.
var breakNeeds = map[problem.Code]string{
	CodeADELIInvalid:       ProfessionNurse,
	CodeProfessionNotAllow: ProfessionNurse,
	CodeFINESSInvalid:      ProfessionPharmacist,
	CodeCIP13:              ProfessionPharmacist,
	CodeFranchises:         ProfessionPharmacist,
	CodePriceTable:         ProfessionPharmacist,
	CodeNotInTable:         ProfessionPharmacist,
	CodeCCAMModifier:       ProfessionDoctor,
	CodeExemption:          ProfessionDoctor,
	CodeQuantity:           ProfessionPharmacist,
	CodeDrugRate:           ProfessionPharmacist,
	CodeLineAmount:         ProfessionPharmacist,
	CodePrescription:       ProfessionPharmacist,
	CodeCCAMCode:           ProfessionDoctor,
	CodeParticipation:      ProfessionDoctor,
	CodeNGAPKey:            ProfessionDoctor,
	CodeNGAPTariff:         ProfessionDoctor,
	CodeCoefficient:        ProfessionDoctor,
}

// insurers of the shared conventions: régime, caisse.
var genInsurers = [][2]string{{"01", "751"}, {"01", "751"}, {"01", "931"}, {"01", "131"}, {"02", "751"}}

// GenAMC is the AMC number of the test mutual.
const GenAMC = "123456789"

type genDrug struct {
	cip   string // 12 digits, the key is computed
	label string
	price Amount
	rate  int
}

var genDrugs = []genDrug{
	{"340093000001", "PARACETAMOL 1000MG CPR B/8", 208, 65},
	{"340093000002", "AMOXICILLINE 1G CPR B/6", 345, 65},
	{"340093000003", "IBUPROFENE 400MG CPR B/30", 290, 65},
	{"340093000004", "METFORMINE 850MG CPR B/90", 539, 65},
	{"340093000005", "ATORVASTATINE 20MG CPR B/90", 1185, 65},
	{"340093000006", "LEVOTHYROXINE 75UG CPR B/90", 345, 65},
	{"340093000007", "OMEPRAZOLE 20MG GELULE B/28", 410, 65},
	{"340093000008", "DIOSMINE 600MG CPR B/30", 412, 15},
	{"340093000009", "PHLOROGLUCINOL 80MG CPR B/10", 226, 30},
	{"340093000010", "INSULINE GLARGINE 100UI/ML STYLO B/5", 5219, 100},
	{"340093000011", "AMLODIPINE 5MG GELULE B/90", 612, 65},
	{"340093000012", "SALBUTAMOL 100UG SUSP INH FL/200", 383, 65},
}

var genCCAM = []struct {
	code, label string
	price       Amount
}{
	{"DEQP003", "ECG sur au moins 12 dérivations", 1452},
	{"QZJA002", "Ablation de corps étranger superficiel", 2500},
	{"BGQP002", "Examen du fond d'oeil", 2842},
}

var genDepts = []string{"75", "93", "13", "69", "33", "59", "2A", "2B", "44", "67"}

// Generate makes one realistic care sheet, valid under Validate with the
// same tariff table at opts.Now unless opts.Break names a rule to break.
// The same r state and options give the same sheet.
func Generate(r *rand.Rand, o GenerateOptions) (*Sheet, error) {
	if o.Now.IsZero() {
		return nil, errors.New("generate: Now is required")
	}
	var broken *CodeInfo
	brk := problem.Code(o.Break)
	if brk != "" {
		c, ok := LookupCode(brk)
		if !ok {
			return nil, fmt.Errorf("generate: unknown code %q", o.Break)
		}
		if c.Format && c != ErrValue {
			return nil, fmt.Errorf("generate: %s is a format code; a generated sheet cannot break it", o.Break)
		}
		broken = c
	}
	loc := o.Location
	if loc == nil {
		loc = parisLocation()
	}
	want := ""
	if o.Profession != "" {
		p, ok := ProfessionCode(o.Profession)
		if !ok {
			return nil, fmt.Errorf("generate: unknown profession %q", o.Profession)
		}
		want = p
	}
	if need := breakNeeds[brk]; need != "" {
		if want != "" && want != need {
			return nil, fmt.Errorf("generate: breaking %s needs a sheet of profession %s, not %s", o.Break, need, want)
		}
		want = need
	}
	var pool []Practitioner
	for _, p := range o.Practitioners {
		if want == "" || p.Profession == want {
			switch p.Profession {
			case ProfessionDoctor, ProfessionPharmacist, ProfessionNurse:
				pool = append(pool, p)
			}
		}
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("generate: no practitioner of profession %q among the %d given (doctors, pharmacists and nurses are generated)", want, len(o.Practitioners))
	}
	prac := pool[r.IntN(len(pool))]
	prescriber := o.Prescriber
	if prescriber == "" {
		for _, p := range o.Practitioners {
			if p.Profession == ProfessionDoctor && p.IDType == IDTypeRPPS {
				prescriber = p.ID
				break
			}
		}
	}
	if prescriber == "" {
		prescriber = "10107592585"
	}

	now := o.Now.In(loc)
	today := DateOf(now)
	s := &Sheet{Securing: SecuringVitale, Practitioner: prac}
	if o.Number > 0 {
		s.Number = fmt.Sprintf("%09d", o.Number%1000000000)
	} else {
		s.Number = fmt.Sprintf("%09d", r.IntN(1000000000))
	}

	// Dates: today or yesterday, within the deadline.
	s.CareDate = today.AddDays(-r.IntN(2))
	switch brk {
	case CodeCareDateFuture:
		s.CareDate = today.AddDays(2)
	case CodeCareDateTooOld:
		s.CareDate = today.AddDays(-DefaultMaxAge - 30)
	case CodeLate:
		s.CareDate = today.AddDays(-25)
	}
	if s.CareDate == today {
		s.Created = now.Add(-time.Duration(r.IntN(int(min(30*time.Minute, now.Sub(today.Time(loc)))/time.Second)+1)) * time.Second)
	} else {
		s.Created = s.CareDate.Time(loc).Add(8*time.Hour + time.Duration(r.IntN(10*3600))*time.Second)
	}
	s.Created = s.Created.UTC().Truncate(time.Second)

	// Patient.
	pt := &s.Patient
	ins := genInsurers[r.IntN(len(genInsurers))]
	pt.Regime, pt.Caisse, pt.Centre = ins[0], ins[1], "0001"
	sex := 1 + r.IntN(2)
	age := 2 + r.IntN(85)
	if r.IntN(5) == 0 {
		age = 1 + r.IntN(17) // a minor
	}
	switch brk {
	case CodeParticipation, CodeTotalAMO, CodeFranchises:
		age = 20 + r.IntN(50)
	}
	cov := r.IntN(20)
	switch {
	case cov < 13:
		pt.Coverage = CoverageStandard
	case cov < 16:
		pt.Coverage = CoverageALD
	case cov < 18 && sex == 2 && age >= 18 && age < 45:
		pt.Coverage = CoverageMaternity
	case cov < 18:
		pt.Coverage = CoverageStandard
	default:
		pt.Coverage = CoverageC2S
	}
	if brk == CodeParticipation || brk == CodeFranchises {
		pt.Coverage = CoverageStandard
	}
	birthYear := s.CareDate.Year - age
	birthMonth := time.Month(1 + r.IntN(12))
	pt.BirthDate = Date{birthYear, birthMonth, 1 + r.IntN(daysIn(birthMonth, birthYear))}
	if pt.BirthDate.After(s.CareDate) {
		pt.BirthDate = Date{birthYear - 1, birthMonth, 1}
	}
	pt.NIR = genNIR(r, sex, pt.BirthDate)
	pt.Rank = 1
	if r.IntN(50) == 0 {
		pt.Rank = 2
	}
	hasAMC := pt.Coverage != CoverageC2S && r.IntN(10) < 4
	if brk == CodeAMCMissing {
		hasAMC = true
	}
	if hasAMC {
		pt.AMC = GenAMC
	}

	// Lines.
	var tiersPayant bool
	switch prac.Profession {
	case ProfessionDoctor:
		if o.Tariffs == nil {
			return nil, errors.New("generate: a tariff table is needed to price doctors' sheets")
		}
		key := "G"
		if prac.Specialty != "01" && prac.Specialty != "" {
			key = "APC"
		} else if r.IntN(10) == 0 {
			key = "TC"
		}
		if err := s.addNGAP(o.Tariffs, key, 100, ""); err != nil {
			return nil, err
		}
		if r.IntN(4) == 0 || brk == CodeCCAMCode || brk == CodeCCAMModifier {
			if err := s.addCCAM(r, o.CCAM); err != nil {
				return nil, err
			}
		}
		tiersPayant = pt.Coverage != CoverageStandard || r.IntN(3) == 0
	case ProfessionNurse:
		if o.Tariffs == nil {
			return nil, errors.New("generate: a tariff table is needed to price nurses' sheets")
		}
		for _, a := range [][2]any{{"AMI", 100}, {"AMI", 200}, {"AIS", 300}, {"AMI", 400}} {
			if r.IntN(2) == 0 || len(s.Lines) == 0 {
				if err := s.addNGAP(o.Tariffs, a[0].(string), Coefficient(a[1].(int)), ""); err != nil {
					return nil, err
				}
			}
		}
		if r.IntN(2) == 0 {
			if err := s.addNGAP(o.Tariffs, "IFD", 100, "indemnité forfaitaire de déplacement"); err != nil {
				return nil, err
			}
		}
		// A nurse's prescription: a national e-prescription number.
		s.Prescription = &Prescription{ID: genRxID(r), Prescriber: prescriber, Kind: RxNational}
		tiersPayant = r.IntN(5) != 0
	case ProfessionPharmacist:
		if err := s.addDrugs(r, o.Drugs, 2+r.IntN(6), brk == CodeNotInTable); err != nil {
			return nil, err
		}
		s.Prescription = &Prescription{ID: genRxID(r), Prescriber: prescriber}
		tiersPayant = true
	}
	// Exemptions, line by line: an ALD patient's first act is linked to
	// the ALD, the others are drawn; maternity covers every line.
	for i := range s.Lines {
		l := &s.Lines[i]
		switch pt.Coverage {
		case CoverageALD:
			if i == 0 || r.IntN(2) == 0 {
				l.Exemption = ExemptionALD
			}
		case CoverageMaternity:
			l.Exemption = ExemptionMaternity
		}
	}

	// Line-level breaks, before the totals are computed.
	switch brk {
	case CodeNGAPKey:
		s.Lines[0].Key = "ZZZ"
	case CodeNGAPTariff:
		s.Lines[0].Amount += 100
	case CodeCoefficient:
		s.Lines[0].Coefficient, s.Lines[0].Amount = 0, 0
	case CodeCCAMCode:
		s.Lines[len(s.Lines)-1].Code = "DEQP03"
	case CodeCCAMModifier:
		s.Lines[len(s.Lines)-1].Modifiers = "Z"
	case CodeCIP13:
		c := []byte(s.Lines[0].CIP13)
		c[12] = '0' + (c[12]-'0'+1)%10
		s.Lines[0].CIP13 = string(c)
	case CodeQuantity:
		s.Lines[0].Quantity, s.Lines[0].Amount = 0, 0
	case CodeDrugRate:
		s.Lines[0].Rate = 50
	case CodeLineAmount:
		s.Lines[0].Amount++
	case CodePriceTable:
		l := &s.Lines[0]
		l.UnitPrice++
		l.Amount = l.UnitPrice * Amount(l.Quantity)
		l.Base = 0
	case CodeExemption:
		s.Lines[0].Exemption = ExemptionALD
		if pt.Coverage == CoverageALD {
			s.Lines[0].Exemption = ExemptionMaternity
		}
	case CodeProfessionNotAllow:
		if err := s.addNGAP(o.Tariffs, "G", 100, ""); err != nil {
			return nil, err
		}
		// a G for a nurse: priced at the doctors' value
		v, _ := o.Tariffs.Lookup("G", ProfessionDoctor, s.CareDate)
		s.Lines[len(s.Lines)-1].Amount = v
	case CodeLines:
		s.Lines = nil
	}
	tables := Tables{NGAP: o.Tariffs, CCAM: o.CCAM, Drugs: o.Drugs, Money: o.Money}
	b := Compute(s, tables)
	for i := range s.Lines {
		l := &s.Lines[i]
		l.AMO = b.Lines[i].AMO
		if b.Lines[i].Base != l.Amount {
			l.Base = b.Lines[i].Base
		}
		if l.Kind == KindDrug && l.Rate == 50 {
			l.AMO = share(b.Lines[i].Base, 65)
		}
	}
	if brk == CodeAMOShare {
		s.Lines[0].AMO++
	}

	// Totals: the AMO is paid its whole share; the participation and the
	// franchises are recorded, not deducted.
	t := &s.Totals
	for _, l := range s.Lines {
		t.Billed += l.Amount
		t.AMO += l.AMO
	}
	t.Participation = b.Participation
	t.Franchises = b.Franchises
	switch {
	case pt.Coverage == CoverageC2S:
		t.AMC = b.Complementary // the whole ticket modérateur
	case hasAMC:
		t.AMC = b.Base - b.AMO // the ticket modérateur
	}
	t.Patient = t.Billed - t.AMO - t.AMC
	t.TiersPayantAMO = tiersPayant
	t.TiersPayantAMC = tiersPayant && t.AMC > 0 && pt.AMC != ""

	// Other breaks.
	switch brk {
	case "":
	case CodeValue:
		s.Securing = "paper"
	case CodeRequired:
		s.Practitioner.Specialty = ""
	case CodeNumberFormat:
		s.Number = s.Number[:5]
	case CodeNIRFormat:
		s.Patient.NIR = "3" + s.Patient.NIR[1:]
	case CodeNIRKey:
		k, _ := NIRKey(s.Patient.NIR)
		s.Patient.NIR = s.Patient.NIR[:13] + twoDigits(k%97+1)
	case CodeRPPSInvalid:
		s.Prescription = &Prescription{ID: genRxID(r), Prescriber: flipLast(prescriber)}
	case CodeADELIInvalid:
		s.Practitioner.ID = flipLast(s.Practitioner.ID)
		s.Practitioner.NationalID = "0" + s.Practitioner.ID
	case CodeFINESSInvalid:
		s.Practitioner.FINESS = "750712185"
	case CodeNationalID:
		s.Practitioner.NationalID = "1" + s.Practitioner.NationalID[1:]
	case CodeBillingFormat:
		s.Practitioner.Billing = s.Practitioner.Billing[:8]
	case CodeProfession:
		s.Practitioner.Profession = "99"
	case CodeSpecialty:
		s.Practitioner.Specialty = "1"
	case CodeBirthDate:
		s.Patient.BirthDate = s.CareDate.AddDays(1)
	case CodeRank:
		s.Patient.Rank = 0
	case CodeRouting:
		s.Patient.Centre = "01"
	case CodeCreated:
		s.Created = s.CareDate.AddDays(-1).Time(loc).Add(12 * time.Hour).UTC()
	case CodeParticipation:
		t.Participation = 0
	case CodeFranchises:
		t.Franchises = 0
	case CodeBillingKey:
		s.Practitioner.Billing = flipLast(s.Practitioner.Billing)
	case CodeTotalBilled:
		t.Billed += 100
		t.Patient += 100
	case CodeTotalAMO:
		t.AMO--
		t.Patient++
	case CodeTotalSplit:
		t.Patient++
	case CodeAMCMissing:
		s.Patient.AMC = ""
		t.TiersPayantAMC = true
	case CodePrescription:
		s.Prescription = nil
	case CodeDegraded:
		s.Securing = SecuringDegraded
	case CodeNGAPKey, CodeNGAPTariff, CodeCoefficient, CodeCCAMCode, CodeCIP13, CodeQuantity,
		CodeDrugRate, CodeLineAmount, CodeProfessionNotAllow, CodeLines, CodeAMOShare,
		CodeCCAMModifier, CodePriceTable, CodeExemption, CodeNotInTable,
		CodeCareDateFuture, CodeCareDateTooOld, CodeLate:
		// done above
	default:
		return nil, fmt.Errorf("generate: breaking %s is not supported", broken.Code)
	}
	return s, nil
}

func (s *Sheet) addNGAP(t *Tariffs, key string, coef Coefficient, label string) error {
	prof := s.Practitioner.Profession
	if key == "G" && prof != ProfessionDoctor {
		prof = ProfessionDoctor // PROFESSION_NOT_ALLOWED: priced below
	}
	v, ok := t.Lookup(key, prof, s.CareDate)
	if !ok {
		return fmt.Errorf("generate: NGAP key %s has no tariff for profession %s on %s in table %s", key, prof, s.CareDate, t.Version())
	}
	s.Lines = append(s.Lines, Line{Kind: KindNGAP, Key: key, Coefficient: coef, Label: label, Amount: (v*Amount(coef) + 50) / 100})
	return nil
}

// addCCAM adds one CCAM act: drawn from the table's acts of genCCAM when
// t is given, else genCCAM as built in.
func (s *Sheet) addCCAM(r *rand.Rand, t *CCAMTariffs) error {
	c := genCCAM[r.IntN(len(genCCAM))]
	price := c.price
	if t != nil {
		a, ok := t.Act(c.code, 1, s.CareDate)
		if !ok {
			return fmt.Errorf("generate: CCAM act %s is not in table %s on %s", c.code, t.Version(), s.CareDate)
		}
		price = a.Tariff
	}
	s.Lines = append(s.Lines, Line{Kind: KindCCAM, Code: c.code, Label: c.label, Amount: price})
	return nil
}

// addDrugs adds n drug lines, from the table when t is given (TFR
// included) with one dispensing fee line (HD, per box) per rate class,
// else the built-in genDrugs without fees. With unknown, the first drug is
// one no table knows.
func (s *Sheet) addDrugs(r *rand.Rand, t *DrugTariffs, n int, unknown bool) error {
	type drug struct {
		cip, label string
		price      Amount
		rate       int
	}
	var pool []drug
	if t != nil {
		for _, cip := range t.CIPs(s.CareDate) {
			d, _ := t.Drug(cip, s.CareDate)
			pool = append(pool, drug{cip, "", d.Price, d.Rate})
		}
	} else {
		for _, d := range genDrugs {
			pool = append(pool, drug{d.cip + strconv.Itoa(ean13Check(d.cip)), d.label, d.price, d.rate})
		}
	}
	if len(pool) < n {
		return fmt.Errorf("generate: %d drugs in table %s on %s, %d wanted", len(pool), t.Version(), s.CareDate, n)
	}
	perm := r.Perm(len(pool))
	boxes := map[int]int{}
	for i := 0; i < n; i++ {
		d := pool[perm[i]]
		if unknown && i == 0 {
			d = drug{"340093999999" + strconv.Itoa(ean13Check("340093999999")), "MEDICAMENT HORS TABLE", 500, 65}
		}
		q := 1 + r.IntN(3)
		s.Lines = append(s.Lines, Line{Kind: KindDrug, CIP13: d.cip, Label: d.label, Quantity: q, UnitPrice: d.price, Rate: d.rate, Amount: d.price * Amount(q)})
		boxes[d.rate] += q
	}
	if t == nil {
		return nil // dispensing fees only with a table that prices them
	}
	f, ok := t.Fee("HD", s.CareDate)
	if !ok {
		return nil // no dispensing fee in the table
	}
	hd := f.Value
	for _, rate := range []int{100, 65, 30, 15} {
		if q := boxes[rate]; q > 0 {
			s.Lines = append(s.Lines, Line{Kind: KindFee, Code: "HD", Label: "honoraire de dispensation", Quantity: q, UnitPrice: hd, Rate: rate, Amount: hd * Amount(q)})
		}
	}
	return nil
}

func flipLast(id string) string {
	b := []byte(id)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

func genRxID(r *rand.Rand) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 0, 16)
	b = append(b, "RX-"...)
	for i := 0; i < 12; i++ {
		if i == 4 || i == 8 {
			b = append(b, '-')
		}
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return string(b)
}

// genNIR makes a NIR with a valid key for someone of sex (1, 2) born on b.
func genNIR(r *rand.Rand, sex int, b Date) string {
	dept := genDepts[r.IntN(len(genDepts))]
	n := fmt.Sprintf("%d%02d%02d%s%03d%03d", sex, b.Year%100, int(b.Month), dept, 1+r.IntN(999), 1+r.IntN(999))
	k, _ := NIRKey(n)
	return n + twoDigits(k)
}
