package fse

import "time"

// Exemptions of a line (Line.Exemption): why the AMO pays it at 100 %.
const (
	ExemptionNone      = ""          // the line's own rate
	ExemptionALD       = "ald"       // care linked to the patient's affection de longue durée
	ExemptionMaternity = "maternity" // maternity insurance (from the 6th month of pregnancy)
)

// Who pays the complementary share (Breakdown.ComplementaryBy).
const (
	ComplementaryNone = ""    // no complementary on the sheet: the patient pays the rest
	ComplementaryAMC  = "amc" // the patient's AMC (its share as the sheet declares it)
	ComplementaryC2S  = "c2s" // complémentaire santé solidaire: the whole ticket modérateur
)

// Tables are the dated tariff tables a sheet is priced with, each chosen by
// the care date. A nil table is unknown: NGAP lines are then refused
// (NGAP_KEY_UNKNOWN), CCAM lines keep their billed amount at 70 %, drug
// lines their billed price and rate.
type Tables struct {
	NGAP  *Tariffs     // NGAP keys and majorations, keyed by (key, profession)
	CCAM  *CCAMTariffs // CCAM acts (activity, tariff, rate) and modifiers
	Drugs *DrugTariffs // drugs by CIP13 (price, rate class, TFR) and dispensing fees
	Money MoneyRules   // participation forfaitaire and franchises; zero value: DefaultMoneyRules
}

// Version names every table, e.g. "ngap-2024-12-22+ccam-2025-01-01+drugs-2020-01-01".
func (t Tables) Version() string {
	v := t.NGAP.Version()
	if t.CCAM != nil {
		v += "+" + t.CCAM.Version()
	}
	if t.Drugs != nil {
		v += "+" + t.Drugs.Version()
	}
	return v
}

// LineShare is how one line of a sheet is paid.
type LineShare struct {
	Rate          int    // AMO rate in percent, after the exemption (100 when exempted)
	Exemption     string // ExemptionNone, ExemptionALD or ExemptionMaternity
	Base          Amount // reimbursement base: the amount, or quantity × TFR for a drug with a TFR
	AMO           Amount // Rate % of Base, rounded half up to the cent
	Complementary Amount // the complementary's share (AMC as declared in proportion, or C2S: Base − AMO)
	Patient       Amount // Amount − AMO − Complementary
	Franchise     Amount // franchise médicale due for this line (recorded, never deducted)
}

// Breakdown is what Compute finds for a sheet: the shares line by line and
// their sums. Participation and Franchises are what the patient owes the
// AMO for this sheet before the yearly caps (Caps): they are recorded on
// the sheet and in the returns, and never deducted from a tiers-payant
// payment (domain.md §12: the practitioner receives the whole AMO share,
// the AMO recovers them from the patient later).
type Breakdown struct {
	Lines           []LineShare
	Billed          Amount // sum of the line amounts
	Base            Amount // sum of the bases
	AMO             Amount // sum of the lines' AMO shares: what the AMO pays under tiers payant
	Complementary   Amount // sum of the complementary shares
	ComplementaryBy string // ComplementaryNone, ComplementaryAMC or ComplementaryC2S
	Patient         Amount // Billed − AMO − Complementary
	Participation   Amount // participation forfaitaire due (recorded)
	Franchises      Amount // franchises médicales due (recorded)
	Tables          string // Tables.Version() of the tables used
}

// PaidByAMO is what the AMO pays the practitioner under tiers payant AMO:
// the AMO share, plus the C2S share when C2S is managed by the AMO (the
// patient has no AMC number). The participation and franchises are not
// deducted.
func (b *Breakdown) PaidByAMO(s *Sheet) Amount {
	if !s.Totals.TiersPayantAMO {
		return 0
	}
	if b.ComplementaryBy == ComplementaryC2S && s.Patient.AMC == "" {
		return b.AMO + b.Complementary
	}
	return b.AMO
}

// PaidByAMC is what the AMC pays the practitioner under tiers payant AMC:
// the complementary share (an AMC contract, or C2S managed by an AMC).
func (b *Breakdown) PaidByAMC(s *Sheet) Amount {
	if !s.Totals.TiersPayantAMC || s.Patient.AMC == "" {
		return 0
	}
	return b.Complementary
}

// MoneyRules are the dated amounts of the participation forfaitaire and
// the franchises médicales. The zero value means DefaultMoneyRules.
type MoneyRules struct {
	Participation []Dated // per sheet with a doctor's acts
	Franchise     []Dated // per drug box and per auxiliary's act
	// FranchiseDayCap is the most franchises on auxiliaries' acts per day
	// (one sheet is one day of care).
	FranchiseDayCap []Dated
	// YearCap is the yearly cap of each of the participation and the
	// franchises, per patient (applied by Caps, by the insurer).
	YearCap []Dated
}

// Dated is a value in force from a date on.
type Dated struct {
	From  Date
	Value Amount
}

// DefaultMoneyRules are the amounts in force, with their sources
// (docs/amounts.md): participation forfaitaire €1, €2 since 2024-05-15;
// franchises €0.50 per box or act, €1 since 2024-03-31 (décret 2024-114),
// at most €2, then €4 a day on auxiliaries' acts; €50 a year each.
var DefaultMoneyRules = MoneyRules{
	Participation:   []Dated{{Date{2005, time.January, 1}, 100}, {Date{2024, time.May, 15}, 200}},
	Franchise:       []Dated{{Date{2008, time.January, 1}, 50}, {Date{2024, time.March, 31}, 100}},
	FranchiseDayCap: []Dated{{Date{2008, time.January, 1}, 200}, {Date{2024, time.March, 31}, 400}},
	YearCap:         []Dated{{Date{2008, time.January, 1}, 5000}},
}

func (m MoneyRules) orDefault() MoneyRules {
	if m.Participation == nil && m.Franchise == nil && m.FranchiseDayCap == nil && m.YearCap == nil {
		return DefaultMoneyRules
	}
	return m
}

func valueOn(list []Dated, on Date) Amount {
	var v Amount
	for _, d := range list {
		if !on.Before(d.From) {
			v = d.Value
		}
	}
	return v
}

// Compute gives how a sheet is paid, line by line, from the tables in
// force on its care date: each line's rate (the table's rate for the key
// or code and the practitioner's profession; a drug's rate class; 100 %
// when the line is exempted, ALD-linked or maternity), its base (a drug's
// TFR × quantity when the drug has one), the AMO share, the complementary
// share (C2S: the whole ticket modérateur; an AMC: the sheet's Totals.AMC
// spread over the lines in proportion of their ticket modérateur), the
// patient's share, and the participation forfaitaire and franchises due.
//
// Compute trusts the sheet's structure (kinds, quantities); Validate
// checks it first and compares every recorded amount with Compute's. A
// line whose key or code the tables do not know is computed from what it
// declares (its amount, a 70 % rate for acts, its own rate for drugs).
// Compute is pure and safe for concurrent use; the mock insurers use it to
// pay exactly what the rules compute.
func Compute(s *Sheet, t Tables) Breakdown {
	b := compute(s, t, nil)
	b.Tables = t.Version()
	return b
}

// compute is Compute without naming the tables, its lines in buf when it
// is long enough (Validate's hot path allocates nothing for them).
func compute(s *Sheet, t Tables, buf []LineShare) Breakdown {
	var b Breakdown
	if len(s.Lines) <= cap(buf) {
		b.Lines = buf[:len(s.Lines)]
		clear(b.Lines)
	} else {
		b.Lines = make([]LineShare, len(s.Lines))
	}
	money := t.Money.orDefault()
	exemptFees := exemptFromParticipation(s)
	var tm Amount // ticket modérateur of the whole sheet
	var auxActs int
	for i := range s.Lines {
		l := &s.Lines[i]
		ls := &b.Lines[i]
		ls.Rate = lineRate(l, s, t)
		ls.Base = l.Amount
		if l.Kind == KindDrug {
			if d, ok := t.Drugs.Drug(l.CIP13, s.CareDate); ok {
				if d.TFR > 0 {
					ls.Base = min(l.Amount, d.TFR*Amount(l.Quantity))
				}
			} else if l.Base > 0 {
				// a drug the table does not know: its declared base
				ls.Base = min(l.Base, l.Amount)
			}
		}
		if ex := lineExemption(l, s); ex != ExemptionNone {
			ls.Exemption = ex
			ls.Rate = 100
		}
		ls.AMO = share(ls.Base, ls.Rate)
		if l.Kind == KindNGAP && auxiliary(s.Practitioner.Profession) {
			if tf, ok := t.NGAP.at(l.Key, s.CareDate, s.Practitioner.Profession); ok && tf.kind == NGAPAct {
				auxActs++
				ls.Franchise = valueOn(money.Franchise, s.CareDate)
			}
		}
		if l.Kind == KindDrug {
			ls.Franchise = valueOn(money.Franchise, s.CareDate) * Amount(l.Quantity)
		}
		if exemptFees {
			ls.Franchise = 0
		}
		tm += ls.Base - ls.AMO
		b.Billed += l.Amount
		b.Base += ls.Base
		b.AMO += ls.AMO
	}
	// The daily cap on auxiliaries' franchises: one sheet is one day.
	if capDay := valueOn(money.FranchiseDayCap, s.CareDate); auxActs > 0 && capDay > 0 {
		var sum Amount
		for i := range b.Lines {
			if s.Lines[i].Kind != KindNGAP {
				continue
			}
			f := min(b.Lines[i].Franchise, max(capDay-sum, 0))
			b.Lines[i].Franchise = f
			sum += f
		}
	}
	for i := range b.Lines {
		b.Franchises += b.Lines[i].Franchise
	}
	// The complementary.
	switch {
	case s.Patient.Coverage == CoverageC2S:
		b.ComplementaryBy = ComplementaryC2S
		for i := range b.Lines {
			b.Lines[i].Complementary = b.Lines[i].Base - b.Lines[i].AMO
		}
	case s.Patient.AMC != "" && s.Totals.AMC > 0:
		b.ComplementaryBy = ComplementaryAMC
		spread(s, b.Lines, s.Totals.AMC, tm)
	}
	for i := range b.Lines {
		ls := &b.Lines[i]
		ls.Patient = s.Lines[i].Amount - ls.AMO - ls.Complementary
		b.Complementary += ls.Complementary
	}
	b.Patient = b.Billed - b.AMO - b.Complementary
	b.Participation = participation(s, t, money, exemptFees, &b)
	return b
}

// spread shares total over the lines in proportion of their ticket
// modérateur (base − AMO); a total above the sheet's ticket modérateur (an
// AMC paying part of an amount above the base) is shared in proportion of
// each line's amount above its AMO share. The last line with a weight
// takes the rounding remainder.
func spread(s *Sheet, lines []LineShare, total, tm Amount) {
	if len(lines) == 0 || total <= 0 {
		return
	}
	weight := func(i int) Amount { return lines[i].Base - lines[i].AMO }
	if total > tm {
		weight = func(i int) Amount { return s.Lines[i].Amount - lines[i].AMO }
	}
	var sum Amount
	last := -1
	for i := range lines {
		if w := weight(i); w > 0 {
			sum += w
			last = i
		}
	}
	if last < 0 {
		lines[len(lines)-1].Complementary = total
		return
	}
	left := total
	for i := range lines {
		w := weight(i)
		if w <= 0 {
			continue
		}
		if i == last {
			lines[i].Complementary = left
			break
		}
		c := total * w / sum
		lines[i].Complementary = c
		left -= c
	}
}

// lineRate is the AMO rate of a line before any exemption.
func lineRate(l *Line, s *Sheet, t Tables) int {
	switch l.Kind {
	case KindNGAP:
		if tf, ok := t.NGAP.at(l.Key, s.CareDate, s.Practitioner.Profession); ok && tf.rate > 0 {
			return tf.rate
		}
		return professionRate(s.Practitioner.Profession)
	case KindCCAM:
		if c, ok := t.CCAM.Act(l.Code, l.activity(), s.CareDate); ok && c.Rate > 0 {
			return c.Rate
		}
		return professionRate(s.Practitioner.Profession)
	case KindDrug, KindFee:
		return l.Rate
	}
	return 0
}

// professionRate is the AMO rate of a profession's acts when no table says
// otherwise: 60 % for auxiliaires médicaux, 70 % for doctors, dentists and
// midwives (domain.md §12, ameli "taux de remboursement").
func professionRate(p string) int {
	if auxiliary(p) {
		return 60
	}
	return 70
}

// auxiliary reports whether profession p is an auxiliaire médical (nurse,
// physiotherapist; the format knows no other).
func auxiliary(p string) bool { return p == ProfessionNurse || p == ProfessionPhysio }

// lineExemption is the exemption a line may carry: its own, when the
// patient's coverage allows it.
func lineExemption(l *Line, s *Sheet) string {
	switch {
	case l.Exemption == ExemptionALD && s.Patient.Coverage == CoverageALD:
		return ExemptionALD
	case l.Exemption == ExemptionMaternity && s.Patient.Coverage == CoverageMaternity:
		return ExemptionMaternity
	}
	return ExemptionNone
}

// exemptFromParticipation reports whether the patient owes neither the
// participation forfaitaire nor franchises: minors, C2S, maternity
// (domain.md §5; franchises: décret 2024-114 and ameli).
func exemptFromParticipation(s *Sheet) bool {
	if s.Patient.Coverage == CoverageC2S || s.Patient.Coverage == CoverageMaternity {
		return true
	}
	b := s.Patient.BirthDate
	return !b.IsZero() && !b.After(s.CareDate) && ageOn(b, s.CareDate) < 18
}

// participation is the participation forfaitaire due: one per sheet with a
// doctor's acts (NGAP or CCAM), none for exempted patients, at most the
// AMO share of those acts.
func participation(s *Sheet, t Tables, m MoneyRules, exempt bool, b *Breakdown) Amount {
	if exempt || s.Practitioner.Profession != ProfessionDoctor {
		return 0
	}
	var acts Amount
	for i := range s.Lines {
		if k := s.Lines[i].Kind; k == KindNGAP || k == KindCCAM {
			acts += b.Lines[i].AMO
		}
	}
	if acts <= 0 {
		return 0
	}
	return min(valueOn(m.Participation, s.CareDate), acts)
}

// Caps is one patient's year so far, as an insurer knows it: the
// participation forfaitaire and franchises already recovered in the year.
// The yearly caps need the patient's whole year, which only the insurer
// knows; the mock insurers keep one Caps per patient (NIR and rank) and
// year, and apply each sheet's Breakdown to it in the order they receive
// the sheets.
type Caps struct {
	Year          int    // calendar year of the care dates
	Participation Amount // recovered so far this year
	Franchises    Amount // recovered so far this year
}

// Apply records a sheet's participation and franchises against the caps
// of its care year and gives what is recovered from the patient for this
// sheet: at most what the yearly cap leaves. A Caps of another year starts
// again from zero. Nothing of it changes what the practitioner is paid.
func (c *Caps) Apply(s *Sheet, b *Breakdown, m MoneyRules) (participation, franchises Amount) {
	if c.Year != s.CareDate.Year {
		*c = Caps{Year: s.CareDate.Year}
	}
	yc := valueOn(m.orDefault().YearCap, s.CareDate)
	participation = min(b.Participation, max(yc-c.Participation, 0))
	franchises = min(b.Franchises, max(yc-c.Franchises, 0))
	c.Participation += participation
	c.Franchises += franchises
	return participation, franchises
}
