package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation/doctor"
)

func init() {
	program.Add(&cli.Command{Name: "doctor", Summary: "check the card, the reader, the gateway, the clock and the outbox, and say what to do", Run: runDoctor})
}

const doctorUsage = `workstation doctor — check everything a workstation needs, in plain words

Usage:
  workstation doctor [--gateway URL] [--reader NAME] [--outbox DIR]

Checks, one line each, OK or what to do (like the ANS's DiagCPS):
  pcscd running, card readers, a CPS card present and recognised,
  its certificates valid and not revoked, PIN tries left, the gateway
  reachable and its certificate trusted, the card accepted by the gateway,
  the clock against the gateway's, the outbox backlog.

No PIN is asked. Exit status: 0 when everything is OK (warnings allowed),
1 when something is wrong, 2 on misuse.

Examples:
  workstation doctor
  workstation doctor --dev --gateway https://127.0.0.1:8443
`

func runDoctor(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "doctor", doctorUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	dir := addOutboxFlag(fs, env)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return cli.Usagef("doctor takes no argument")
	}
	d := &doctor.Report{Print: func(f doctor.Finding) {
		fmt.Fprintf(env.Stdout, "%-5s %-22s %s\n", f.Level, f.What, f.Detail)
		if f.Todo != "" && f.Level != doctor.OK {
			fmt.Fprintf(env.Stdout, "      %-22s → %s\n", "", f.Todo)
		}
	}}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	c := doctorCard(ctx, d, cf, env)
	if c != nil {
		defer c.Close()
	}
	doctorGateway(ctx, d, gf, c)
	d.Outbox(*dir)
	if old := oldOutbox(env); old != "" && *dir == defaultOutbox(env) {
		d.OldOutbox(old, *dir)
	}

	if d.Fails > 0 {
		return fmt.Errorf("doctor: %s, %s", doctor.Plural(d.Fails, "problem"), doctor.Plural(d.Warns, "warning"))
	}
	fmt.Fprintf(env.Stdout, "everything is ready (%s)\n", doctor.Plural(d.Warns, "warning"))
	return nil
}

// doctorCard checks pcscd, the readers (or the PKCS#11 module), the card
// and its certificates. It returns the open card (nil when there is
// none), with no PIN prompt.
func doctorCard(ctx context.Context, d *doctor.Report, cf *cardFlags, env *cli.Env) card.Token {
	virtual := env.Getenv("FSEGATE_VIRTUAL_CARD") != "" && env.Dev()
	switch {
	case cf.PKCS11 != "" || cf.PKCS11Token != "":
		d.OK("backend", "PKCS#11 module "+cf.PKCS11+" (pcscd not checked: the module reaches the card its own way)")
	case virtual:
		d.OK("pcscd", "not used: in-process virtual card (FSEGATE_VIRTUAL_CARD, development)")
	default:
		rs, err := card.Readers(ctx)
		if !d.Readers(rs, err, cf.Reader) {
			return nil
		}
	}
	c, err := cf.open(ctx, env)
	if err != nil {
		msg := err.Error()
		var he *cli.HintError
		todo := ""
		if errors.As(err, &he) {
			todo = he.Hint
		}
		if withHint := cardHint(errors.Unwrap(err)); withHint != nil && todo == "" {
			if errors.As(withHint, &he) {
				todo = he.Hint
			}
		}
		d.Fail("card", msg, todo)
		return nil
	}
	if cf.PINFile == "" && env.Getenv("FSEGATE_PIN") == "" {
		c.SetPINPrompt(nil) // doctor asks no PIN; a PIN given non-interactively is used
	}
	info, err := c.Info(ctx)
	if err != nil {
		d.Fail("card", err.Error(), "take the card out and put it back; if it persists, try another reader")
		c.Close()
		return nil
	}
	h := info.Holder
	model := info.Model.String() + " "
	if info.Backend == card.BackendPKCS11 {
		model = "" // a PKCS#11 module does not show the ATR
	}
	d.Card(info, fmt.Sprintf("%s%s %s (%s, %s) in %q, through %s", model, h.CardType, h.GivenName+" "+h.Surname, h.ProfessionLabel, h.NationalID, info.Reader, backendName(info.Backend)), time.Now())
	trust, err := trustAnchors(env)
	d.Revocation(trust, err, info.Auth)
	d.PIN(info.PIN)
	return c
}

// doctorGateway checks that the gateway answers, that its certificate is
// trusted, that it accepts the card, and the clock skew.
func doctorGateway(ctx context.Context, d *doctor.Report, gf *gatewayFlags, c card.Token) {
	cl, err := gf.client(ctx, nil)
	if err != nil {
		d.Fail("gateway", err.Error(), "fix --gateway or the configuration")
		return
	}
	cl.Close()
	var roots *x509.CertPool
	switch {
	case gf.Roots != "":
		b, err := os.ReadFile(gf.Roots)
		if err != nil {
			d.Fail("gateway", err.Error(), "fix --gateway-roots")
			return
		}
		roots = x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
	case gf.Dev:
		b, _ := fixtures.ReadFile("pki/root.crt")
		roots = x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
	}
	if !d.Gateway(ctx, gf.URL, roots) || c == nil {
		return
	}
	// The card's authentication (mTLS): a sheet that does not exist is a
	// 404 once the gateway has accepted the card.
	cl, err = gf.client(ctx, c)
	if err != nil {
		d.Fail("card at the gateway", err.Error(), "")
		return
	}
	defer cl.Close()
	_, err = cl.Sheet(ctx, "", "000000000")
	d.CardAtGateway(err)
}
