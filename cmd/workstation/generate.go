package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation/rxday"
)

func init() {
	program.Add(&cli.Command{Name: "generate", Summary: "write synthetic care sheets (tests, demo, load)", Run: runGenerate})
}

const generateUsage = `workstation generate — write synthetic, realistic care sheets

Usage:
  workstation generate --out-dir DIR [--count N] [--seed S] [flags]

Writes N unsigned care sheets (XML, urn:fsegate:fse:1) named after their
number, billed by the test practices (fixtures/practices.yaml) with the
card profiles' professionals: the doctor (RPPS 99700218896, billing
751000019), the pharmacist (99700075122, 751000027) and the nurse (ADELI
012800736, 751000035). Patients spread over the test insurers (régime 01
caisses 751, 931, 131; régime 02 caisse 751), some with the AMC 123456789.
Sheets are dated today or yesterday, valid unless --break names a rule.
A pharmacist's sheets come as a pharmacy's day: a third on prescriptions
carried by fsegate, signed by a generated prescriber (the test doctor) and
written beside them as RX-….rx.pdf; a third on national e-prescription
numbers; a third on paper, with a generated scan as SHEET.scor.jpg.
'workstation batch' sends the prescriptions first and the scans after
their sheets.
The same seed gives the same sheets (with the same --now). Without --seed a
new one is drawn, and printed: sheet numbers are new at every run, so a
tour or a test day can be done again without DUPLICATE_SHEET.

Examples:
  workstation generate --count 20 --out-dir in
  workstation generate --count 5 --profession pharmacist --seed 7 --out-dir in
  workstation generate --count 1 --break NIR_KEY --out-dir bad
  workstation generate --count 100 --format json --out-dir json
`

func runGenerate(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "generate", generateUsage)
	count := fs.Int("count", 10, "number of sheets")
	seed := fs.Uint64("seed", 0, "random seed, 1 to 9999: the same seed gives the same sheets and numbers (default: a new one, printed)")
	profession := fs.String("profession", "", "doctor, pharmacist or nurse (default: all three)")
	brk := fs.String("break", "", "break the rule of this code (docs/errors.md), e.g. NIR_KEY")
	outDir := fs.String("out-dir", "", "directory to write the sheets to (created)")
	format := fs.String("format", "xml", "xml or json")
	nowFlag := fs.String("now", "", "date the sheets as if at this time (RFC 3339); default: now")
	tf := addTableFlags(fs, false)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return cli.Usagef("generate: unexpected argument %q", fs.Arg(0))
	case *outDir == "":
		return cli.Usagef("generate: --out-dir is required")
	case *count < 1:
		return cli.Usagef("generate: --count must be at least 1")
	case *format != "xml" && *format != "json":
		return cli.Usagef("generate: --format must be xml or json")
	}
	if *profession != "" {
		if _, ok := fse.ProfessionCode(*profession); !ok {
			return cli.Usagef("generate: --profession %q is not doctor, pharmacist or nurse", *profession)
		}
	}
	if *brk != "" {
		ok := false
		for _, c := range fse.Breakable() {
			ok = ok || c == *brk
		}
		if !ok {
			return cli.WithHint(cli.Usagef("generate: cannot break %q", *brk), "codes that can be broken: every rule code of docs/errors.md's care sheet section, and SHEET_VALUE")
		}
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return err
	}
	rules, err := tf.load()
	if err != nil {
		return err
	}
	pracs, err := fixturePractitioners()
	if err != nil {
		return err
	}
	drawn := *seed == 0
	if drawn {
		*seed = uint64(time.Now().UnixNano())%9999 + 1
	}
	r := rand.New(rand.NewPCG(*seed, 0x5eed))
	err = rxday.WriteFolder(ctx, rxday.Folder{
		Dir: *outDir, Count: *count, Seed: *seed, Rand: r, JSON: *format == "json",
		Sheet: fse.GenerateOptions{Now: now, Practitioners: pracs, Profession: *profession, Tariffs: rules.Tariffs, CCAM: rules.CCAM, Drugs: rules.Drugs, Break: *brk},
		// A pharmacy's real day: carried, national and paper prescriptions.
		Day: func() (*rxday.Day, error) {
			p, err := dev.Prescriber()
			if err != nil {
				return nil, err
			}
			g, err := dev.Generics()
			if err != nil {
				return nil, err
			}
			return rxday.NewDay(now, r, *seed, p, bytes.NewReader(g))
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %d care sheets to %s\n", *count, *outDir)
	if drawn {
		fmt.Fprintf(env.Stdout, "seed %d (--seed %d makes the same sheets again)\n", *seed, *seed)
	}
	return nil
}

// fixturePractitioners builds the doctor, pharmacist and nurse of the card
// profiles, with the billing number of their practice.
func fixturePractitioners() ([]fse.Practitioner, error) {
	b, err := fixtures.ReadFile("practices.yaml")
	if err != nil {
		return nil, err
	}
	var dir struct {
		Practices []struct {
			Billing    string   `yaml:"billing"`
			Profession string   `yaml:"profession"`
			FINESS     string   `yaml:"finess"`
			Signers    []string `yaml:"signers"`
		} `yaml:"practices"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&dir); err != nil {
		return nil, fmt.Errorf("practices.yaml: %w", err)
	}
	var out []fse.Practitioner
	for _, name := range []string{"doctor", "pharmacist", "nurse"} {
		b, err := fixtures.ReadFile("cards/" + name + ".yaml")
		if err != nil {
			return nil, err
		}
		var card struct {
			NationalID string `yaml:"national_id"`
			RPPS       string `yaml:"rpps"`
			ADELI      string `yaml:"adeli"`
			Profession string `yaml:"profession"`
		}
		if err := yaml.Unmarshal(b, &card); err != nil {
			return nil, fmt.Errorf("cards/%s.yaml: %w", name, err)
		}
		p := fse.Practitioner{NationalID: card.NationalID, Profession: card.Profession, Specialty: "00"}
		if card.Profession == fse.ProfessionDoctor {
			p.Specialty = "01"
		}
		if card.RPPS != "" {
			p.IDType, p.ID = fse.IDTypeRPPS, card.RPPS
		} else {
			p.IDType, p.ID = fse.IDTypeADELI, card.ADELI
		}
		for _, x := range dir.Practices {
			for _, s := range x.Signers {
				if s == card.NationalID && p.Billing == "" {
					p.Billing, p.FINESS = x.Billing, x.FINESS
				}
			}
		}
		if p.Billing == "" {
			return nil, fmt.Errorf("practices.yaml: no practice lists the %s card's national id %s", name, card.NationalID)
		}
		out = append(out, p)
	}
	return out, nil
}
