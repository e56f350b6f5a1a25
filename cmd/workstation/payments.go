package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation/reconcile"
)

func init() {
	program.Add(&cli.Command{Name: "payments", Summary: "list the insurers' transfers; reconcile them with a bank statement", Run: runPayments})
}

const paymentsUsage = `workstation payments — the insurers' bank transfers to the practice

Usage:
  workstation payments [--billing B] [--from DATE] [--to DATE] [--insurer ID] [--lines | --json | --csv]
  workstation payments reconcile [--billing B] [--tolerance DAYS] [--json] STATEMENT.csv

Lists the transfers the insurers paid billing number B (default: the card
holder's only one), as the gateway kept them: reference, value date, total,
the sheets each pays, what was withheld and why, payments reversed (negative
amounts). --lines shows each transfer's lines; --csv writes them in the
statement format below (one row per transfer), for accounting software.

'payments reconcile' matches a bank statement (CSV: a header row with the
columns date and amount, optionally reference and label; ',' or ';'
separated; docs/workstation.md, "Reconciling payments") with the transfers
of its period, and explains every difference: missing (a transfer not on
the statement), unexpected (a bank line no transfer explains), amount
differs, date differs (more than --tolerance days from the value date).
Exit status 0 when everything matches, 1 when something differs
(RECONCILE_DIFFERENCES) or the statement is not readable (BANK_CSV_INVALID).

Examples:
  workstation payments --from 2026-11-01
  workstation payments --json > payments.jsonl
  workstation payments --csv --from 2026-11-01 > transfers.csv
  workstation payments reconcile releve-novembre.csv
`

func runPayments(ctx context.Context, env *cli.Env, args []string) error {
	if len(args) > 0 && args[0] == "reconcile" {
		return runReconcile(ctx, env, args[1:])
	}
	fs := cli.FlagSet(env, "payments", paymentsUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	billing := fs.String("billing", "", "billing `number` (numéro AM); default: the card holder's only one")
	from := fs.String("from", "", "transfers of value `date` YYYY-MM-DD or later")
	to := fs.String("to", "", "transfers of value `date` YYYY-MM-DD or earlier")
	insurer := fs.String("insurer", "", "only the transfers of this insurer `id`")
	lines := fs.Bool("lines", false, "show each transfer's lines (sheets paid, withheld, reversed)")
	asJSON := fs.Bool("json", false, "one JSON object per transfer")
	asCSV := fs.Bool("csv", false, "one CSV row per transfer: date,amount,reference,label")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if *asJSON && *asCSV {
		return cli.Usagef("--json or --csv, not both")
	}
	if fs.NArg() != 0 {
		return cli.Usagef("payments takes no argument (did you mean 'payments reconcile FILE'?)")
	}
	for _, d := range []string{*from, *to} {
		if _, err := time.Parse(time.DateOnly, d); d != "" && err != nil {
			return cli.Usagef("--from and --to are dates YYYY-MM-DD, not %q", d)
		}
	}
	_, cl, closeAll, err := connect(ctx, env, cf, gf)
	if err != nil {
		return err
	}
	defer closeAll()
	ts, err := cl.AllPayments(ctx, *billing, client.PaymentsQuery{From: *from, To: *to, Insurer: *insurer})
	if err != nil {
		return gatewayHint(err, gf.URL)
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, t := range ts {
			if err := enc.Encode(t); err != nil {
				return err
			}
		}
		return nil
	}
	if *asCSV {
		return writeTransfersCSV(env.Stdout, ts)
	}
	return writeTransfers(env.Stdout, ts, *lines)
}

// writeTransfersCSV writes the transfers as a statement reconcile reads.
func writeTransfersCSV(w io.Writer, ts []client.Transfer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"date", "amount", "reference", "label"})
	for _, t := range ts {
		amount := client.Euros(t.Total)
		_ = cw.Write([]string{t.Date, strings.TrimSuffix(amount, " EUR"), t.Reference, t.Insurer + " " + fmt.Sprint(len(t.Lines)) + " lines"})
	}
	cw.Flush()
	return cw.Error()
}

// writeTransfers prints one row per transfer (and its lines with lines).
func writeTransfers(w io.Writer, ts []client.Transfer, lines bool) error {
	if len(ts) == 0 {
		_, err := fmt.Fprintln(w, "no transfer")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tREFERENCE\tINSURER\tTOTAL\tSHEETS\tWITHHELD\tREVERSED")
	var total int64
	for i := range ts {
		t := &ts[i]
		total += t.Total
		n := 0
		for _, l := range t.Lines {
			if l.Kind != "withheld" {
				n++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", t.Date, t.Reference, t.Insurer, client.Euros(t.Total), n, orDash(t.Sum("withheld")), orDash(t.Sum("reversed")))
		if !lines {
			continue
		}
		for _, l := range t.Lines {
			why := ""
			if l.Code != "" {
				why = l.Code + " " + l.Label
			}
			fmt.Fprintf(tw, "\t  %s %s-%s\t\t%s\t\t\t\t%s\n", l.Kind, t.Billing, l.Number, client.Euros(l.Amount), why)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d transfers, %s in all\n", len(ts), client.Euros(total))
	return err
}

func orDash(c int64) string {
	if c == 0 {
		return "-"
	}
	return client.Euros(c)
}

const reconcileUsage = `workstation payments reconcile — match a bank statement with the transfers

Usage:
  workstation payments reconcile [--billing B] [--tolerance DAYS] [--json] STATEMENT.csv

See 'workstation payments -h' and docs/workstation.md, "Reconciling payments".
`

func runReconcile(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "payments reconcile", reconcileUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	billing := fs.String("billing", "", "billing `number` (numéro AM); default: the card holder's only one")
	tol := fs.Int("tolerance", 2, "`days` a booking date may be from the transfer's value date")
	asJSON := fs.Bool("json", false, "one JSON object per result")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("payments reconcile needs one bank statement (a CSV file)")
	}
	if *tol < 0 {
		return cli.Usagef("--tolerance is a number of days, 0 or more")
	}
	opt := reconcile.Tolerance(*tol)
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("%w: %w", reconcile.ErrBankCSV, err)
	}
	lines, err := reconcile.ReadStatement(f)
	f.Close()
	switch {
	case errors.Is(err, reconcile.ErrNoLines):
		return cli.WithHint(err, "export the statement's credits for the period to reconcile")
	case err != nil:
		return cli.WithHint(err, "the statement is a CSV with a header row naming date and amount (docs/workstation.md#reconciling-payments)")
	}
	_, cl, closeAll, err := connect(ctx, env, cf, gf)
	if err != nil {
		return err
	}
	defer closeAll()
	from, to := reconcile.Period(lines, opt)
	ts, err := cl.AllPayments(ctx, *billing, client.PaymentsQuery{From: from, To: to})
	if err != nil {
		return gatewayHint(err, gf.URL)
	}
	rep := reconcile.Match(lines, ts, opt)
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, r := range rep.Results {
			out := map[string]any{"status": r.Status, "date": r.Date(), "detail": r.Detail}
			if r.Bank != nil {
				out["bank_row"], out["bank_amount"] = r.Bank.Row, r.Bank.Amount
			}
			if r.Transfer != nil {
				out["reference"], out["transfer_amount"], out["value_date"] = r.Transfer.Reference, r.Transfer.Total, r.Transfer.Date
			}
			if err := enc.Encode(out); err != nil {
				return err
			}
		}
	} else if err := writeReport(env.Stdout, rep); err != nil {
		return err
	}
	if n := rep.Differences(); n > 0 {
		return cli.WithHint(fmt.Errorf("%s: %d of %d results differ", reconcile.CodeDifferences, n, len(rep.Results)),
			"each difference is explained above; a missing transfer may still be on its way")
	}
	return nil
}

func writeReport(w io.Writer, rep *reconcile.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tDATE\tAMOUNT\tREFERENCE\tDETAIL")
	for _, r := range rep.Results {
		amount, ref := "", "-"
		if r.Bank != nil {
			amount = client.Euros(r.Bank.Amount)
		}
		if r.Transfer != nil {
			ref = r.Transfer.Reference
			if amount == "" {
				amount = client.Euros(r.Transfer.Total)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Status, r.Date(), amount, ref, r.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for _, s := range []reconcile.Status{reconcile.Matched, reconcile.AmountDiffers, reconcile.DateDiffers, reconcile.Unexpected, reconcile.Missing} {
		parts = append(parts, fmt.Sprintf("%d %s", rep.Counts[s], s))
	}
	_, err := fmt.Fprintf(w, "%d bank lines, %d transfers from %s to %s: %s\n", rep.BankLines, rep.Transfers, rep.From, rep.To, strings.Join(parts, ", "))
	return err
}
