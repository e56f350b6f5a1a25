package main

import (
	"context"
	"fmt"
	"time"

	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/internal/demo"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

func init() {
	program.Add(&cli.Command{Name: "demo", Summary: "sign and send synthetic care sheets with the card, follow them to their final state", Run: runDemo})
}

const demoUsage = `Usage: workstation demo [flags]

Generates care sheets for the practice of the card holder, signs each with
the card's signature key, sends them to the gateway over TLS authenticated
by the card, and prints each receipt, ARL, return and payment as it
arrives, then a summary. 'make demo' runs it against 'make run'.

With --virtual-card PROFILE it first plugs a virtual card into the vpcd
reader on --reader-port (pcscd must run with vpcd: scripts/pcscd.sh start).

Examples:
  workstation demo --dev --virtual-card doctor          # what 'make demo' does
  FSEGATE_PIN=1234 workstation demo --dev --count 5 --reader "fsegate vpcd 0 00 00"
`

func runDemo(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "demo", demoUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	count := fs.Int("count", 20, "number of care sheets")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "generator seed")
	vcard := fs.String("virtual-card", "", "plug a virtual card of `PROFILE` into a vpcd reader first")
	port := fs.Int("reader-port", 35963, "vpcd `port` of the reader for --virtual-card")
	wait := fs.Duration("wait", 3*time.Minute, "how long to follow the notices for final states")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *vcard != "" {
		v, err := virtual.Open(*vcard, virtual.Options{})
		if err != nil {
			return err
		}
		vctx, stop := context.WithCancel(ctx)
		defer stop()
		go virtual.Serve(vctx, fmt.Sprintf("127.0.0.1:%d", *port), v, nil)
		fmt.Fprintf(env.Stdout, "virtual card %q plugged into the vpcd reader on port %d\n", *vcard, *port)
		if cf.Reader == "" {
			// Wait for the reader that turns present.
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			r, err := card.WaitForCard(wctx, "")
			cancel()
			if err != nil {
				return cli.WithHint(fmt.Errorf("virtual card not seen by pcscd: %w", err), "start pcscd with its vpcd readers: scripts/pcscd.sh start")
			}
			cf.Reader = r
		}
	}
	c, cl, closeAll, err := connect(ctx, env, cf, gf)
	if err != nil {
		return err
	}
	defer closeAll()
	_, err = demo.Run(ctx, demo.Config{Client: cl, Card: c, Count: *count, Seed: *seed, Out: env.Stdout, Wait: *wait})
	return gatewayHint(err, gf.URL)
}
