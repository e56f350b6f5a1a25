package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
	"github.com/fsegate/fsegate/workstation/demo"
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
reader on --reader-port (pcscd must run with vpcd: scripts/pcscd.sh start);
when that reader already holds a card (a 'workstation virtual-card' left
running), the next vpcd readers (ports) are tried, and it says which.
It signs with that card, found by its certificate, or says why not: never
with another card that happens to be in a reader.

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
	port := fs.Int("reader-port", 35963, "vpcd `port` of the first reader tried for --virtual-card (the next 11 when it holds a card)")
	wait := fs.Duration("wait", 3*time.Minute, "how long to follow the notices for final states")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	var want *x509.Certificate // the signature certificate of --virtual-card
	if *vcard != "" {
		v, err := dev.Card(*vcard, virtual.Options{})
		if err != nil {
			return err
		}
		if want, err = virtualCert(ctx, v); err != nil {
			return err
		}
		// A card may already be in the first reader (a 'workstation
		// virtual-card' left running): the next ones are tried.
		var ports []int
		for p := *port; p < *port+12; p++ {
			ports = append(ports, p)
		}
		reader, stop, err := plugVirtual(ctx, env, v, *vcard, want, ports, cf.Reader)
		if err != nil {
			return err
		}
		defer stop()
		cf.Reader = reader
	}
	c, cl, closeAll, err := connect(ctx, env, cf, gf)
	if err != nil {
		return err
	}
	defer closeAll()
	if want != nil {
		// Sign with the card asked for, or not at all.
		sig, _, err := c.Certificates(ctx)
		if err != nil {
			return cardHint(err)
		}
		if !sig.Equal(want) {
			return fmt.Errorf("the card in %q is %s's, not the %s virtual card's: nothing signed", cf.Reader, signature.IdentityOf(sig).Name(), *vcard)
		}
	}
	cfg, err := dev.Demo(demo.Config{Client: cl, Card: c, Count: *count, Seed: *seed, Out: env.Stdout, Wait: *wait})
	if err != nil {
		return err
	}
	sum, err := demo.Run(ctx, cfg)
	if err != nil && sum != nil && sum.Sent > 0 {
		// The gateway answered: refusals or sheets not final, said above.
		return cli.WithHint(err, "each code is explained in docs/errors.md; 'workstation status BILLING-NUMBER' follows a sheet")
	}
	return gatewayHint(err, gf.URL)
}

// virtualCert is the signature certificate of the virtual card v, read
// in-process (no PIN).
func virtualCert(ctx context.Context, v *virtual.CPS) (*x509.Certificate, error) {
	c, err := card.Open(ctx, card.Loopback(v), card.Options{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sig, _, err := c.Certificates(ctx)
	return sig, err
}

// plugVirtual connects v to the first vpcd reader port of ports where it
// shows up in pcscd (in reader when one is named), and returns the reader
// where pcscd sees it, holding the certificate want. A port whose reader
// already holds a card (a 'workstation virtual-card' left running: vpcd
// takes one card per reader) shows nothing within a few seconds: the next
// port is tried. stop removes the card.
func plugVirtual(ctx context.Context, env *cli.Env, v *virtual.CPS, profile string, want *x509.Certificate, ports []int, reader string) (string, func(), error) {
	before := map[string]bool{}
	if rs, err := card.Readers(ctx); err == nil {
		for _, r := range rs {
			before[r.Name] = r.CardPresent
		}
	} else if !errors.Is(err, card.ErrNoReader) {
		return "", nil, cli.WithHint(err, "start pcscd with its vpcd readers: scripts/pcscd.sh start")
	}
	var others []string
	for name, present := range before {
		if present && (reader == "" || name == reader) {
			others = append(others, name)
		}
	}
	for _, port := range ports {
		vctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = virtual.Serve(vctx, fmt.Sprintf("127.0.0.1:%d", port), v, nil) }()
		stopAll := func() { stop(); <-done }
		found, err := waitVirtual(ctx, before, want, reader, 5*time.Second)
		if err == nil {
			fmt.Fprintf(env.Stdout, "virtual card %q plugged into the vpcd reader on port %d (%q)\n", profile, port, found)
			return found, stopAll, nil
		}
		stopAll()
		if ctx.Err() != nil {
			return "", nil, ctx.Err()
		}
	}
	err := fmt.Errorf("the %s virtual card did not show up in any vpcd reader (ports %d-%d)", profile, ports[0], ports[len(ports)-1])
	if len(others) > 0 {
		return "", nil, cli.WithHint(err, fmt.Sprintf("readers holding another card: %q; stop the 'workstation virtual-card' left running (or give the port of a free reader with --reader-port)", others))
	}
	return "", nil, cli.WithHint(err, "start pcscd with its vpcd readers: scripts/pcscd.sh start")
}

// waitVirtual waits until a reader that held no card before (reader when
// named) holds one whose signature certificate is want, and returns it.
func waitVirtual(ctx context.Context, before map[string]bool, want *x509.Certificate, reader string, wait time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	checked := map[string]bool{}
	for {
		rs, _ := card.Readers(ctx)
		for _, r := range rs {
			if !r.CardPresent || before[r.Name] || checked[r.Name] || (reader != "" && r.Name != reader) {
				continue
			}
			checked[r.Name] = true
			c, err := card.OpenPCSC(ctx, r.Name, card.Options{})
			if err != nil {
				checked[r.Name] = false // not ready yet: again
				continue
			}
			sig, _, err := c.Certificates(ctx)
			c.Close()
			if err == nil && sig.Equal(want) {
				return r.Name, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
