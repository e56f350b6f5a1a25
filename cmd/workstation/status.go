package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation"
)

func init() {
	program.Add(&cli.Command{Name: "status", Summary: "a care sheet's state and history at the gateway", Run: runStatus})
}

const statusUsage = `workstation status — a care sheet's state and history

Usage:
  workstation status [--billing B] [--json] [--outbox DIR] SHEET...

Asks the gateway for the state of each SHEET, named as every command prints
it, BILLING-NUMBER (751000019-000100002; BILLING.NUMBER is taken too), or
by its number alone under billing number B (default: the card holder's only
billing number): its state at each
destination (AMO, AMC), the lot it went in, and its history (received,
queued, batched, delivered, ARL, accepted, rejected with a code, paid).

The outbox follows: a sheet in its final state is marked final there (kept
as the legal copy, then pruned after 90 days); a receipted sheet the gateway
no longer knows is put back to be sent again.

Exit status: 0 when every sheet is known, 1 otherwise, 2 on misuse.

Examples:
  workstation status 751000019-000100001
  workstation status 000100001
  workstation status --billing 751000027 --json 000100001 | jq .state
`

func runStatus(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "status", statusUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	dir := addOutboxFlag(fs, env)
	billing := fs.String("billing", "", "billing `number` (numéro AM) of the sheets; default: the card holder's only one")
	asJSON := fs.Bool("json", false, "print the gateway's JSON, one object per line")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return cli.Usagef("status needs a sheet number (workstation status NUMBER)")
	}
	ob, err := openOutbox(env, *dir)
	if err != nil {
		return err
	}
	_, cl, closeAll, err := connect(ctx, env, cf, gf)
	if err != nil {
		return err
	}
	defer closeAll()
	failed := 0
	for _, arg := range fs.Args() {
		b, number, err := fse.ParseSheetID(arg)
		if err != nil {
			return cli.Usagef("status: %v", err)
		}
		switch {
		case b == "":
			b = *billing
		case *billing != "" && b != *billing:
			return cli.Usagef("status: sheet %s is not of --billing %s", arg, *billing)
		}
		st, err := cl.Sheet(ctx, b, number)
		if errors.Is(err, client.ErrNotFound) {
			failed++
			msg := "the gateway does not know this sheet"
			if key, ok := workstation.KeyFor(ob, b, number); ok {
				if again, err := workstation.Forgotten(ob, key); again {
					if err != nil {
						return err
					}
					msg += "; it was receipted before: put back in the outbox to be sent again ('workstation outbox --send')"
				}
			}
			fmt.Fprintf(env.Stdout, "%s: %s\n", arg, msg)
			continue
		}
		if err != nil {
			return gatewayHint(err, gf.URL)
		}
		if err := workstation.Follow(ob, st); err != nil {
			return err
		}
		if *asJSON {
			fmt.Fprintf(env.Stdout, "%s\n", st.Raw)
			continue
		}
		printStatus(env.Stdout, st)
	}
	if failed > 0 {
		return &cli.ExitError{Code: 1}
	}
	return nil
}

func printStatus(w io.Writer, st *client.Status) {
	final := ""
	if st.Final() {
		final = " (final)"
	}
	fmt.Fprintf(w, "%s: %s%s\n", fse.SheetID(st.Billing, st.Number), st.State, final)
	if sc := st.SCOR; sc != nil {
		line := "  SCOR piece: " + sc.State
		switch sc.State {
		case "awaiting":
			line += " (send the scanned prescription: workstation scor " + st.Number + " FILE)"
		case "refused":
			line += " (" + sc.Reason + "): send it again"
		}
		if sc.Lot != "" {
			line += " lot " + sc.Lot
		}
		fmt.Fprintln(w, line)
	}
	for _, d := range st.Destinations {
		line := fmt.Sprintf("  %-8s %-4s %s", d.Insurer, d.Kind, d.State)
		if d.Code != "" {
			line += " " + d.Code
		}
		if d.Amount != 0 {
			line += " " + client.Euros(d.Amount)
		}
		if d.Transfer != "" {
			line += " transfer " + d.Transfer
		}
		if d.Participation != 0 || d.Franchises != 0 {
			line += " (patient owes " + client.Euros(d.Participation+d.Franchises) + ": participation, franchises)"
		}
		if d.Lot != "" {
			line += " lot " + d.Lot
		}
		fmt.Fprintln(w, line)
	}
	for _, h := range st.History {
		line := fmt.Sprintf("  %s %s", h.Time.Local().Format(time.DateTime), h.State)
		if h.Insurer != "" {
			line += " " + h.Insurer
		}
		if h.Code != "" {
			line += " " + h.Code
		}
		if h.Amount != 0 {
			line += " " + client.Euros(h.Amount)
		}
		if h.Transfer != "" {
			line += " transfer " + h.Transfer
		}
		if h.Detail != "" {
			line += ": " + h.Detail
		}
		fmt.Fprintln(w, line)
	}
}
