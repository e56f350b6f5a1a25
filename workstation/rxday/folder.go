package rxday

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsegate/fsegate/fse"
)

// Folder is what WriteFolder writes: synthetic care sheets, in a folder
// 'workstation batch' takes as it is.
type Folder struct {
	// Dir is the folder, created when missing.
	Dir string
	// Count is how many sheets.
	Count int
	// Seed names the sheets: sheet i of seed s is number s×100000+i+1
	// (s taken modulo 10000), so two seeds give different numbers.
	Seed uint64
	// Rand draws the sheets (the same Rand state, the same sheets).
	Rand *rand.Rand
	// JSON writes the sheets in JSON; false: XML (urn:fsegate:fse:1).
	JSON bool
	// Sheet is the generator's options but Number (set from Seed) and
	// Now, Practitioners, Profession, the tables and Break as wanted.
	Sheet fse.GenerateOptions
	// Day gives the prescriptions of a pharmacy's day (NewDay), called once
	// at the first pharmacist's sheet; nil: pharmacy sheets come without.
	Day func() (*Day, error)
}

// WriteFolder writes the sheets of f, each named BILLING-NUMBER.xml (or
// .json). A pharmacist's valid sheets come as a pharmacy's day (Day.Attach):
// a carried prescription is written beside them as ID.rx.pdf, a paper
// prescription's scan as BILLING-NUMBER.scor.jpg (the batch folder's
// conventions: package workstation, folder.go).
func WriteFolder(ctx context.Context, f Folder) error {
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return err
	}
	base := int(f.Seed%10000) * 100000
	ext := ".xml"
	if f.JSON {
		ext = ".json"
	}
	var day *Day
	for i := 0; i < f.Count; i++ {
		opts := f.Sheet
		opts.Number = base + i%100000 + 1
		s, err := fse.Generate(f.Rand, opts)
		if err != nil {
			return err
		}
		name := filepath.Join(f.Dir, s.Practitioner.Billing+"-"+s.Number+ext)
		if s.Practitioner.Profession == fse.ProfessionPharmacist && opts.Break == "" && f.Day != nil {
			if day == nil {
				if day, err = f.Day(); err != nil {
					return err
				}
			}
			x, err := day.Attach(ctx, s, i)
			if err != nil {
				return err
			}
			if x.Prescription != nil {
				if err := os.WriteFile(filepath.Join(f.Dir, x.PrescriptionID+".rx.pdf"), x.Prescription, 0o644); err != nil {
					return err
				}
			}
			if x.Scan != nil {
				if err := os.WriteFile(strings.TrimSuffix(name, ext)+".scor.jpg", x.Scan, 0o644); err != nil {
					return err
				}
			}
		}
		var data []byte
		if f.JSON {
			if data, err = s.EncodeJSON(); err != nil {
				return err
			}
		} else {
			data = s.Encode()
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
