package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/fixtures"
)

// practices is the directory of who may sign and send for which billing
// number (fixtures/practices.yaml in development).
type practices struct {
	byBilling map[string]*practice
	byNatID   map[string][]string // national id → billing numbers
}

type practice struct {
	Billing    string   `yaml:"billing"`
	Name       string   `yaml:"name"`
	Profession string   `yaml:"profession"`
	FINESS     string   `yaml:"finess"`
	Signers    []string `yaml:"signers"`
}

func loadPractices(path string, dev bool) (*practices, error) {
	var b []byte
	var err error
	switch {
	case path != "":
		b, err = os.ReadFile(path)
	case dev:
		b, err = fixtures.ReadFile("practices.yaml")
	default:
		return nil, fmt.Errorf("no practices directory: set --practices (or --dev for the fixtures)")
	}
	if err != nil {
		return nil, fmt.Errorf("practices: %w", err)
	}
	var doc struct {
		Practices []*practice `yaml:"practices"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("practices: %w", err)
	}
	p := &practices{byBilling: map[string]*practice{}, byNatID: map[string][]string{}}
	for _, x := range doc.Practices {
		if len(x.Billing) != 9 {
			return nil, fmt.Errorf("practices: billing number %q is not 9 digits", x.Billing)
		}
		if _, dup := p.byBilling[x.Billing]; dup {
			return nil, fmt.Errorf("practices: billing number %s listed twice", x.Billing)
		}
		p.byBilling[x.Billing] = x
		for _, s := range x.Signers {
			p.byNatID[s] = append(p.byNatID[s], x.Billing)
		}
	}
	return p, nil
}

// allowed reports whether national id natID may sign and send for billing.
func (p *practices) allowed(natID, billing string) bool {
	x, ok := p.byBilling[billing]
	return ok && slices.Contains(x.Signers, natID)
}

// billings lists the billing numbers natID acts for.
func (p *practices) billings(natID string) []string { return p.byNatID[natID] }
