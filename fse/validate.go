package fse

import (
	"strconv"
	"sync"
	"time"
)

// RulesVersion names the set of rules Validate applies. The workstation's
// check reports it and the gateway's receipt names it, with the tables'
// versions, so a mismatch between both sides is visible.
const RulesVersion = "fse-rules-2"

// DefaultMaxAge is the oldest care date accepted when Options.MaxAge is 0.
const DefaultMaxAge = 730 // days

// PriceRule says what a line priced differently from its table gives.
type PriceRule int

const (
	// PriceRefuse refuses the sheet (NGAP_TARIFF for NGAP lines,
	// PRICE_TABLE for CCAM, drug and fee lines): the zero value.
	PriceRefuse PriceRule = iota
	// PriceWarn accepts it with the warning PRICE_TABLE_DIFFERS; the
	// line's shares are computed from its billed amount.
	PriceWarn
)

// PricePolicy is the PriceRule of each table.
type PricePolicy struct {
	NGAP  PriceRule
	CCAM  PriceRule
	Drugs PriceRule // drugs and pharmacy fees
}

// Options tunes Validate. The zero value is strict: the current time is the
// system's, care older than DefaultMaxAge days is refused, an NGAP line
// without a tariff table is refused (the table must be given), a price
// different from a table is refused, and without a holiday table only
// weekends are non-working days (deadlines come sooner).
type Options struct {
	// Now gives the current time; nil means time.Now.
	Now func() time.Time
	// Location is where calendar days are counted; nil means Europe/Paris.
	Location *time.Location
	// MaxAge is the oldest care date accepted, in days before today;
	// 0 means DefaultMaxAge.
	MaxAge int
	// Tariffs is the NGAP tariff table (ParseTariffs). Without it every
	// NGAP line is refused with NGAP_KEY_UNKNOWN.
	Tariffs *Tariffs
	// CCAM is the CCAM table (ParseCCAM); nil keeps each CCAM line's
	// billed amount, at 70 %, unchecked.
	CCAM *CCAMTariffs
	// Drugs is the drug and pharmacy fee table (ParseDrugs); nil keeps
	// each drug line's price and rate, unchecked.
	Drugs *DrugTariffs
	// Prices says, per table, whether a price different from the table
	// is refused (the zero value) or a warning.
	Prices PricePolicy
	// Money are the participation forfaitaire and franchise amounts; the
	// zero value is DefaultMoneyRules.
	Money MoneyRules
	// Holidays is the public holiday table (ParseHolidays) for the sending
	// deadline.
	Holidays *Holidays
}

// Tables gives the tariff tables of these options, for Compute.
func (o Options) Tables() Tables {
	return Tables{NGAP: o.Tariffs, CCAM: o.CCAM, Drugs: o.Drugs, Money: o.Money}
}

// Version names the rules and the tables applied with these options,
// e.g. "fse-rules-2+ngap-2024-12-22+ccam-2025-01-01+drugs-2020-01-01".
func (o Options) Version() string { return RulesVersion + "+" + o.Tables().Version() }

var (
	parisOnce sync.Once
	paris     *time.Location
)

func parisLocation() *time.Location {
	parisOnce.Do(func() {
		var err error
		if paris, err = time.LoadLocation("Europe/Paris"); err != nil {
			paris = time.FixedZone("CET", 3600)
		}
	})
	return paris
}

// Participation gives the participation forfaitaire due for the sheet as
// its lines declare their AMO shares, with DefaultMoneyRules: one per
// sheet, for a doctor's acts (NGAP or CCAM lines), except for minors, C2S
// and maternity coverage, capped at the AMO share of the acts. Compute
// gives it from the tables.
func Participation(s *Sheet) Amount {
	if exemptFromParticipation(s) || s.Practitioner.Profession != ProfessionDoctor {
		return 0
	}
	var acts Amount
	for i := range s.Lines {
		if k := s.Lines[i].Kind; k == KindNGAP || k == KindCCAM {
			acts += s.Lines[i].AMO
		}
	}
	if acts <= 0 {
		return 0
	}
	return min(valueOn(DefaultMoneyRules.Participation, s.CareDate), acts)
}

// share gives rate % of a, rounded half up to the cent.
func share(a Amount, rate int) Amount { return (a*Amount(rate) + 50) / 100 }

// Deadline gives the last day to send a sheet for care on day care: 3
// working days after it, 8 under tiers payant.
func Deadline(care Date, tiersPayant bool, h *Holidays) Date {
	n := 3
	if tiersPayant {
		n = 8
	}
	return h.AddWorkingDays(care, n)
}

// PaymentDays is the longest a tiers-payant payment may take, in working
// days, when the sheet was sent electronically: CSS art. D.161-13-3
// (décret 2016-1069 of 3 August 2016); past it the AMO owes the
// practitioner a penalty (€1 on the 8th and 9th working days, 10 % of its
// share from the 10th, D.161-13-4).
const PaymentDays = 7

// PaymentDue gives when a payment counted from received is overdue: the
// end (midnight, Europe/Paris) of the n-th working day after the day of
// received, with the insurer's holiday calendar h. fsegate counts from
// the positive ARL, the insurer's acknowledgement that it received the
// lot (docs/amounts.md, "Deadlines").
func PaymentDue(received time.Time, n int, h *Holidays) time.Time {
	loc := parisLocation()
	last := h.AddWorkingDays(DateOf(received.In(loc)), n)
	return last.AddDays(1).Time(loc)
}

// Validate checks every rule a caisse checks. err is a *ValidationError
// holding every violation, nil when the sheet is valid; warnings (LATE,
// DEGRADED_MODE) never make it invalid.
func Validate(s *Sheet, o Options) (warnings []*FieldError, err error) {
	buf := lineBuffers.Get().(*[]LineShare)
	defer lineBuffers.Put(buf)
	v := validator{s: s, o: &o, b: compute(s, o.Tables(), *buf)}
	if cap(v.b.Lines) > cap(*buf) {
		*buf = v.b.Lines // grown: keep the larger buffer
	}
	v.run()
	if len(v.errs) > 0 {
		return v.warns, &ValidationError{Errors: v.errs}
	}
	return v.warns, nil
}

// lineBuffers keep the per-line shares of Validate's computation, so that
// checking a sheet allocates nothing for them.
var lineBuffers = sync.Pool{New: func() any { b := make([]LineShare, 0, 16); return &b }}

type validator struct {
	s     *Sheet
	o     *Options
	b     Breakdown // what the rules compute, compared with what the sheet records
	errs  []*FieldError
	warns []*FieldError
}

func (v *validator) add(c *CodeInfo, path, value, msg string) {
	fe := newFieldError(c, path, value, msg)
	if c.Warning {
		v.warns = append(v.warns, fe)
		return
	}
	v.errs = append(v.errs, fe)
}

func (v *validator) required(path, value string) bool {
	if value == "" {
		v.add(ErrRequired, path, "", path+" is empty")
		return false
	}
	return true
}

func (v *validator) enum(path, value string, allowed ...string) {
	if !v.required(path, value) {
		return
	}
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.add(ErrValue, path, value, strconv.Quote(value)+" is not one of "+joinList(allowed))
}

func (v *validator) run() {
	s := v.s
	if v.required("number", s.Number) && !digits(s.Number, 9) {
		v.add(ErrNumberFormat, "number", s.Number, "sheet number "+strconv.Quote(s.Number)+" is not 9 digits")
	}
	v.enum("securing", s.Securing, SecuringVitale, SecuringDegraded)
	if s.Securing == SecuringDegraded {
		v.add(WarnDegraded, "securing", s.Securing, "sheet made without the Vitale card (degraded mode)")
	}
	v.practitioner()
	v.patient()
	v.dates()
	v.prescription()
	v.rectification()
	v.lines()
	v.totals()
}

func (v *validator) practitioner() {
	p := &v.s.Practitioner
	v.professional(&practitionerIDPaths, p.IDType, p.ID, p.NationalID)
	if r := p.Remplacant; r != nil {
		v.professional(&remplacantIDPaths, r.IDType, r.ID, r.NationalID)
	}
	if v.required("practitioner/billing", p.Billing) && !digits(p.Billing, 9) {
		v.add(ErrBillingFormat, "practitioner/billing", p.Billing, "billing number "+strconv.Quote(p.Billing)+" is not 9 digits")
	} else if p.Billing != "" && !BillingKey(p.Billing) {
		v.add(WarnBillingKey, "practitioner/billing", p.Billing, "billing number "+p.Billing+": its key (last digit) does not pass the Luhn check")
	}
	if v.required("practitioner/profession", p.Profession) && !knownProfession(p.Profession) {
		v.add(ErrProfession, "practitioner/profession", p.Profession, "profession "+strconv.Quote(p.Profession)+" is unknown")
	}
	if v.required("practitioner/specialty", p.Specialty) && !digits(p.Specialty, 2) {
		v.add(ErrSpecialty, "practitioner/specialty", p.Specialty, "specialty "+strconv.Quote(p.Specialty)+" is not 2 digits")
	}
	if p.FINESS != "" && !ValidFINESS(p.FINESS) {
		v.add(ErrFINESSInvalid, "practitioner/finess", p.FINESS, "FINESS "+strconv.Quote(p.FINESS)+" is not 9 digits with a valid key, nor a Corsican 2A/2B number")
	}
}

// idPaths are where a professional's identifiers are, for messages.
type idPaths struct{ idType, id, natID string }

var (
	practitionerIDPaths = idPaths{"practitioner/id_type", "practitioner/id", "practitioner/national_id"}
	remplacantIDPaths   = idPaths{"practitioner/remplacant/id_type", "practitioner/remplacant/id", "practitioner/remplacant/national_id"}
)

// professional checks an identifier type, its number and the national id
// built from it.
func (v *validator) professional(at *idPaths, idType, id, natID string) {
	v.enum(at.idType, idType, IDTypeRPPS, IDTypeADELI)
	if v.required(at.id, id) {
		switch idType {
		case IDTypeRPPS:
			if !ValidRPPS(id) {
				v.add(ErrRPPSInvalid, at.id, id, "RPPS "+strconv.Quote(id)+" is not 11 digits with a valid key")
			} else if !nationalID(natID, '8', id) {
				v.add(ErrNationalID, at.natID, natID, "national id "+strconv.Quote(natID)+" is not 8 followed by the RPPS")
			}
		case IDTypeADELI:
			if !ValidADELI(id) {
				v.add(ErrADELIInvalid, at.id, id, "ADELI "+strconv.Quote(id)+" is not 9 digits with a valid key")
			} else if !nationalID(natID, '0', id) {
				v.add(ErrNationalID, at.natID, natID, "national id "+strconv.Quote(natID)+" is not 0 followed by the ADELI number")
			}
		}
	}
}

func knownProfession(p string) bool {
	switch p {
	case ProfessionDoctor, ProfessionPharmacist, ProfessionDentist, ProfessionMidwife, ProfessionNurse, ProfessionPhysio:
		return true
	}
	return false
}

func nationalID(nid string, prefix byte, id string) bool {
	return len(nid) == len(id)+1 && nid[0] == prefix && nid[1:] == id
}

func (v *validator) patient() {
	p := &v.s.Patient
	if v.required("patient/nir", p.NIR) {
		switch {
		case !NIRFormat(p.NIR):
			v.add(ErrNIRFormat, "patient/nir", MaskNIR(p.NIR), "NIR is not 15 characters starting with 1, 2, 7 or 8")
		case !ValidNIR(p.NIR):
			k, _ := NIRKey(p.NIR)
			v.add(ErrNIRKey, "patient/nir", MaskNIR(p.NIR), "NIR key "+p.NIR[13:]+" does not match "+twoDigits(k))
		}
	}
	if p.BirthDate.IsZero() {
		v.add(ErrRequired, "patient/birth_date", "", "patient/birth_date is empty")
	} else if !v.s.CareDate.IsZero() && (p.BirthDate.After(v.s.CareDate) || ageOn(p.BirthDate, v.s.CareDate) > 130) {
		v.add(ErrBirthDate, "patient/birth_date", p.BirthDate.String(), "birth date "+p.BirthDate.String()+" does not fit care date "+v.s.CareDate.String())
	}
	if p.Rank < 1 || p.Rank > 9 {
		v.add(ErrRank, "patient/rank", strconv.Itoa(p.Rank), "birth rank "+strconv.Itoa(p.Rank)+" is not between 1 and 9")
	}
	v.routing("patient/regime", p.Regime, 2, true)
	v.routing("patient/caisse", p.Caisse, 3, true)
	v.routing("patient/centre", p.Centre, 4, true)
	v.routing("patient/amc", p.AMC, 9, false)
	v.enum("patient/coverage", p.Coverage, CoverageStandard, CoverageALD, CoverageMaternity, CoverageC2S)
}

func twoDigits(k int) string { return string([]byte{byte('0' + k/10), byte('0' + k%10)}) }

func (v *validator) routing(path, value string, n int, required bool) {
	if value == "" && !required {
		return
	}
	if v.required(path, value) && !digits(value, n) {
		v.add(ErrRouting, path, value, strconv.Quote(value)+" is not "+strconv.Itoa(n)+" digits")
	}
}

func (v *validator) dates() {
	s := v.s
	nowf := v.o.Now
	if nowf == nil {
		nowf = time.Now
	}
	loc := v.o.Location
	if loc == nil {
		loc = parisLocation()
	}
	now := nowf()
	today := DateOf(now.In(loc))
	if s.CareDate.IsZero() {
		v.add(ErrRequired, "care_date", "", "care_date is empty")
		return
	}
	if s.Created.IsZero() {
		v.add(ErrRequired, "created", "", "created is empty")
	} else if DateOf(s.Created.In(loc)).Before(s.CareDate) || s.Created.After(now.Add(5*time.Minute)) {
		v.add(ErrCreated, "created", s.Created.UTC().Format(time.RFC3339), "creation time "+s.Created.UTC().Format(time.RFC3339)+" is before the care date or in the future")
	}
	maxAge := v.o.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	switch {
	case s.CareDate.After(today):
		v.add(ErrCareDateFuture, "care_date", s.CareDate.String(), "care date "+s.CareDate.String()+" is after today "+today.String())
	case s.CareDate.Before(today.AddDays(-maxAge)):
		v.add(ErrCareDateTooOld, "care_date", s.CareDate.String(), "care date "+s.CareDate.String()+" is more than "+strconv.Itoa(maxAge)+" days old")
	default:
		if dl := Deadline(s.CareDate, s.TiersPayant(), v.o.Holidays); today.After(dl) {
			v.add(WarnLate, "care_date", s.CareDate.String(), "sent on "+today.String()+", after the deadline "+dl.String())
		}
	}
}

func (v *validator) rectification() {
	r := v.s.Rectifies
	if r == nil {
		return
	}
	if v.required("rectifies/number", r.Number) && !digits(r.Number, 9) {
		v.add(ErrNumberFormat, "rectifies/number", r.Number, "rectified sheet number "+strconv.Quote(r.Number)+" is not 9 digits")
	}
	if r.Date.IsZero() {
		v.add(ErrRequired, "rectifies/date", "", "rectifies/date is empty")
	}
}

func (v *validator) prescription() {
	s := v.s
	drugs := false
	for i := range s.Lines {
		if s.Lines[i].Kind == KindDrug {
			drugs = true
			break
		}
	}
	rx := s.Prescription
	if rx == nil {
		if drugs {
			v.add(ErrPrescription, "prescription", "", "pharmacy lines without a prescription")
		}
		return
	}
	v.prescriptionRefs(rx)
	if rx.ID == "" {
		if drugs {
			v.add(ErrPrescription, "prescription/id", "", "pharmacy lines without a prescription id")
		} else {
			v.add(ErrRequired, "prescription/id", "", "prescription/id is empty")
		}
	}
	switch {
	case rx.Prescriber == "" && drugs:
		v.add(ErrPrescription, "prescription/prescriber", "", "pharmacy lines without a prescriber")
	case rx.Prescriber == "":
		v.add(ErrRequired, "prescription/prescriber", "", "prescription/prescriber is empty")
	case !ValidRPPS(rx.Prescriber):
		v.add(ErrRPPSInvalid, "prescription/prescriber", rx.Prescriber, "prescriber RPPS "+strconv.Quote(rx.Prescriber)+" is not 11 digits with a valid key")
	}
}

var linePaths [100]string

func init() {
	for i := range linePaths {
		linePaths[i] = "lines/" + strconv.Itoa(i)
	}
}

func linePath(i int) string {
	if i < len(linePaths) {
		return linePaths[i]
	}
	return "lines/" + strconv.Itoa(i)
}

func (v *validator) lines() {
	s := v.s
	if len(s.Lines) == 0 || len(s.Lines) > 99 {
		v.add(ErrLines, "lines", strconv.Itoa(len(s.Lines)), "the sheet has "+strconv.Itoa(len(s.Lines))+" lines, not between 1 and 99")
	}
	prof := s.Practitioner.Profession
	// An unknown profession is reported once, not on every line.
	knownProf := knownProfession(prof)
	o := v.o
	for i := range s.Lines {
		l := &s.Lines[i]
		path := linePath(i + 1)
		rateOK := true
		switch l.Kind {
		case KindNGAP:
			if !v.required(path+"/key", l.Key) {
				rateOK = false
				break
			}
			if l.Coefficient <= 0 || l.Coefficient > 9900 {
				v.add(ErrCoefficient, path+"/coefficient", l.Coefficient.String(), "coefficient "+l.Coefficient.String()+" is not above 0 and at most 99")
			}
			tf, ok := o.Tariffs.at(l.Key, s.CareDate, prof)
			if !ok {
				rateOK = false
				if o.Tariffs.known(l.Key, s.CareDate) {
					if knownProf {
						v.add(ErrProfessionNotAllow, path, l.Key, "profession "+prof+" may not bill NGAP key "+l.Key)
					}
					break
				}
				v.add(ErrNGAPKey, path+"/key", l.Key, "NGAP key "+strconv.Quote(l.Key)+" has no tariff on "+s.CareDate.String()+" (table "+o.Tariffs.Version()+")")
				break
			}
			if want := (tf.value*Amount(l.Coefficient) + 50) / 100; l.Amount != want {
				v.price(o.Prices.NGAP, ErrNGAPTariff, path+"/amount", l.Amount, l.Key+" "+l.Coefficient.String()+" is "+want.String()+" on "+s.CareDate.String()+" (table "+o.Tariffs.Version()+"), not "+l.Amount.String())
			}
		case KindCCAM:
			if !ccamCode(l.Code) {
				v.add(ErrCCAMCode, path+"/code", l.Code, "CCAM code "+strconv.Quote(l.Code)+" is not 4 capital letters and 3 digits")
			}
			if l.Activity < 0 || l.Activity > 9 {
				v.add(ErrCCAMCode, path+"/activity", strconv.Itoa(l.Activity), "CCAM activity "+strconv.Itoa(l.Activity)+" is not 1 to 9")
			}
			if knownProf && prof != ProfessionDoctor && prof != ProfessionDentist && prof != ProfessionMidwife {
				v.add(ErrProfessionNotAllow, path, l.Code, "profession "+prof+" may not bill CCAM acts")
			}
			if l.Amount <= 0 {
				v.add(ErrLineAmount, path+"/amount", l.Amount.String(), "amount "+l.Amount.String()+" is not positive")
			}
			if len(l.Modifiers) > 4 {
				v.add(ErrCCAMModifier, path+"/modifiers", l.Modifiers, "more than 4 modifiers")
				break
			}
			if o.CCAM == nil || !ccamCode(l.Code) {
				break
			}
			want, ok, bad := o.CCAM.Price(l.Code, l.activity(), l.Modifiers, s.CareDate)
			switch {
			case !ok:
				v.add(WarnNotInTable, path+"/code", l.Code, "CCAM act "+l.Code+" activity "+strconv.Itoa(l.activity())+" is not in table "+o.CCAM.Version()+": its billed amount is taken as its tariff")
			case bad != "":
				v.add(ErrCCAMModifier, path+"/modifiers", l.Modifiers, "CCAM act "+l.Code+" does not take modifier "+bad+" on "+s.CareDate.String()+" (table "+o.CCAM.Version()+")")
			case want != l.Amount:
				v.price(o.Prices.CCAM, ErrPriceTable, path+"/amount", l.Amount, l.Code+" "+l.Modifiers+" is "+want.String()+" on "+s.CareDate.String()+" (table "+o.CCAM.Version()+"), not "+l.Amount.String())
			}
		case KindDrug, KindFee:
			fee := l.Kind == KindFee
			if fee {
				if l.Code == "" {
					v.add(ErrRequired, path+"/code", "", path+"/code is empty")
				}
			} else if !ValidCIP13(l.CIP13) {
				v.add(ErrCIP13, path+"/cip13", l.CIP13, "CIP13 "+strconv.Quote(l.CIP13)+" is not valid")
			}
			if knownProf && prof != ProfessionPharmacist {
				what := l.CIP13
				if fee {
					what = l.Code
				}
				v.add(ErrProfessionNotAllow, path, what, "profession "+prof+" may not bill drugs or pharmacy fees")
			}
			if l.Quantity < 1 || l.Quantity > 99 {
				v.add(ErrQuantity, path+"/quantity", strconv.Itoa(l.Quantity), "quantity "+strconv.Itoa(l.Quantity)+" is not between 1 and 99")
			}
			switch l.Rate {
			case 15, 30, 65, 100:
			default:
				rateOK = false
				v.add(ErrDrugRate, path+"/rate", strconv.Itoa(l.Rate), "rate "+strconv.Itoa(l.Rate)+" is not 15, 30, 65 or 100")
			}
			if l.UnitPrice <= 0 || l.Amount != l.UnitPrice*Amount(l.Quantity) {
				v.add(ErrLineAmount, path+"/amount", l.Amount.String(), "amount "+l.Amount.String()+" is not "+strconv.Itoa(l.Quantity)+" × "+l.UnitPrice.String())
			}
			if o.Drugs == nil {
				break
			}
			if fee {
				f, ok := o.Drugs.Fee(l.Code, s.CareDate)
				switch {
				case !ok:
					v.add(WarnNotInTable, path+"/code", l.Code, "fee "+strconv.Quote(l.Code)+" is not in table "+o.Drugs.Version())
				case f.Rate > 0 && rateOK && f.Rate != l.Rate:
					rateOK = false
					v.add(ErrDrugRate, path+"/rate", strconv.Itoa(l.Rate), "fee "+l.Code+" is paid at "+strconv.Itoa(f.Rate)+" % (table "+o.Drugs.Version()+"), not "+strconv.Itoa(l.Rate))
				case f.Value != l.UnitPrice:
					v.price(o.Prices.Drugs, ErrPriceTable, path+"/unit_price", l.UnitPrice, "fee "+l.Code+" is "+f.Value.String()+" on "+s.CareDate.String()+" (table "+o.Drugs.Version()+"), not "+l.UnitPrice.String())
				}
				break
			}
			if !ValidCIP13(l.CIP13) {
				break
			}
			d, ok := o.Drugs.Drug(l.CIP13, s.CareDate)
			switch {
			case !ok:
				v.add(WarnNotInTable, path+"/cip13", l.CIP13, "drug "+l.CIP13+" is not in table "+o.Drugs.Version()+": its price and rate are taken as billed")
			case rateOK && d.Rate != l.Rate:
				rateOK = false
				v.add(ErrDrugRate, path+"/rate", strconv.Itoa(l.Rate), "drug "+l.CIP13+" is of rate class "+strconv.Itoa(d.Rate)+" % (table "+o.Drugs.Version()+"), not "+strconv.Itoa(l.Rate))
			case d.Price != l.UnitPrice:
				v.price(o.Prices.Drugs, ErrPriceTable, path+"/unit_price", l.UnitPrice, "drug "+l.CIP13+" is "+d.Price.String()+" on "+s.CareDate.String()+" (table "+o.Drugs.Version()+"), not "+l.UnitPrice.String())
			}
		default:
			v.enum(path+"/kind", l.Kind, KindNGAP, KindCCAM, KindDrug, KindFee)
			continue
		}
		switch l.Exemption {
		case ExemptionNone:
		case ExemptionALD, ExemptionMaternity:
			if l.Exemption != s.Patient.Coverage {
				v.add(ErrExemption, path+"/exemption", l.Exemption, "exemption "+l.Exemption+" on a line of a patient whose coverage is "+s.Patient.Coverage)
			}
		default:
			v.add(ErrValue, path+"/exemption", l.Exemption, strconv.Quote(l.Exemption)+" is not one of ald, maternity")
		}
		if rateOK {
			ls := &v.b.Lines[i]
			if l.Base != 0 && l.Base != ls.Base {
				v.add(ErrAMOShare, path+"/base", l.Base.String(), "base "+l.Base.String()+" is not "+ls.Base.String())
			}
			if l.AMO != ls.AMO {
				v.add(ErrAMOShare, path+"/amo", l.AMO.String(), "AMO share "+l.AMO.String()+" is not "+strconv.Itoa(ls.Rate)+" % of "+ls.Base.String()+" ("+ls.AMO.String()+")")
			}
		}
	}
}

// price reports a price different from its table: refused with code c, or
// the warning PRICE_TABLE_DIFFERS, as the table's rule says.
func (v *validator) price(rule PriceRule, c *CodeInfo, path string, got Amount, msg string) {
	if rule == PriceWarn {
		c = WarnPriceDiffers
	}
	v.add(c, path, got.String(), msg)
}

func ccamCode(c string) bool {
	if len(c) != 7 {
		return false
	}
	for i := 0; i < 4; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return allDigits(c[4:])
}

func (v *validator) totals() {
	s := v.s
	t := &s.Totals
	b := &v.b
	var amo Amount // the lines' AMO shares as recorded (each checked by AMO_SHARE)
	for i := range s.Lines {
		amo += s.Lines[i].AMO
	}
	if t.Billed != b.Billed {
		v.add(ErrTotalBilled, "totals/billed", t.Billed.String(), "billed "+t.Billed.String()+" is not the sum of the lines "+b.Billed.String())
	}
	if t.Participation != b.Participation {
		v.add(ErrParticipation, "totals/participation", t.Participation.String(), "participation forfaitaire "+t.Participation.String()+" should be "+b.Participation.String()+" (recorded, not deducted)")
	}
	if t.Franchises != b.Franchises {
		v.add(ErrFranchises, "totals/franchises", t.Franchises.String(), "franchises "+t.Franchises.String()+" should be "+b.Franchises.String()+" (recorded, not deducted)")
	}
	if t.AMO != amo {
		v.add(ErrTotalAMO, "totals/amo", t.AMO.String(), "AMO "+t.AMO.String()+" is not the sum of the lines' shares "+amo.String())
	}
	switch {
	case t.AMC < 0 || t.Patient < 0 || t.AMC+t.Patient != t.Billed-t.AMO:
		v.add(ErrTotalSplit, "totals/patient", t.Patient.String(), "AMC "+t.AMC.String()+" + patient "+t.Patient.String()+" is not billed "+t.Billed.String()+" − AMO "+t.AMO.String())
	case s.Patient.Coverage == CoverageC2S && t.AMC != b.Complementary:
		v.add(ErrTotalSplit, "totals/amc", t.AMC.String(), "C2S pays the whole ticket modérateur "+b.Complementary.String()+", not "+t.AMC.String())
	}
	if (t.TiersPayantAMC || (t.AMC > 0 && s.Patient.Coverage != CoverageC2S)) && s.Patient.AMC == "" {
		v.add(ErrAMCMissing, "patient/amc", "", "AMC share or AMC tiers payant without the patient's AMC number")
	}
}
