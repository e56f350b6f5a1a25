package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation"
)

func init() {
	program.Add(&cli.Command{Name: "notices", Summary: "read and confirm the acknowledgements (ARL, returns, payments)", Run: runNotices})
}

const noticesUsage = `workstation notices — read and confirm the acknowledgements

Usage:
  workstation notices [--follow] [--until-final] [--json] [--billing B] [--timeout D] [--outbox DIR]

Prints the notices of billing number B (default: the card holder's only
one) not confirmed yet: lot acknowledgements (ARL positive or negative) and
per-sheet returns (accepted, rejected with a code, paid with an amount).
Each notice is confirmed once it has been written: it is not delivered
again. With --follow, waits for new notices until interrupted (or --timeout).
With --until-final (implies --follow), stops as soon as every sheet the
outbox sent (of billing number B when given) has reached its final state
and the notices that came with it are read (a payment's, its transfer's):
what a script that sends, then waits for the answers, wants. It asks the
gateway for the state of those sheets first (and again whenever no notice
came for a while), so it ends at once when nothing is outstanding, and
also when their notices were read elsewhere (another outbox, the practice
software); it gives up after --timeout, 10 minutes unless set (exit 1,
saying how many are not final).

The outbox follows: a sheet whose notice brings it to its final state is
marked final there.

Examples:
  workstation notices
  workstation notices --follow
  workstation notices --follow --json >> notices.jsonl
  workstation notices --until-final --timeout 10m
`

func runNotices(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "notices", noticesUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	dir := addOutboxFlag(fs, env)
	billing := fs.String("billing", "", "billing `number` (numéro AM); default: the card holder's only one")
	asJSON := fs.Bool("json", false, "one JSON object per notice and line")
	follow := fs.Bool("follow", false, "wait for new notices until interrupted")
	untilFinal := fs.Bool("until-final", false, "follow until every sheet the outbox sent is final (implies --follow)")
	timeout := fs.Duration("timeout", 0, "with --follow, stop after this `duration` (0: never; with --until-final the default is 10m)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return cli.Usagef("notices takes no argument")
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
	if *untilFinal {
		*follow = true
		if !flagSet(fs, "timeout") {
			*timeout = 10 * time.Minute
		}
	}
	if *follow && *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	write := func(ns []client.Notice) error { return writeNotices(env.Stdout, ns, *asJSON) }
	if *untilFinal {
		final, err := workstation.UntilFinal(ctx, cl, ob, *billing, write)
		var nf *workstation.NotFinalError
		switch {
		case errors.As(err, &nf):
			// The script waiting on it must know it did not end.
			why := "interrupted"
			if errors.Is(nf.Err, context.DeadlineExceeded) {
				why = "--timeout " + timeout.String()
			}
			return fmt.Errorf("sheets sent from the outbox not final yet: %d (%s)", nf.Waiting, why)
		case err != nil && ctx.Err() != nil:
			return nil // interrupted or --timeout with nothing outstanding: a normal end
		case err != nil:
			return gatewayHint(err, gf.URL)
		}
		fmt.Fprintf(env.Stderr, "every sheet sent from the outbox is final (%d)\n", final)
		return nil
	}
	total := 0
	for {
		wait := time.Duration(0)
		if *follow {
			wait = 30 * time.Second
		}
		n, err := workstation.ReadNotices(ctx, cl, ob, *billing, wait, write)
		total += n
		switch {
		case err != nil && *follow && ctx.Err() != nil:
			return nil // interrupted or --timeout: a normal end
		case err != nil:
			return gatewayHint(err, gf.URL)
		case !*follow:
			if total == 0 && !*asJSON {
				fmt.Fprintln(env.Stdout, "no new notice")
			}
			return nil
		}
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// writeNotices writes notices to w, one a line (or one JSON object each).
func writeNotices(w io.Writer, ns []client.Notice, asJSON bool) error {
	enc := json.NewEncoder(w)
	for _, n := range ns {
		if asJSON {
			if err := enc.Encode(n); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(w, describeNotice(n))
	}
	return nil
}

func describeNotice(n client.Notice) string {
	return fmt.Sprintf("%s #%d %s", n.Time.Local().Format(time.DateTime), n.Seq, n.Describe())
}
