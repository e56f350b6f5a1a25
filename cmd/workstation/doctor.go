package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation/outbox"
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

type doctorReport struct {
	env   *cli.Env
	fails int
	warns int
}

func (d *doctorReport) ok(what, detail string) {
	fmt.Fprintf(d.env.Stdout, "OK    %-22s %s\n", what, detail)
}

func (d *doctorReport) warn(what, detail, todo string) {
	d.warns++
	fmt.Fprintf(d.env.Stdout, "WARN  %-22s %s\n", what, detail)
	if todo != "" {
		fmt.Fprintf(d.env.Stdout, "      %-22s → %s\n", "", todo)
	}
}

func (d *doctorReport) fail(what, detail, todo string) {
	d.fails++
	fmt.Fprintf(d.env.Stdout, "FAIL  %-22s %s\n", what, detail)
	if todo != "" {
		fmt.Fprintf(d.env.Stdout, "      %-22s → %s\n", "", todo)
	}
}

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
	d := &doctorReport{env: env}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	c := doctorCard(ctx, d, cf, env)
	if c != nil {
		defer c.Close()
	}
	doctorGateway(ctx, d, gf, c)
	doctorOutbox(d, *dir)
	doctorOldOutbox(d, *dir)

	if d.fails > 0 {
		return fmt.Errorf("doctor: %s, %s", plural(d.fails, "problem"), plural(d.warns, "warning"))
	}
	fmt.Fprintf(env.Stdout, "everything is ready (%s)\n", plural(d.warns, "warning"))
	return nil
}

// doctorCard checks pcscd, the readers (or the PKCS#11 module), the card
// and its certificates. It returns the open card (nil when there is
// none), with no PIN prompt.
func doctorCard(ctx context.Context, d *doctorReport, cf *cardFlags, env *cli.Env) card.Token {
	virtual := env.Getenv("FSEGATE_VIRTUAL_CARD") != "" && env.Dev()
	switch {
	case cf.PKCS11 != "" || cf.PKCS11Token != "":
		d.ok("backend", "PKCS#11 module "+cf.PKCS11+" (pcscd not checked: the module reaches the card its own way)")
	case virtual:
		d.ok("pcscd", "not used: in-process virtual card (FSEGATE_VIRTUAL_CARD, development)")
	default:
		rs, err := card.Readers(ctx)
		switch {
		case errors.Is(err, card.ErrNoPCSC):
			d.fail("pcscd", "the PC/SC service is not running", "start pcscd (Debian: apt-get install pcscd; systemctl start pcscd.socket)")
			return nil
		case err != nil && !errors.Is(err, card.ErrNoReader):
			d.fail("pcscd", err.Error(), "restart pcscd")
			return nil
		}
		d.ok("pcscd", "running")
		if len(rs) == 0 {
			d.fail("card reader", "pcscd sees no reader", "connect the card reader (and check its driver: pcsc_scan lists readers)")
			return nil
		}
		withCard := 0
		var named *card.ReaderStatus
		for i, r := range rs {
			if r.CardPresent {
				withCard++
			}
			if r.Name == cf.Reader {
				named = &rs[i]
			}
		}
		counts := fmt.Sprintf("%s, %d with a card", plural(len(rs), "reader"), withCard)
		switch {
		case cf.Reader != "" && named == nil:
			d.fail("card reader", fmt.Sprintf("no reader named %q (pcscd sees %s)", cf.Reader, counts), "'workstation card list' shows the readers; fix --reader or the configuration")
			return nil
		case cf.Reader != "":
			d.ok("card reader", fmt.Sprintf("%q (pcscd sees %s)", cf.Reader, counts))
			if !named.CardPresent {
				d.fail("card", fmt.Sprintf("no card in %q", cf.Reader), "insert the CPS card (chip first, contact side up)")
				return nil
			}
		default:
			d.ok("card reader", counts)
			switch {
			case withCard == 0:
				d.fail("card", "no card in the reader", "insert the CPS card (chip first, contact side up)")
				return nil
			case withCard > 1:
				d.fail("card", fmt.Sprintf("cards in %d readers", withCard), "name the reader of the card to use with --reader (or reader: in the configuration); 'workstation card list' shows them")
				return nil
			}
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
		d.fail("card", msg, todo)
		return nil
	}
	if cf.PINFile == "" && env.Getenv("FSEGATE_PIN") == "" {
		c.SetPINPrompt(nil) // doctor asks no PIN; a PIN given non-interactively is used
	}
	info, err := c.Info(ctx)
	if err != nil {
		d.fail("card", err.Error(), "take the card out and put it back; if it persists, try another reader")
		c.Close()
		return nil
	}
	h := info.Holder
	model := info.Model.String() + " "
	if info.Backend == card.BackendPKCS11 {
		model = "" // a PKCS#11 module does not show the ATR
	}
	d.ok("card", fmt.Sprintf("%s%s %s (%s, %s) in %q, through %s", model, h.CardType, h.GivenName+" "+h.Surname, h.ProfessionLabel, h.NationalID, info.Reader, backendName(info.Backend)))
	if info.Model.Contactless() {
		d.fail("card", "read without contact: it cannot sign", "put the card in a contact reader")
	}
	now := time.Now()
	switch {
	case now.After(info.NotAfter):
		d.fail("certificates", "expired on "+info.NotAfter.Format(time.DateOnly), "order a new card from the ANS (the card cannot sign any more)")
	case now.Before(info.NotBefore):
		d.fail("certificates", "not valid before "+info.NotBefore.Format(time.DateOnly), "check the computer's clock")
	case info.NotAfter.Sub(now) < 60*24*time.Hour:
		d.warn("certificates", "expire on "+info.NotAfter.Format(time.DateOnly), "the ANS sends a new card before; check it is on its way")
	default:
		d.ok("certificates", "valid until "+info.NotAfter.Format(time.DateOnly))
	}
	doctorRevocation(ctx, d, env, info.Auth)
	switch p := info.PIN; {
	case p.TriesLeft == 0:
		d.fail("PIN", "blocked", "workstation card unblock (with the 8-digit unblock code of the card's letter)")
	case p.MaxTries == 0 && p.TriesLeft > 0:
		d.warn("PIN", describePIN(p), "a wrong PIN was entered: the card blocks at 0; check the PIN before the next entry")
	case p.MaxTries == 0:
		d.ok("PIN", describePIN(p))
	case p.MaxTries > 0 && p.TriesLeft < p.MaxTries:
		d.warn("PIN", fmt.Sprintf("%d of %d tries left", p.TriesLeft, p.MaxTries), "a wrong PIN was entered: the card blocks at 0; check the PIN before the next entry")
	default:
		d.ok("PIN", fmt.Sprintf("%d of %d tries left", p.TriesLeft, p.MaxTries))
	}
	return c
}

// doctorRevocation checks the authentication certificate's chain and CRL
// against the trust anchors (FSEGATE_TRUST_DIR, or the test PKI in
// development).
func doctorRevocation(ctx context.Context, d *doctorReport, env *cli.Env, auth *x509.Certificate) {
	trust, err := trustAnchors(env)
	switch {
	case err != nil:
		d.warn("revocation", "not checked: "+err.Error(), "check FSEGATE_TRUST_DIR")
		return
	case trust == nil:
		d.warn("revocation", "not checked: no trust anchors", "set FSEGATE_TRUST_DIR to the IGC-Santé roots and CRLs (the gateway checks anyway)")
		return
	}
	if auth == nil {
		d.fail("revocation", "the card has no authentication certificate", "")
		return
	}
	if _, err := trust.VerifyClient([][]byte{auth.Raw}); err != nil {
		d.fail("revocation", err.Error(), "the card is revoked or not from a trusted authority: it will be refused; contact the ANS")
		return
	}
	d.ok("revocation", "chain trusted, not revoked")
}

// doctorGateway checks that the gateway answers, that its certificate is
// trusted, that it accepts the card, and the clock skew.
func doctorGateway(ctx context.Context, d *doctorReport, gf *gatewayFlags, c card.Token) {
	cl, err := gf.client(ctx, nil)
	if err != nil {
		d.fail("gateway", err.Error(), "fix --gateway or the configuration")
		return
	}
	cl.Close()
	var roots *x509.CertPool
	switch {
	case gf.Roots != "":
		b, err := os.ReadFile(gf.Roots)
		if err != nil {
			d.fail("gateway", err.Error(), "fix --gateway-roots")
			return
		}
		roots = x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
	case gf.Dev:
		b, _ := fixtures.ReadFile("pki/root.crt")
		roots = x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gf.URL+"/v1/openapi.yaml", nil)
	before := time.Now()
	resp, err := hc.Do(req)
	after := time.Now()
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	switch {
	case errors.As(err, &uerr), errors.As(err, &herr):
		d.fail("gateway", "reachable but its certificate is not trusted: "+err.Error(), "give its CA with --gateway-roots (or gateway_roots in the configuration)")
		return
	case err != nil:
		d.fail("gateway", "not reachable at "+gf.URL, "check the network and the URL; is the gateway running? Sheets wait in the outbox meanwhile")
		return
	}
	resp.Body.Close()
	d.ok("gateway", "reachable at "+gf.URL+", certificate trusted")
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		mid := before.Add(after.Sub(before) / 2)
		skew := mid.Sub(date).Round(time.Second)
		abs := max(skew, -skew)
		switch {
		case abs > 5*time.Minute:
			d.fail("clock", fmt.Sprintf("%s off the gateway's clock", skew), "set the clock (enable NTP: timedatectl set-ntp true): signing times and certificates depend on it")
		case abs > 30*time.Second:
			d.warn("clock", fmt.Sprintf("%s off the gateway's clock", skew), "enable NTP (timedatectl set-ntp true)")
		default:
			d.ok("clock", fmt.Sprintf("within %s of the gateway's", max(abs, time.Second)))
		}
	} else {
		d.warn("clock", "the gateway sent no Date header: skew not measured", "")
	}
	if c == nil {
		return
	}
	// The card's authentication (mTLS): a sheet that does not exist is a
	// 404 once the gateway has accepted the card.
	cl, err = gf.client(ctx, c)
	if err != nil {
		d.fail("card at the gateway", err.Error(), "")
		return
	}
	defer cl.Close()
	_, err = cl.Sheet(ctx, "", "000000000")
	var p *client.Problem
	switch {
	case err == nil, errors.Is(err, client.ErrNotFound):
		d.ok("card at the gateway", "the gateway accepts the card's authentication")
	case errors.As(err, &p):
		d.fail("card at the gateway", p.Error(), "the gateway refuses this card: docs/errors.md explains the code")
	case errors.Is(err, card.ErrNoPIN), errors.Is(err, card.ErrSecurityStatus):
		d.warn("card at the gateway", "not checked: the card needs the PIN to authenticate", "")
	default:
		d.fail("card at the gateway", err.Error(), "the TLS handshake with the card's key failed; take the card out and put it back")
	}
}

// doctorOutbox reports the outbox backlog.
func doctorOutbox(d *doctorReport, dir string) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		d.ok("outbox", "empty (not created yet): "+dir)
		return
	}
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		d.fail("outbox", err.Error(), "check the outbox directory's permissions and free disk")
		return
	}
	all, err := ob.List()
	if err != nil {
		d.fail("outbox", err.Error(), "check the outbox directory")
		return
	}
	var pending, receipted, refused int
	var oldest time.Time
	for _, e := range all {
		switch e.State {
		case outbox.Pending:
			pending++
			if oldest.IsZero() || e.Created.Before(oldest) {
				oldest = e.Created
			}
		case outbox.Receipted:
			receipted++
		case outbox.Refused:
			refused++
		}
	}
	msg := fmt.Sprintf("%d waiting to be sent, %d receipted, %d refused (%s, owner-only)", pending, receipted, refused, dir)
	// Signed sheets carry patients' NIR: the outbox is the owner's alone.
	if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		d.warn("outbox", fmt.Sprintf("%s is readable by others (%v): it holds patients' data", dir, st.Mode().Perm()), "chmod 700 "+dir)
		return
	}
	switch {
	case pending > 0 && time.Since(oldest) > time.Hour:
		d.warn("outbox", msg, fmt.Sprintf("the oldest waits since %s: check the gateway, then 'workstation outbox --send'", oldest.Local().Format(time.DateTime)))
	case refused > 0:
		d.warn("outbox", msg, "correct the refused sheets ('workstation outbox' lists them) and send them again")
	default:
		d.ok("outbox", msg)
	}
}

// doctorOldOutbox warns of sheets left in the outbox's old default place
// (the configuration directory) that the default outbox has not taken in.
func doctorOldOutbox(d *doctorReport, dir string) {
	old := oldOutbox(d.env)
	if old == "" || dir != defaultOutbox(d.env) {
		return
	}
	n, _ := filepath.Glob(filepath.Join(old, "state", "*.json"))
	if len(n) > 0 {
		d.warn("old outbox", fmt.Sprintf("%d sheets in %s, the outbox's place before it moved to %s", len(n), old, dir),
			"the next 'workstation send', 'batch', 'outbox' or 'serve' moves them (and says so)")
	}
}

// plural is "1 warning", "2 warnings".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
