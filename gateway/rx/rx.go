package rx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/problem"
)

// Codes of the problems this package reports (docs/errors.md), declared
// once; Codes lists them.
const (
	CodeContent       problem.Code = "PRESCRIPTION_CONTENT"           // the structured data is absent or incomplete
	CodeNotPrescriber problem.Code = "PRESCRIBER_NOT_ALLOWED"         // the signer's profession may not issue a carried prescription
	CodeUnknown       problem.Code = "PRESCRIPTION_UNKNOWN"           // no carried prescription under this id
	CodePatient       problem.Code = "PRESCRIPTION_PATIENT_MISMATCH"  // the claim is for another patient
	CodeSelf          problem.Code = "PRESCRIPTION_SELF_DISPENSED"    // the prescriber bills its own prescription
	CodeExpired       problem.Code = "PRESCRIPTION_EXPIRED"           // past the validity period
	CodeLineMissing   problem.Code = "PRESCRIPTION_LINE_MISSING"      // a sheet line names no prescription line
	CodeLineUnknown   problem.Code = "PRESCRIPTION_LINE_UNKNOWN"      // the prescription has no such line
	CodeProduct       problem.Code = "PRESCRIPTION_PRODUCT_MISMATCH"  // the drug is neither the prescribed one nor of its generic group
	CodeQuantity      problem.Code = "PRESCRIPTION_QUANTITY_EXCEEDED" // more than the line's quantity in one dispensation
	CodeDispensed     problem.Code = "PRESCRIPTION_DISPENSED"         // the line and its renewals were already dispensed
	CodeNotVerified   problem.Code = "PRESCRIPTION_NOT_VERIFIED"      // warning: a national e-prescription number fsegate cannot check
	CodeSCORRequired  problem.Code = "SCOR_REQUIRED"                  // warning: a paper prescription, the SCOR piece must follow
)

// Bounds and rules of a carried prescription.
const (
	MaxLines             = 20 // lines of one prescription
	MaxQuantity          = 99 // boxes or acts of one line
	MaxRenewals          = 11 // renewals of one line (12 deliveries in 12 months)
	FirstDispenseMonths  = 3  // CSP R5132-22
	LastDispenseMonths   = 12 // CSP R5132-21, R5132-22
	prescribingDoctor    = fse.ProfessionDoctor
	prescribingDentist   = fse.ProfessionDentist
	prescribingMidwife   = fse.ProfessionMidwife
	maxNameOrTextLength  = 200
	maxStructuredRxBytes = 64 << 10
)

// Codes lists every code this package raises, for the registry
// (api/registry). PRESCRIPTION_CONFLICT is the queue's (queue.ErrConflict:
// the record is kept there); PRESCRIPTION_UNKNOWN is found by the intake,
// when the queue has no record under the claimed id.
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeContent, Title: "the carried prescription's structured data is absent or incomplete (patient NIR, lines, quantities)"},
		{Code: CodeNotPrescriber, Title: "the signer's profession may not issue a prescription"},
		{Code: CodeUnknown, Title: "the referenced prescription was never received"},
		{Code: CodePatient, Title: "the claim is for another patient than the prescription's"},
		{Code: CodeSelf, Title: "the prescriber may not bill a dispensation of its own prescription"},
		{Code: CodeExpired, Title: "the prescription is past its validity period"},
		{Code: CodeLineMissing, Title: "a sheet line names no prescription line"},
		{Code: CodeLineUnknown, Title: "the prescription has no such line"},
		{Code: CodeProduct, Title: "the drug is neither the prescribed one nor of its generic group"},
		{Code: CodeQuantity, Title: "more than the prescription line's quantity in one dispensation"},
		{Code: CodeDispensed, Title: "the prescription line and its renewals were already dispensed"},
		{Code: CodeNotVerified, Title: "a national e-prescription number: fsegate cannot check it", Warning: true},
		{Code: CodeSCORRequired, Title: "a paper prescription: the sheet waits for its SCOR piece", Warning: true},
	}
}

// Problem is problem.Problem: one reason a prescription or a claim is
// refused.
type Problem = problem.Problem

// Prescribing reports whether a professional of this G15 profession may
// issue a carried prescription: doctors, dentists and midwives (the code
// de la santé publique's rules on dispensing list I and II drugs name them
// among prescribers; the pharmacist dispenses, never prescribes).
func Prescribing(profession string) bool {
	switch profession {
	case prescribingDoctor, prescribingDentist, prescribingMidwife:
		return true
	}
	return false
}

// Content is the structured data of a carried prescription, embedded in
// its signed PDF as prescription.json ('workstation prescribe').
type Content struct {
	ID         string `json:"id"`
	Date       string `json:"date"` // YYYY-MM-DD, the day it was written
	Prescriber struct {
		NationalID string `json:"national_id"`
		Name       string `json:"name,omitempty"`
		Profession string `json:"profession,omitempty"`
	} `json:"prescriber"`
	Patient struct {
		Name      string `json:"name,omitempty"`
		BirthDate string `json:"birth_date,omitempty"`
		NIR       string `json:"nir"`
	} `json:"patient"`
	Lines []ContentLine `json:"lines"`
}

// ContentLine is one prescribed item: a drug by CIP13 or generic group, or
// an act (neither), with a quantity (boxes, acts) per dispensation and a
// number of renewals.
type ContentLine struct {
	Text     string `json:"text"`
	Dosage   string `json:"dosage,omitempty"`
	Duration string `json:"duration,omitempty"`
	CIP13    string `json:"cip13,omitempty"`
	Group    string `json:"group,omitempty"`
	Quantity int    `json:"quantity"`
	Renewals int    `json:"renewals,omitempty"`
}

var (
	idRe    = regexp.MustCompile(`^[A-Za-z0-9-]{4,40}$`)
	groupRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
)

// ParseContent reads and checks prescription.json: an id, a date, the
// patient's NIR, 1 to MaxLines lines each with a quantity. Every problem
// found is returned.
func ParseContent(data []byte) (*Content, []Problem) {
	if len(data) > maxStructuredRxBytes {
		return nil, []Problem{{Code: CodeContent, Path: "prescription.json", Message: "the structured prescription is over 64 KiB"}}
	}
	var c Content
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return nil, []Problem{{Code: CodeContent, Path: "prescription.json", Message: "the structured prescription is not JSON: " + err.Error(), Hint: "sign prescriptions made by 'workstation prescribe'"}}
	}
	var ps []Problem
	bad := func(path, msg string) {
		ps = append(ps, Problem{Code: CodeContent, Path: path, Message: msg, Hint: "a carried prescription names its patient's NIR and each line's quantity (docs/care-sheet.md)"})
	}
	if !idRe.MatchString(c.ID) {
		bad("id", "the id is not 4 to 40 letters, digits or dashes")
	}
	if _, ok := fse.ParseDate(c.Date); !ok {
		bad("date", "the date is not YYYY-MM-DD")
	}
	if !fse.ValidNIR(c.Patient.NIR) {
		bad("patient/nir", "the patient's NIR is absent or its key is wrong")
	}
	if len(c.Lines) == 0 || len(c.Lines) > MaxLines {
		bad("lines", "a prescription has 1 to "+strconv.Itoa(MaxLines)+" lines")
	}
	for i, l := range c.Lines {
		p := "lines/" + strconv.Itoa(i+1)
		switch {
		case l.CIP13 != "" && !fse.ValidCIP13(l.CIP13):
			bad(p+"/cip13", "the CIP13 is not valid")
		case l.Group != "" && !groupRe.MatchString(l.Group):
			bad(p+"/group", "the generic group is not 1 to 32 letters, digits, '-' or '_'")
		case l.Quantity < 1 || l.Quantity > MaxQuantity:
			bad(p+"/quantity", "the quantity is not between 1 and "+strconv.Itoa(MaxQuantity))
		case l.Renewals < 0 || l.Renewals > MaxRenewals:
			bad(p+"/renewals", "renewals are not between 0 and "+strconv.Itoa(MaxRenewals))
		case len(l.Text) > maxNameOrTextLength:
			bad(p+"/text", "the text is over 200 bytes")
		}
	}
	return &c, ps
}

// Record is what the gateway keeps of a carried prescription: its content
// reduced to what claims are checked against, and every dispensation.
type Record struct {
	ID         string       `json:"id"`
	Prescriber string       `json:"prescriber"` // RPPS
	Digest     string       `json:"digest"`     // SHA-256 of the signed PDF, hex
	Date       string       `json:"date"`
	NIR        string       `json:"nir"`
	Lines      []RecordLine `json:"lines"`
}

// RecordLine is one prescription line and its dispensations.
type RecordLine struct {
	CIP13     string         `json:"cip13,omitempty"`
	Group     string         `json:"group,omitempty"`
	Quantity  int            `json:"quantity"`
	Renewals  int            `json:"renewals"`
	Dispensed []Dispensation `json:"dispensed,omitempty"`
}

// Dispensation is one sheet's delivery against a line.
type Dispensation struct {
	Sheet    string `json:"sheet"` // <billing>.<number>
	Quantity int    `json:"quantity"`
	Date     string `json:"date"` // care date
}

// NewRecord makes the record of a checked prescription.
func NewRecord(c *Content, prescriber, digest string) *Record {
	r := &Record{ID: c.ID, Prescriber: prescriber, Digest: digest, Date: c.Date, NIR: c.Patient.NIR}
	for _, l := range c.Lines {
		r.Lines = append(r.Lines, RecordLine{CIP13: l.CIP13, Group: l.Group, Quantity: l.Quantity, Renewals: l.Renewals})
	}
	return r
}

// Groups maps a CIP13 to its generic group (the répertoire des
// génériques); a drug absent from it has no group.
type Groups map[string]string

// Claim is a sheet presented against a record.
type Claim struct {
	Sheet     *fse.Sheet
	Dispenser string // RPPS or ADELI of whoever bills (the practitioner, or the remplaçant)
	Groups    Groups
}

func (c Claim) key() string { return c.Sheet.Practitioner.Billing + "." + c.Sheet.Number }

// Dispense checks the claim against the record and, when nothing is
// wrong, records its dispensations in r. A sheet dispensed before (the
// same billing number and sheet number: sent again, or a correction of a
// rejected one) replaces its own earlier dispensation. It reports whether
// r changed.
func (r *Record) Dispense(c Claim) (bool, []Problem) {
	s := c.Sheet
	var ps []Problem
	add := func(code problem.Code, path, msg, hint string) {
		ps = append(ps, Problem{Code: code, Path: path, Message: msg, Hint: hint})
	}
	if s.Patient.NIR != r.NIR {
		add(CodePatient, "patient/nir", "prescription "+r.ID+" is for another patient", "bill the prescription for the patient it names")
	}
	if c.Dispenser == r.Prescriber || s.Practitioner.ID == r.Prescriber {
		add(CodeSelf, "prescription/prescriber", "the prescriber may not dispense and bill its own prescription", "the patient takes the prescription to another professional")
	}
	date, _ := fse.ParseDate(r.Date)
	if s.CareDate.Before(date) {
		add(CodeExpired, "care_date", fmt.Sprintf("the care date is before prescription %s's date, %s", r.ID, r.Date), "date the sheet on the day of the dispensation")
	}
	if s.CareDate.After(addMonths(date, LastDispenseMonths)) {
		add(CodeExpired, "care_date", fmt.Sprintf("prescription %s of %s is past its %d months", r.ID, r.Date, LastDispenseMonths), "ask the prescriber for a new prescription")
	}
	key := c.key()
	want := make(map[int]int) // prescription line (index) → quantity claimed
	for i := range s.Lines {
		l := &s.Lines[i]
		if l.Kind == fse.KindFee {
			continue // a dispensing fee goes with the drugs, it is not prescribed
		}
		path := "prescription/dispenses"
		n := s.Prescription.RxLineOf(i + 1)
		switch {
		case n == 0:
			add(CodeLineMissing, "lines/"+strconv.Itoa(i), "sheet line "+strconv.Itoa(i+1)+" names no prescription line", "say which prescription line each sheet line dispenses (prescription/dispenses)")
			continue
		case n > len(r.Lines):
			add(CodeLineUnknown, path, fmt.Sprintf("prescription %s has %d lines, not %d", r.ID, len(r.Lines), n), "check the prescription line numbers")
			continue
		}
		rl := &r.Lines[n-1]
		if l.Kind == fse.KindDrug && !rl.matches(l.CIP13, c.Groups) {
			add(CodeProduct, "lines/"+strconv.Itoa(i)+"/cip13", fmt.Sprintf("drug %s is not what prescription line %d names, nor of its generic group", l.CIP13, n), "dispense the prescribed drug or a generic of its group")
			continue
		}
		q := 1
		if l.Kind == fse.KindDrug {
			q = l.Quantity
		}
		want[n-1] += q
	}
	if len(ps) > 0 {
		return false, ps
	}
	changed := false
	for idx, q := range want {
		rl := &r.Lines[idx]
		n := strconv.Itoa(idx + 1)
		prior := -1
		for j, d := range rl.Dispensed {
			if d.Sheet == key {
				prior = j
			}
		}
		if prior >= 0 && rl.Dispensed[prior].Quantity == q {
			continue // the same sheet again
		}
		if q > rl.Quantity {
			add(CodeQuantity, "lines", fmt.Sprintf("%d claimed against prescription line %s, which allows %d per dispensation", q, n, rl.Quantity), "dispense at most the prescribed quantity")
			continue
		}
		others := len(rl.Dispensed)
		if prior >= 0 {
			others--
		}
		if others == 0 && s.CareDate.After(addMonths(date, FirstDispenseMonths)) {
			add(CodeExpired, "care_date", fmt.Sprintf("prescription %s of %s was not first dispensed within %d months", r.ID, r.Date, FirstDispenseMonths), "ask the prescriber for a new prescription")
			continue
		}
		if others >= 1+rl.Renewals {
			add(CodeDispensed, "prescription/id", fmt.Sprintf("prescription line %s was dispensed %d times, with %d renewals allowed", n, others, rl.Renewals), "the line is used up: ask the prescriber for a new prescription")
			continue
		}
		d := Dispensation{Sheet: key, Quantity: q, Date: s.CareDate.String()}
		if prior >= 0 {
			rl.Dispensed[prior] = d
		} else {
			rl.Dispensed = append(rl.Dispensed, d)
		}
		changed = true
	}
	if len(ps) > 0 {
		return false, ps
	}
	return changed, nil
}

// Release removes the dispensations of sheet key (<billing>.<number>),
// when its intake failed after they were recorded. It reports whether r
// changed.
func (r *Record) Release(key string) bool {
	changed := false
	for i := range r.Lines {
		rl := &r.Lines[i]
		out := rl.Dispensed[:0]
		for _, d := range rl.Dispensed {
			if d.Sheet == key {
				changed = true
				continue
			}
			out = append(out, d)
		}
		rl.Dispensed = out
	}
	return changed
}

func (rl *RecordLine) matches(cip string, groups Groups) bool {
	switch {
	case rl.CIP13 == "" && rl.Group == "":
		return true // the line names no product (an act, or a free text)
	case rl.CIP13 == cip:
		return true
	}
	g := groups[cip]
	if g == "" {
		return false
	}
	if rl.Group != "" {
		return g == rl.Group
	}
	return groups[rl.CIP13] == g
}

func addMonths(d fse.Date, n int) fse.Date { return fse.DateOf(d.Time(time.UTC).AddDate(0, n, 0)) }
