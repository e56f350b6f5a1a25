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
	"github.com/fsegate/fsegate/workstation/outbox"
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
	total := 0
	// settle: with --until-final, the outbox's receipted sheets are asked
	// for at the gateway before the first wait and after a wait that
	// brought nothing.
	settle := *untilFinal
	for {
		wait := time.Duration(0)
		if *follow && !settle {
			wait = 30 * time.Second
		}
		n, err := readNotices(ctx, cl, ob, *billing, wait, env.Stdout, *asJSON)
		total += n
		if err != nil {
			if *follow && ctx.Err() != nil {
				if *untilFinal {
					// The script waiting on it must know it did not end.
					if waiting, _, err := workstation.Waiting(ob, *billing); err == nil && waiting > 0 {
						why := "interrupted"
						if errors.Is(ctx.Err(), context.DeadlineExceeded) {
							why = "--timeout " + timeout.String()
						}
						return fmt.Errorf("sheets sent from the outbox not final yet: %d (%s)", waiting, why)
					}
				}
				return nil // interrupted or --timeout: a normal end
			}
			return gatewayHint(err, gf.URL)
		}
		if !*follow {
			if total == 0 && !*asJSON {
				fmt.Fprintln(env.Stdout, "no new notice")
			}
			return nil
		}
		if *untilFinal {
			var waiting, final int
			var err error
			if settle {
				waiting, final, err = workstation.FollowOutbox(ctx, cl, ob, *billing)
				if err != nil && ctx.Err() == nil {
					return gatewayHint(err, gf.URL)
				}
			} else {
				waiting, final, err = workstation.Waiting(ob, *billing)
			}
			if err != nil && ctx.Err() == nil {
				return err
			}
			if err == nil && waiting == 0 {
				// The notices of the last changes (a payment's, its
				// transfer's) are published just after the states the
				// outbox read: take them too before stopping.
				n, err := readNotices(ctx, cl, ob, *billing, time.Second, env.Stdout, *asJSON)
				if err != nil {
					return gatewayHint(err, gf.URL)
				}
				if n > 0 {
					total += n
					continue
				}
				fmt.Fprintf(env.Stderr, "every sheet sent from the outbox is final (%d)\n", final)
				return nil
			}
			settle = n == 0 && !settle
		}
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// readNotices reads one page of notices and writes them to w, one a line
// (or one JSON object each); the outbox follows and they are confirmed
// (workstation.ReadNotices). It returns how many it wrote.
func readNotices(ctx context.Context, cl *client.Client, ob *outbox.Outbox, billing string, wait time.Duration, w io.Writer, asJSON bool) (int, error) {
	return workstation.ReadNotices(ctx, cl, ob, billing, wait, func(ns []client.Notice) error {
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
	})
}

func describeNotice(n client.Notice) string {
	return fmt.Sprintf("%s #%d %s", n.Time.Local().Format(time.DateTime), n.Seq, n.Describe())
}
