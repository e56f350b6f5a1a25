package practices

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/fse"
)

// Practice is one billing number: its billing situation as the Assurance
// Maladie knows it (profession, specialty), who may sign for it and the
// remplaçants allowed on it.
type Practice struct {
	Billing    string `yaml:"billing"`
	Name       string `yaml:"name"`
	Profession string `yaml:"profession"` // G15 code: 10, 21, 40, 50, 60, 70
	// Specialty is the practice's specialty code (2 digits, "01" general
	// medicine); empty means the directory does not say, and the sheet's is
	// not checked.
	Specialty string `yaml:"specialty"`
	FINESS    string `yaml:"finess"`
	// Signers are the national ids of the titulaires: the professionals
	// who bill under this number with their own card.
	Signers []string `yaml:"signers"`
	// Remplacants may sign, with their own card, sheets of care given in a
	// titulaire's place between their dates.
	Remplacants []Remplacant `yaml:"remplacants"`
}

// Remplacant is one replacement allowed on a practice.
type Remplacant struct {
	NationalID string `yaml:"national_id"`
	From       string `yaml:"from"` // first day, 2006-01-02
	To         string `yaml:"to"`   // last day, included
	from, to   time.Time
}

// covers reports whether day (any time of it) is within the replacement.
func (r *Remplacant) covers(day time.Time) bool {
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	return !d.Before(r.from) && !d.After(r.to)
}

// Directory is the whole list, indexed.
type Directory struct {
	byBilling map[string]*Practice
	byNatID   map[string][]string // billing numbers a national id signs for or replaces on
}

// Load reads a directory from a file (Parse).
func Load(path string) (*Directory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("practices: %w", err)
	}
	return Parse(b)
}

// professions are the G15 codes a practice may have.
var professions = []string{"10", "21", "40", "50", "60", "70"}

// Parse reads a directory; unknown fields, duplicates, unknown professions
// and impossible dates are errors.
func Parse(b []byte) (*Directory, error) {
	var doc struct {
		Practices []*Practice `yaml:"practices"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("practices: %w", err)
	}
	d := &Directory{byBilling: map[string]*Practice{}, byNatID: map[string][]string{}}
	for _, p := range doc.Practices {
		if len(p.Billing) != 9 {
			return nil, fmt.Errorf("practices: billing number %q is not 9 digits", p.Billing)
		}
		if _, dup := d.byBilling[p.Billing]; dup {
			return nil, fmt.Errorf("practices: billing number %s listed twice", p.Billing)
		}
		if !slices.Contains(professions, p.Profession) {
			return nil, fmt.Errorf("practices: %s: profession %q is not a G15 code (%v)", p.Billing, p.Profession, professions)
		}
		if p.Specialty != "" && (len(p.Specialty) != 2 || p.Specialty[0] < '0' || p.Specialty[0] > '9' || p.Specialty[1] < '0' || p.Specialty[1] > '9') {
			return nil, fmt.Errorf("practices: %s: specialty %q is not 2 digits", p.Billing, p.Specialty)
		}
		d.byBilling[p.Billing] = p
		for _, s := range p.Signers {
			d.byNatID[s] = append(d.byNatID[s], p.Billing)
		}
		for i := range p.Remplacants {
			r := &p.Remplacants[i]
			var err1, err2 error
			r.from, err1 = time.Parse(time.DateOnly, r.From)
			r.to, err2 = time.Parse(time.DateOnly, r.To)
			if r.NationalID == "" || err1 != nil || err2 != nil || r.to.Before(r.from) {
				return nil, fmt.Errorf("practices: %s: remplaçant %q needs a national_id and dates from <= to (2006-01-02)", p.Billing, r.NationalID)
			}
			if slices.Contains(p.Signers, r.NationalID) {
				return nil, fmt.Errorf("practices: %s: %s is both a signer and a remplaçant", p.Billing, r.NationalID)
			}
			if !slices.Contains(d.byNatID[r.NationalID], p.Billing) {
				d.byNatID[r.NationalID] = append(d.byNatID[r.NationalID], p.Billing)
			}
		}
	}
	return d, nil
}

// Billings lists the billing numbers natID acts for on day: those it signs
// for, and those it replaces on that day (a remplaçant reads the sheets
// of its replacement while it lasts).
func (d *Directory) Billings(natID string, day time.Time) []string {
	var out []string
	for _, b := range d.byNatID[natID] {
		if d.Allowed(natID, b, day) {
			out = append(out, b)
		}
	}
	return out
}

// Allowed reports whether natID may act for billing on day: a signer, or
// a remplaçant whose dates include day.
func (d *Directory) Allowed(natID, billing string, day time.Time) bool {
	p, ok := d.byBilling[billing]
	if !ok {
		return false
	}
	return slices.Contains(p.Signers, natID) || p.remplacant(natID, day) != nil
}

// remplacant is natID's replacement covering day, or nil.
func (p *Practice) remplacant(natID string, day time.Time) *Remplacant {
	for i := range p.Remplacants {
		if r := &p.Remplacants[i]; r.NationalID == natID && r.covers(day) {
			return r
		}
	}
	return nil
}

// Practice returns the practice of a billing number.
func (d *Directory) Practice(billing string) (*Practice, bool) {
	p, ok := d.byBilling[billing]
	return p, ok
}

// SheetPractitioner is the practitioner part of a sheet that natID makes
// on day, under the first billing number it acts for: its own as a
// titulaire, or, for a remplaçant, the replaced titulaire's with itself as
// the remplaçant. For generators of test and demo sheets.
func (d *Directory) SheetPractitioner(natID string, day time.Time) (fse.Practitioner, error) {
	billings := d.Billings(natID, day)
	if len(billings) == 0 {
		return fse.Practitioner{}, fmt.Errorf("no practice of the directory lists %s on %s", natID, day.Format(time.DateOnly))
	}
	p := d.byBilling[billings[0]]
	pr := fse.Practitioner{NationalID: natID, Billing: p.Billing, Profession: p.Profession, Specialty: p.Specialty, FINESS: p.FINESS}
	if pr.Specialty == "" {
		pr.Specialty = "00"
	}
	if !slices.Contains(p.Signers, natID) {
		if len(p.Signers) == 0 {
			return fse.Practitioner{}, fmt.Errorf("billing number %s has a remplaçant but no titulaire", p.Billing)
		}
		r := &fse.Remplacant{NationalID: natID}
		r.IDType, r.ID = idOf(natID)
		pr.Remplacant, pr.NationalID = r, p.Signers[0]
	}
	pr.IDType, pr.ID = idOf(pr.NationalID)
	return pr, nil
}

// idOf splits a national id into its identifier type and number: "8"+RPPS,
// "0"+ADELI.
func idOf(natID string) (idType, id string) {
	if len(natID) == 12 && natID[0] == '8' {
		return fse.IDTypeRPPS, natID[1:]
	}
	if len(natID) > 1 {
		return fse.IDTypeADELI, natID[1:]
	}
	return "", ""
}
