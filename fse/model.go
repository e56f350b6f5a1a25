package fse

import (
	"crypto/sha256"
	"strconv"
	"time"
)

// Namespace is the XML namespace of the care sheet format.
const Namespace = "urn:fsegate:fse:1"

// Securing modes: how the patient's rights were read.
const (
	SecuringVitale   = "vitale"   // the Vitale card was read (secured sheet)
	SecuringDegraded = "degraded" // no Vitale card: a paper copy must follow
)

// Coverage of the patient for the care on this sheet.
const (
	CoverageStandard  = "standard"  // each line at its rate
	CoverageALD       = "ald"       // affection de longue durée: ALD-linked lines (Exemption "ald") at 100 %
	CoverageMaternity = "maternity" // maternity insurance: lines with Exemption "maternity" at 100 %; no participation or franchise
	CoverageC2S       = "c2s"       // complémentaire santé solidaire: the AMO pays its rate, C2S the rest; no participation or franchise
)

// Practitioner identifier types.
const (
	IDTypeRPPS  = "RPPS"  // 11 digits, Luhn; national id "8"+RPPS
	IDTypeADELI = "ADELI" // 9 digits, Luhn; national id "0"+ADELI
)

// Profession codes (nomenclature G15).
const (
	ProfessionDoctor     = "10"
	ProfessionPharmacist = "21"
	ProfessionDentist    = "40"
	ProfessionMidwife    = "50"
	ProfessionNurse      = "60"
	ProfessionPhysio     = "70"
)

// Line kinds.
const (
	KindNGAP = "ngap" // NGAP act: key × coefficient
	KindCCAM = "ccam" // CCAM act: code and amount
	KindDrug = "drug" // drug: CIP13, quantity, unit price, rate
	KindFee  = "fee"  // pharmacy fee (honoraire de dispensation): code, quantity, unit price, rate
)

// Sheet is one care sheet (feuille de soins électronique). The zero value is
// an empty, invalid sheet; Decode, DecodeJSON or Generate give real ones.
type Sheet struct {
	Number       string        `json:"number"`                 // 9 digits, unique per billing number
	Created      time.Time     `json:"created"`                // creation time, UTC
	CareDate     Date          `json:"care_date"`              // day the care was given
	Securing     string        `json:"securing"`               // SecuringVitale or SecuringDegraded
	Practitioner Practitioner  `json:"practitioner"`           // who bills
	Patient      Patient       `json:"patient"`                // who was cared for
	Prescription *Prescription `json:"prescription,omitempty"` // required for pharmacy lines
	// Rectifies names the invoice this one corrects and replaces, when it
	// is a rectifying invoice; nil otherwise.
	Rectifies *Rectification `json:"rectifies,omitempty"`
	Lines     []Line         `json:"lines"` // at least one
	Totals    Totals         `json:"totals"`
}

// Practitioner is the health professional who gave the care and bills it.
type Practitioner struct {
	IDType     string `json:"id_type"`          // IDTypeRPPS or IDTypeADELI
	ID         string `json:"id"`               // the RPPS (11) or ADELI (9) number
	NationalID string `json:"national_id"`      // IDNPS: "8"+RPPS or "0"+ADELI
	Billing    string `json:"billing"`          // numéro AM of the practice or pharmacy, 9 digits
	Profession string `json:"profession"`       // G15 code: "10" doctor, "21" pharmacist, …
	Specialty  string `json:"specialty"`        // 2 digits ("01" general medicine)
	FINESS     string `json:"finess,omitempty"` // structure (pharmacy), 9 characters, Luhn
	// Remplacant is who gave the care and signed in the practitioner's
	// place (a remplaçant, replacing them): the sheet is billed under the
	// practitioner's billing situation and signed with the remplaçant's
	// card. Nil when the practitioner signs.
	Remplacant *Remplacant `json:"remplacant,omitempty"`
}

// Remplacant identifies a professional replacing the sheet's practitioner.
type Remplacant struct {
	IDType     string `json:"id_type"`     // IDTypeRPPS or IDTypeADELI
	ID         string `json:"id"`          // the RPPS (11) or ADELI (9) number
	NationalID string `json:"national_id"` // IDNPS: "8"+RPPS or "0"+ADELI
}

// SignerID is the national id of whoever must sign the sheet: the
// remplaçant when the sheet names one, else the practitioner.
func (s *Sheet) SignerID() string {
	if r := s.Practitioner.Remplacant; r != nil {
		return r.NationalID
	}
	return s.Practitioner.NationalID
}

// Patient is the insured person as read from the Vitale card.
type Patient struct {
	NIR       string `json:"nir"`           // 15 characters, key included
	BirthDate Date   `json:"birth_date"`    // date of birth
	Rank      int    `json:"rank"`          // birth rank (rang de naissance), 1 to 9
	Regime    string `json:"regime"`        // 2 digits: "01" régime général, "02" MSA, …
	Caisse    string `json:"caisse"`        // 3 digits
	Centre    string `json:"centre"`        // 4 digits
	AMC       string `json:"amc,omitempty"` // complementary insurer number, 9 digits
	Coverage  string `json:"coverage"`      // CoverageStandard, CoverageALD, …
}

// Rectification names the invoice a rectifying invoice replaces: its
// number (under the same billing number) and its care date.
type Rectification struct {
	Number string `json:"number"` // 9 digits
	Date   Date   `json:"date"`   // care date of the rectified invoice
}

// Prescription references the prescription the care was given under.
type Prescription struct {
	ID         string `json:"id"`         // prescription id (ordonnance numérique)
	Prescriber string `json:"prescriber"` // RPPS of the prescriber, 11 digits
	// Kind is RxCarried (or empty), RxNational or RxPaper (prescription.go).
	Kind string `json:"kind,omitempty"`
	// Dispenses names, for each sheet line, the prescription line it
	// dispenses (required against a carried prescription).
	Dispenses []Dispense `json:"dispenses,omitempty"`
}

// Line is one billed item. Kind says which fields are meaningful.
type Line struct {
	Kind        string      `json:"kind"`                  // KindNGAP, KindCCAM, KindDrug or KindFee
	Key         string      `json:"key,omitempty"`         // NGAP key (G, APC, AMI, …)
	Coefficient Coefficient `json:"coefficient,omitempty"` // NGAP coefficient
	Code        string      `json:"code,omitempty"`        // CCAM code (4 letters, 3 digits), or fee code (HD, …)
	Activity    int         `json:"activity,omitempty"`    // CCAM activity code, 1 to 9; 0 means 1
	Modifiers   string      `json:"modifiers,omitempty"`   // CCAM modifiers, up to 4 letters ("F", "K")
	CIP13       string      `json:"cip13,omitempty"`       // drug: EAN-13 code
	Quantity    int         `json:"quantity,omitempty"`    // drug: boxes; fee: units
	UnitPrice   Amount      `json:"unit_price,omitempty"`  // drug: price of one box; fee: of one unit
	Rate        int         `json:"rate,omitempty"`        // drug and fee: reimbursement rate 15/30/65/100
	Exemption   string      `json:"exemption,omitempty"`   // ExemptionALD or ExemptionMaternity: the line is paid at 100 %
	Label       string      `json:"label,omitempty"`       // free text shown to people
	Amount      Amount      `json:"amount"`                // billed for this line
	Base        Amount      `json:"base,omitempty"`        // reimbursement base when not the amount (a drug's TFR × quantity)
	AMO         Amount      `json:"amo"`                   // AMO share of the line: its rate × its base
}

// activity is the CCAM activity code, 1 when absent.
func (l *Line) activity() int {
	if l.Activity == 0 {
		return 1
	}
	return l.Activity
}

// Totals sum up the sheet.
type Totals struct {
	Billed         Amount `json:"billed"`               // sum of the lines
	AMO            Amount `json:"amo"`                  // sum of the lines' AMO shares (nothing deducted)
	AMC            Amount `json:"amc"`                  // complementary's share: the AMC's, or C2S's
	Patient        Amount `json:"patient"`              // billed − AMO − AMC
	Participation  Amount `json:"participation"`        // participation forfaitaire due, recorded, not deducted
	Franchises     Amount `json:"franchises,omitempty"` // franchises médicales due, recorded, not deducted
	TiersPayantAMO bool   `json:"tiers_payant_amo"`     // the AMO pays the practitioner
	TiersPayantAMC bool   `json:"tiers_payant_amc"`     // the AMC pays the practitioner
}

// Destination is one insurer a sheet goes to: the AMO always, the AMC too
// when the sheet carries an AMC part under tiers payant. The insurer
// directory maps it to an insurer id.
type Destination struct {
	Kind   string `json:"kind"` // "AMO" or "AMC"
	Regime string `json:"regime"`
	Caisse string `json:"caisse"`
	Centre string `json:"centre"`
	AMC    string `json:"amc,omitempty"`
}

// Destinations gives where the sheet goes: its AMO, then its AMC when the
// sheet has an AMC share paid under tiers payant.
func (s *Sheet) Destinations() []Destination {
	d := []Destination{{Kind: "AMO", Regime: s.Patient.Regime, Caisse: s.Patient.Caisse, Centre: s.Patient.Centre}}
	if s.HasAMCDestination() {
		d = append(d, Destination{Kind: "AMC", Regime: s.Patient.Regime, Caisse: s.Patient.Caisse, Centre: s.Patient.Centre, AMC: s.Patient.AMC})
	}
	return d
}

// HasAMCDestination reports whether the sheet is sent to the AMC too.
func (s *Sheet) HasAMCDestination() bool {
	return s.Totals.TiersPayantAMC && s.Totals.AMC > 0 && s.Patient.AMC != ""
}

// ContentDigest is the SHA-256 of the canonical encoding of the sheet,
// without any signature: a sheet re-signed after a crash has the same digest.
func (s *Sheet) ContentDigest() [32]byte {
	return sha256.Sum256(s.Encode())
}

// TiersPayant reports whether any insurer pays the practitioner directly.
func (s *Sheet) TiersPayant() bool { return s.Totals.TiersPayantAMO || s.Totals.TiersPayantAMC }

// Amount is money in euro cents.
type Amount int64

// String writes the amount as euros with two decimals: "12.34".
func (a Amount) String() string {
	var buf [24]byte
	return string(a.appendTo(buf[:0]))
}

func (a Amount) appendTo(b []byte) []byte {
	v := int64(a)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	c := v % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// MarshalText writes "12.34".
func (a Amount) MarshalText() ([]byte, error) { return a.appendTo(nil), nil }

// UnmarshalText reads "12.34" (exactly two decimals, no sign).
func (a *Amount) UnmarshalText(b []byte) error {
	v, ok := parseAmount(string(b))
	if !ok {
		return errValue
	}
	*a = v
	return nil
}

// ParseAmount reads an amount written as "12.34".
func ParseAmount(s string) (Amount, bool) { return parseAmount(s) }

func parseAmount(s string) (Amount, bool) {
	n := len(s)
	if n < 4 || n > 15 || s[n-3] != '.' {
		return 0, false
	}
	var v int64
	for i := 0; i < n; i++ {
		if i == n-3 {
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if n > 4 && s[0] == '0' { // no leading zeros: "01.00"
		return 0, false
	}
	return Amount(v), true
}

// Coefficient is an NGAP coefficient in hundredths (1.5 is 150).
type Coefficient int64

// String writes the shortest form: "1", "1.5", "0.25".
func (c Coefficient) String() string { return string(c.appendTo(nil)) }

func (c Coefficient) appendTo(b []byte) []byte {
	v := int64(c)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	f := v % 100
	switch {
	case f == 0:
	case f%10 == 0:
		b = append(b, '.', byte('0'+f/10))
	default:
		b = append(b, '.', byte('0'+f/10), byte('0'+f%10))
	}
	return b
}

// MarshalText writes the shortest form.
func (c Coefficient) MarshalText() ([]byte, error) { return c.appendTo(nil), nil }

// UnmarshalText reads "1", "1.5" or "0.25".
func (c *Coefficient) UnmarshalText(b []byte) error {
	v, ok := parseCoefficient(string(b))
	if !ok {
		return errValue
	}
	*c = v
	return nil
}

func parseCoefficient(s string) (Coefficient, bool) {
	n := len(s)
	if n == 0 || n > 8 {
		return 0, false
	}
	var v int64
	dot := -1
	for i := 0; i < n; i++ {
		c := s[i]
		if c == '.' && dot < 0 && i > 0 {
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	decimals := 0
	if dot >= 0 {
		decimals = n - dot - 1
		if decimals < 1 || decimals > 2 {
			return 0, false
		}
	}
	intLen := n
	if dot >= 0 {
		intLen = dot
	}
	if intLen > 1 && s[0] == '0' {
		return 0, false
	}
	for ; decimals < 2; decimals++ {
		v *= 10
	}
	return Coefficient(v), true
}

// Date is a calendar day, without time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf gives the calendar day of t in its location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads "2006-01-02".
func ParseDate(s string) (Date, bool) { return parseDate(s) }

func parseDate(s string) (Date, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, false
	}
	y, ok1 := atoiN(s[0:4])
	m, ok2 := atoiN(s[5:7])
	d, ok3 := atoiN(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return Date{}, false
	}
	return Date{y, time.Month(m), d}, true
}

func atoiN(s string) (int, bool) {
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// IsZero reports whether d is the zero Date (absent).
func (d Date) IsZero() bool { return d == Date{} }

// String writes "2006-01-02".
func (d Date) String() string { return string(d.appendTo(nil)) }

func (d Date) appendTo(b []byte) []byte {
	b = appendPadded(b, d.Year, 4)
	b = append(b, '-')
	b = appendPadded(b, int(d.Month), 2)
	b = append(b, '-')
	return appendPadded(b, d.Day, 2)
}

func appendPadded(b []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// MarshalText writes "2006-01-02".
func (d Date) MarshalText() ([]byte, error) { return d.appendTo(nil), nil }

// UnmarshalText reads "2006-01-02".
func (d *Date) UnmarshalText(b []byte) error {
	v, ok := parseDate(string(b))
	if !ok {
		return errValue
	}
	*d = v
	return nil
}

// Time gives midnight of d in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.compare(e) > 0 }

func (d Date) compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return d.Year - e.Year
	case d.Month != e.Month:
		return int(d.Month) - int(e.Month)
	}
	return d.Day - e.Day
}

// AddDays gives the date n days after d (before when n < 0).
func (d Date) AddDays(n int) Date {
	return DateOf(d.Time(time.UTC).AddDate(0, 0, n))
}

// Weekday gives the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.Time(time.UTC).Weekday() }

// ageOn gives the age in whole years on day d of someone born on b.
func ageOn(b, d Date) int {
	age := d.Year - b.Year
	if d.Month < b.Month || (d.Month == b.Month && d.Day < b.Day) {
		age--
	}
	return age
}
