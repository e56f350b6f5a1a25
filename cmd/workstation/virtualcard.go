package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

func init() {
	program.Add(&cli.Command{Name: "virtual-card", Summary: "a software CPS card in pcscd's vpcd reader (development and tests only)", Run: runVirtualCard})
}

const virtualCardUsage = `workstation virtual-card — a software CPS card in pcscd's vpcd reader

Usage:
  workstation virtual-card [--profile NAME|FILE] [--reader-port 35963] [--state FILE] [--delay 200ms]

Connects a software CPx (IAS-ECC) card to the vsmartcard vpcd reader of the
system's pcscd, so that this workstation, OpenSC and any PC/SC program see a
CPS card in a reader, until Ctrl-C removes it. It reconnects when pcscd
restarts. Profiles: %s (fixtures/cards), or a
profile YAML file whose key and certificate paths are relative to it.
PIN 1234 and unblock code 12345678 unless the profile says otherwise.

WARNING: pcscd's vpcd reader listens on all network interfaces (0.0.0.0):
any host that reaches this machine can insert a card. This is a
development and test tool, never for a production workstation.

Examples:
  workstation virtual-card                                  # doctor, CPS3
  workstation virtual-card --profile pharmacist --delay 200ms
  workstation virtual-card --profile cps4 --reader-port 35964 --state cps4.json
  workstation virtual-card --profile ./my-card.yaml
`

func runVirtualCard(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "virtual-card", fmt.Sprintf(virtualCardUsage, strings.Join(dev.ProfileNames(), ", ")))
	profile := fs.String("profile", dev.DefaultCard, "card profile `NAME` or YAML FILE")
	port := fs.Int("reader-port", 35963, "TCP `PORT` of the vpcd reader (35963 is the first reader of Debian's vpcd)")
	state := fs.String("state", "", "keep the PIN counters in `FILE` across restarts")
	delay := fs.Duration("delay", 0, "added to every RSA operation (a real card takes 100-400ms)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("virtual-card: unexpected argument %q", fs.Arg(0))
	}
	if *port <= 0 || *port > 65535 {
		return cli.Usagef("virtual-card: --reader-port %d: not a TCP port", *port)
	}
	v, err := dev.Card(*profile, virtual.Options{StateFile: *state, Delay: *delay})
	if err != nil {
		return err
	}
	p := v.Profile()
	addr := fmt.Sprintf("127.0.0.1:%d", *port)
	fmt.Fprintf(env.Stderr, "virtual card %s (%s %s, %s %s) for the vpcd reader at %s; Ctrl-C removes it\n",
		p.Name, p.CardType, p.Model, p.Surname, p.GivenName, addr)
	first := true
	err = virtual.Serve(ctx, addr, v, func() {
		if first {
			fmt.Fprintln(env.Stderr, "card inserted")
			first = false
		} else {
			fmt.Fprintln(env.Stderr, "card inserted again (pcscd restarted)")
		}
	})
	fmt.Fprintln(env.Stderr, "card removed")
	return err
}
