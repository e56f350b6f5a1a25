package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/fse/tables"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/workstation"
)

func init() {
	program.Add(&cli.Command{Name: "check", Summary: "check care sheets against the caisse's rules, before any PIN", Run: runCheck})
}

const checkUsage = `workstation check — check care sheets against the caisse's rules

Usage:
  workstation check [--json] [flags] FILE|DIR...

Each FILE (or .xml and .json file of a DIR) is a care sheet in XML (urn:fsegate:fse:1) or JSON, signed or
not. Every violation is listed with its code (docs/errors.md), the path of
the field and a hint; warnings (LATE, DEGRADED_MODE) do not make a sheet
invalid. The rules and tariff table versions are printed: the gateway's
receipt names the ones it applied. The tables (NGAP, CCAM, drugs and fees:
docs/amounts.md) are the built-in ones, or those of --tables DIR; a price
different from a table is an error unless --prices-warn names the table, as
the gateway's. NIRs are masked.

Exit status: 0 when every sheet is valid, 1 when one is not, 2 on misuse.

Examples:
  workstation check in/*.xml
  workstation check in
  workstation check --json sheet.xml | jq .errors
  workstation check --now 2026-03-18T10:00:00Z --tariffs ngap.csv old.xml
  workstation check --tables /etc/fsegate/tables --prices-warn ccam,drugs in
`

// finding is one error or warning of check's report. It is kept apart
// from workstation.Problem and api.Error because it is the JSON of
// 'workstation check --json' (path and message always present, the line
// of the input), which scripts read.
type finding struct {
	Code    workstation.Code `json:"code"`
	Path    string           `json:"path"`
	Message string           `json:"message"`
	Hint    string           `json:"hint,omitempty"`
	Line    int              `json:"line,omitempty"`
}

type checkReport struct {
	File     string    `json:"file"`
	Valid    bool      `json:"valid"`
	Rules    string    `json:"rules"`
	Errors   []finding `json:"errors"`
	Warnings []finding `json:"warnings"`
}

// tableFlags are the flags that choose the tariff and holiday tables.
type tableFlags struct {
	tables, tariffs, holidays string
	pricesWarn                []string // tables whose price differences are warnings
}

// addTableFlags adds --tables, --tariffs and, with holidays, --holidays.
func addTableFlags(fs *flag.FlagSet, holidays bool) *tableFlags {
	tf := &tableFlags{}
	fs.StringVar(&tf.tables, "tables", "", "tariff tables `directory` (ngap.csv, ccam.csv, ccam-modifiers.csv, drugs.csv, fees.csv); default: the ones built in")
	fs.StringVar(&tf.tariffs, "tariffs", "", "NGAP tariff table (CSV), over the tables' ngap.csv; default: the one built in")
	fs.Var((*tables.WarnList)(&tf.pricesWarn), "prices-warn", "tables whose price differences are warnings, as the gateway's --prices-warn: `list` of ngap, ccam, drugs")
	if holidays {
		fs.StringVar(&tf.holidays, "holidays", "", "public holiday table (CSV); default: the one built in")
	}
	return tf
}

// options are the rules' options at now with the chosen tables.
func (tf *tableFlags) options(now time.Time) (fse.Options, error) {
	o, err := tf.load()
	if err != nil {
		return fse.Options{}, err
	}
	o.Now = func() time.Time { return now }
	return o, nil
}

// load gives the rules' options with the chosen tables (no clock).
func (tf *tableFlags) load() (fse.Options, error) {
	var o fse.Options
	var set tables.Set
	var err error
	if tf.tables != "" {
		set, err = tables.Load(os.DirFS(tf.tables))
	} else {
		set, err = dev.Tables()
	}
	if err != nil {
		return o, fmt.Errorf("tariff tables: %w", err)
	}
	set.Apply(&o)
	for _, t := range tf.pricesWarn {
		switch t {
		case "ngap":
			o.Prices.NGAP = fse.PriceWarn
		case "ccam":
			o.Prices.CCAM = fse.PriceWarn
		case "drugs":
			o.Prices.Drugs = fse.PriceWarn
		}
	}
	if tf.tariffs != "" {
		b, err := os.ReadFile(tf.tariffs)
		if err != nil {
			return o, fmt.Errorf("tariff table: %w", err)
		}
		if o.Tariffs, err = fse.ParseTariffs(bytes.NewReader(b)); err != nil {
			return o, err
		}
	}
	var b []byte
	if tf.holidays != "" {
		b, err = os.ReadFile(tf.holidays)
	} else {
		b, err = fixtures.ReadFile("holidays.csv")
	}
	if err != nil {
		return o, fmt.Errorf("holiday table: %w", err)
	}
	if o.Holidays, err = fse.ParseHolidays(bytes.NewReader(b)); err != nil {
		return o, err
	}
	return o, nil
}

// signingClock is the signing time: now when --now was given, else nil
// (the current time at each signature).
func signingClock(nowFlag string, now time.Time) func() time.Time {
	if nowFlag == "" {
		return nil
	}
	return func() time.Time { return now }
}

func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, cli.Usagef("--now %q is not an RFC 3339 time (2026-03-18T10:00:00Z)", s)
	}
	return t, nil
}

func runCheck(_ context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "check", checkUsage)
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	nowFlag := fs.String("now", "", "check as if at this time (RFC 3339); default: now")
	maxAge := fs.Int("max-age", 0, "oldest care date accepted, in days (0: the default of 730)")
	tf := addTableFlags(fs, true)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return cli.Usagef("check: no file given (workstation check FILE...)")
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return err
	}
	opts, err := tf.options(now)
	if err != nil {
		return err
	}
	opts.MaxAge = *maxAge
	files, err := workstation.SheetFiles(fs.Args())
	if err != nil {
		return err
	}
	verifier, trustErr := checkVerifier(env)
	flow := &workstation.Flow{Rules: opts, AcceptSigned: true, Verifier: verifier, Untrusted: trustErr}
	invalid := 0
	enc := json.NewEncoder(env.Stdout)
	for _, file := range files {
		_, r := checkFile(flow, file)
		if !r.Valid {
			invalid++
		}
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		printReport(env.Stdout, r)
	}
	if invalid > 0 {
		if !*asJSON {
			fmt.Fprintf(env.Stderr, "workstation: %d of %d sheets invalid\n", invalid, len(files))
		}
		return &cli.ExitError{Code: 1}
	}
	return nil
}

// checkFile reads file and checks it with flow, before any PIN, and
// reports it. The sheet is nil when the file could not be decoded.
func checkFile(flow *workstation.Flow, file string) (*workstation.Sheet, checkReport) {
	r := checkReport{File: file, Rules: flow.Rules.Version(), Errors: []finding{}, Warnings: []finding{}}
	sh, err := workstation.ReadFile(file)
	if err == nil {
		err = flow.Check(sh)
		for _, w := range sh.Warnings {
			r.Warnings = append(r.Warnings, toFinding(w))
		}
	}
	for _, p := range workstation.ProblemsOf(err) {
		r.Errors = append(r.Errors, toFinding(p))
	}
	r.Valid = len(r.Errors) == 0
	return sh, r
}

// checkVerifier is what verifies signed sheets in check; nil without
// trust anchors: the gateway verifies the signature, check keeps to the
// rules.
func checkVerifier(env *cli.Env) (*signature.Verifier, error) {
	trust, err := trustAnchors(env)
	if trust == nil || err != nil {
		return nil, err
	}
	return &signature.Verifier{Trust: trust}, nil
}

// trustAnchors are the roots and CRLs of FSEGATE_TRUST_DIR, else the test
// PKI in development; nil with neither.
func trustAnchors(env *cli.Env) (*signature.TrustStore, error) {
	switch dir := env.Getenv("FSEGATE_TRUST_DIR"); {
	case dir != "":
		return signature.LoadDir(dir)
	case env.Dev():
		return dev.Trust()
	}
	return nil, nil
}

func toFinding(p workstation.Problem) finding {
	return finding{Code: p.Code, Path: p.Path, Message: p.Message, Hint: p.Hint, Line: p.Line}
}

func printReport(w io.Writer, r checkReport) {
	state := "valid"
	if !r.Valid {
		state = "invalid"
	}
	fmt.Fprintf(w, "%s: %s (rules %s)\n", r.File, state, r.Rules)
	show := func(kind string, f finding) {
		where := f.Path
		if f.Line > 0 {
			where += fmt.Sprintf(" (line %d)", f.Line)
		}
		if where != "" {
			where = " at " + where
		}
		fmt.Fprintf(w, "  %s%s%s: %s\n", kind, f.Code, where, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(w, "    hint: %s\n", f.Hint)
		}
	}
	for _, f := range r.Errors {
		show("", f)
	}
	for _, f := range r.Warnings {
		show("warning ", f)
	}
}
