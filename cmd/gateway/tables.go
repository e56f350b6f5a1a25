package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsegate/fsegate/fse/tables"
	"github.com/fsegate/fsegate/internal/cli"
)

func init() {
	program.Add(&cli.Command{Name: "tables", Summary: "import a new version of a tariff table ('tables import FILE')", Run: runTables})
}

const tablesUsage = `gateway tables — the tariff tables (docs/amounts.md)

Usage:
  gateway tables import --tables DIR [--as NAME] [--yes] FILE

import reads FILE, a new version of one of the tables of the tables
directory DIR (the one 'gateway serve --tables DIR' reads): ngap.csv,
ccam.csv, ccam-modifiers.csv, drugs.csv or fees.csv, named by FILE's base
name or by --as. It checks the new version with the rest of the directory,
then prints its differences with the current version, row by row (+ added,
- removed, ~ changed). Nothing is written unless --yes is given: then the
current file is kept as NAME.previous and FILE takes its place. A running
gateway reads its tables when it starts.

Exit status: 0 when the version is valid (taken with --yes), 1 when it is
not, 2 on misuse.

Examples:
  gateway tables import --tables /etc/fsegate/tables ngap.csv
  gateway tables import --tables /etc/fsegate/tables --yes ngap.csv
  gateway tables import --tables /etc/fsegate/tables --as drugs.csv export-2026-01.csv
`

func runTables(ctx context.Context, env *cli.Env, args []string) error {
	if len(args) == 0 || args[0] != "import" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(env.Stdout, tablesUsage)
			return nil
		}
		return cli.Usagef("tables: want 'tables import FILE'")
	}
	fs := cli.FlagSet(env, "tables import", tablesUsage)
	dir := fs.String("tables", "", "tables `directory` to import into (required)")
	as := fs.String("as", "", "the table FILE is a version of: ngap.csv, ccam.csv, ccam-modifiers.csv, drugs.csv or fees.csv (default: FILE's base name)")
	yes := fs.Bool("yes", false, "take the new version (otherwise only show the differences)")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("tables import takes one FILE, got %d arguments", fs.NArg())
	}
	if *dir == "" {
		return cli.Usagef("--tables is required")
	}
	file := fs.Arg(0)
	name := *as
	if name == "" {
		name = filepath.Base(file)
	}
	tb, ok := tables.Lookup(name)
	if !ok {
		var names []string
		for _, t := range tables.All {
			names = append(names, t.File)
		}
		return cli.WithHint(cli.Usagef("%s is not a table: want one of %s", name, strings.Join(names, ", ")), "name the table with --as")
	}
	incoming, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	im, err := tables.PlanImport(*dir, tb, incoming)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: version %s → %s, %d change(s)\n", tb.File, orNone(im.OldVersion), orNone(im.NewVersion), len(im.Changes))
	for _, c := range im.Changes {
		fmt.Fprintln(env.Stdout, c)
	}
	if !*yes {
		fmt.Fprintln(env.Stdout, "nothing written: run again with --yes to take this version")
		return nil
	}
	target, err := im.Apply()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: version %s taken\n", target, orNone(im.NewVersion))
	return nil
}

func orNone(v string) string {
	if v == "" {
		return "(unnamed)"
	}
	return v
}
