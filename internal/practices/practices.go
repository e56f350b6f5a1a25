package practices

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/fixtures"
)

// Practice is one billing number.
type Practice struct {
	Billing    string   `yaml:"billing"`
	Name       string   `yaml:"name"`
	Profession string   `yaml:"profession"`
	FINESS     string   `yaml:"finess"`
	Signers    []string `yaml:"signers"`
}

// Directory is the whole list, indexed.
type Directory struct {
	byBilling map[string]*Practice
	byNatID   map[string][]string
}

// Load reads a directory from a file, or the fixtures' one when path is
// empty and dev is set.
func Load(path string, dev bool) (*Directory, error) {
	var b []byte
	var err error
	switch {
	case path != "":
		b, err = os.ReadFile(path)
	case dev:
		b, err = fixtures.ReadFile("practices.yaml")
	default:
		return nil, fmt.Errorf("no practices directory: give its file (or --dev for the fixtures)")
	}
	if err != nil {
		return nil, fmt.Errorf("practices: %w", err)
	}
	return Parse(b)
}

// Parse reads a directory; unknown fields and duplicates are errors.
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
		d.byBilling[p.Billing] = p
		for _, s := range p.Signers {
			d.byNatID[s] = append(d.byNatID[s], p.Billing)
		}
	}
	return d, nil
}

// Billings lists the billing numbers natID may sign and send for.
func (d *Directory) Billings(natID string) []string { return d.byNatID[natID] }

// Allowed reports whether natID may sign for billing.
func (d *Directory) Allowed(natID, billing string) bool {
	return slices.Contains(d.byNatID[natID], billing)
}

// Practice returns the practice of a billing number.
func (d *Directory) Practice(billing string) (*Practice, bool) {
	p, ok := d.byBilling[billing]
	return p, ok
}
