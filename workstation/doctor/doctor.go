package doctor

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
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// Level is how a finding is judged.
type Level int

const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string {
	switch l {
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	}
	return "OK"
}

// Finding is one line of the report: what was checked, what was found,
// and what to do (may be empty).
type Finding struct {
	Level  Level
	What   string
	Detail string
	Todo   string
}

// Report collects the findings.
type Report struct {
	// Print is called with each finding as it is found; may be nil.
	Print func(Finding)
	// Fails and Warns count the findings of those levels.
	Fails, Warns int
	// Findings are every finding, in order.
	Findings []Finding
}

func (r *Report) add(f Finding) {
	switch f.Level {
	case Fail:
		r.Fails++
	case Warn:
		r.Warns++
	}
	r.Findings = append(r.Findings, f)
	if r.Print != nil {
		r.Print(f)
	}
}

// OK records what was found right.
func (r *Report) OK(what, detail string) { r.add(Finding{OK, what, detail, ""}) }

// Warn records what works but needs care, and what to do.
func (r *Report) Warn(what, detail, todo string) { r.add(Finding{Warn, what, detail, todo}) }

// Fail records what is wrong, and what to do.
func (r *Report) Fail(what, detail, todo string) { r.add(Finding{Fail, what, detail, todo}) }

// Readers judges what pcscd sees: the error of card.Readers, the readers,
// and the reader named (--reader; "" for the only one with a card). It
// reports whether a card is there to open.
func (r *Report) Readers(rs []card.ReaderStatus, err error, reader string) bool {
	switch {
	case errors.Is(err, card.ErrNoPCSC):
		r.Fail("pcscd", "the PC/SC service is not running", "start pcscd (Debian: apt-get install pcscd; systemctl start pcscd.socket)")
		return false
	case err != nil && !errors.Is(err, card.ErrNoReader):
		r.Fail("pcscd", err.Error(), "restart pcscd")
		return false
	}
	r.OK("pcscd", "running")
	if len(rs) == 0 {
		r.Fail("card reader", "pcscd sees no reader", "connect the card reader (and check its driver: pcsc_scan lists readers)")
		return false
	}
	withCard := 0
	var named *card.ReaderStatus
	for i, x := range rs {
		if x.CardPresent {
			withCard++
		}
		if x.Name == reader {
			named = &rs[i]
		}
	}
	counts := fmt.Sprintf("%s, %d with a card", Plural(len(rs), "reader"), withCard)
	switch {
	case reader != "" && named == nil:
		r.Fail("card reader", fmt.Sprintf("no reader named %q (pcscd sees %s)", reader, counts), "'workstation card list' shows the readers; fix --reader or the configuration")
		return false
	case reader != "":
		r.OK("card reader", fmt.Sprintf("%q (pcscd sees %s)", reader, counts))
		if !named.CardPresent {
			r.Fail("card", fmt.Sprintf("no card in %q", reader), "insert the CPS card (chip first, contact side up)")
			return false
		}
	default:
		r.OK("card reader", counts)
		switch {
		case withCard == 0:
			r.Fail("card", "no card in the reader", "insert the CPS card (chip first, contact side up)")
			return false
		case withCard > 1:
			r.Fail("card", fmt.Sprintf("cards in %d readers", withCard), "name the reader of the card to use with --reader (or reader: in the configuration); 'workstation card list' shows them")
			return false
		}
	}
	return true
}

// Card judges the card read at now: described is its line (the card's
// model, holder and reader, as the caller shows them); then whether it can
// sign (not contactless), its certificates' validity and its PIN tries.
func (r *Report) Card(info *card.Info, described string, now time.Time) {
	r.OK("card", described)
	if info.Model.Contactless() {
		r.Fail("card", "read without contact: it cannot sign", "put the card in a contact reader")
	}
	switch {
	case now.After(info.NotAfter):
		r.Fail("certificates", "expired on "+info.NotAfter.Format(time.DateOnly), "order a new card from the ANS (the card cannot sign any more)")
	case now.Before(info.NotBefore):
		r.Fail("certificates", "not valid before "+info.NotBefore.Format(time.DateOnly), "check the computer's clock")
	case info.NotAfter.Sub(now) < 60*24*time.Hour:
		r.Warn("certificates", "expire on "+info.NotAfter.Format(time.DateOnly), "the ANS sends a new card before; check it is on its way")
	default:
		r.OK("certificates", "valid until "+info.NotAfter.Format(time.DateOnly))
	}
}

// PIN judges the PIN's tries left.
func (r *Report) PIN(p card.PINStatus) {
	switch {
	case p.TriesLeft == 0:
		r.Fail("PIN", "blocked", "workstation card unblock (with the 8-digit unblock code of the card's letter)")
	case p.MaxTries == 0 && p.TriesLeft > 0:
		r.Warn("PIN", DescribePIN(p), "a wrong PIN was entered: the card blocks at 0; check the PIN before the next entry")
	case p.MaxTries == 0:
		r.OK("PIN", DescribePIN(p))
	case p.MaxTries > 0 && p.TriesLeft < p.MaxTries:
		r.Warn("PIN", fmt.Sprintf("%d of %d tries left", p.TriesLeft, p.MaxTries), "a wrong PIN was entered: the card blocks at 0; check the PIN before the next entry")
	default:
		r.OK("PIN", fmt.Sprintf("%d of %d tries left", p.TriesLeft, p.MaxTries))
	}
}

// DescribePIN says how many PIN tries are left: a PKCS#11 module tells
// only flags (locked, final try, count low), not the counts.
func DescribePIN(p card.PINStatus) string {
	switch {
	case p.TriesLeft == 0:
		return "BLOCKED (workstation card unblock)"
	case p.MaxTries == 0 && p.TriesLeft < 0:
		return "tries left not told by the module"
	case p.MaxTries == 0 && p.TriesLeft == 1:
		return "LAST try before the card blocks (as the module tells)"
	case p.MaxTries == 0:
		return fmt.Sprintf("count low: %d tries left at most (as the module tells)", p.TriesLeft)
	}
	return fmt.Sprintf("%d tries left of %d", p.TriesLeft, p.MaxTries)
}

// Revocation judges the authentication certificate's chain and CRL
// against the trust anchors (trust and the error loading them; nil and nil
// when there are none).
func (r *Report) Revocation(trust *signature.TrustStore, trustErr error, auth *x509.Certificate) {
	switch {
	case trustErr != nil:
		r.Warn("revocation", "not checked: "+trustErr.Error(), "check FSEGATE_TRUST_DIR")
		return
	case trust == nil:
		r.Warn("revocation", "not checked: no trust anchors", "set FSEGATE_TRUST_DIR to the IGC-Santé roots and CRLs (the gateway checks anyway)")
		return
	}
	if auth == nil {
		r.Fail("revocation", "the card has no authentication certificate", "")
		return
	}
	if _, err := trust.VerifyClient([][]byte{auth.Raw}); err != nil {
		r.Fail("revocation", err.Error(), "the card is revoked or not from a trusted authority: it will be refused; contact the ANS")
		return
	}
	r.OK("revocation", "chain trusted, not revoked")
}

// Gateway asks the gateway at url for its API document over TLS with
// roots (nil: the system's) and judges whether it answers, whether its
// certificate is trusted, and the clock skew from its Date header. It
// reports whether the gateway answered.
func (r *Report) Gateway(ctx context.Context, url string, roots *x509.CertPool) bool {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/openapi.yaml", nil)
	before := time.Now()
	resp, err := hc.Do(req)
	after := time.Now()
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	switch {
	case errors.As(err, &uerr), errors.As(err, &herr):
		r.Fail("gateway", "reachable but its certificate is not trusted: "+err.Error(), "give its CA with --gateway-roots (or gateway_roots in the configuration)")
		return false
	case err != nil:
		r.Fail("gateway", "not reachable at "+url, "check the network and the URL; is the gateway running? Sheets wait in the outbox meanwhile")
		return false
	}
	resp.Body.Close()
	r.OK("gateway", "reachable at "+url+", certificate trusted")
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		r.Warn("clock", "the gateway sent no Date header: skew not measured", "")
		return true
	}
	r.Clock(before.Add(after.Sub(before) / 2).Sub(date))
	return true
}

// Clock judges the skew of this computer's clock from the gateway's.
func (r *Report) Clock(skew time.Duration) {
	skew = skew.Round(time.Second)
	abs := max(skew, -skew)
	switch {
	case abs > 5*time.Minute:
		r.Fail("clock", fmt.Sprintf("%s off the gateway's clock", skew), "set the clock (enable NTP: timedatectl set-ntp true): signing times and certificates depend on it")
	case abs > 30*time.Second:
		r.Warn("clock", fmt.Sprintf("%s off the gateway's clock", skew), "enable NTP (timedatectl set-ntp true)")
	default:
		r.OK("clock", fmt.Sprintf("within %s of the gateway's", max(abs, time.Second)))
	}
}

// CardAtGateway judges the answer of the gateway to a request
// authenticated with the card (mTLS) for a sheet that does not exist: a
// 404 once the gateway has accepted the card.
func (r *Report) CardAtGateway(err error) {
	var p *client.Problem
	switch {
	case err == nil, errors.Is(err, client.ErrNotFound):
		r.OK("card at the gateway", "the gateway accepts the card's authentication")
	case errors.As(err, &p):
		r.Fail("card at the gateway", p.Error(), "the gateway refuses this card: docs/errors.md explains the code")
	case errors.Is(err, card.ErrNoPIN), errors.Is(err, card.ErrSecurityStatus):
		r.Warn("card at the gateway", "not checked: the card needs the PIN to authenticate", "")
	default:
		r.Fail("card at the gateway", err.Error(), "the TLS handshake with the card's key failed; take the card out and put it back")
	}
}

// Outbox judges the outbox of dir: its backlog, its refused sheets, who
// may read it.
func (r *Report) Outbox(dir string) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		r.OK("outbox", "empty (not created yet): "+dir)
		return
	}
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		r.Fail("outbox", err.Error(), "check the outbox directory's permissions and free disk")
		return
	}
	all, err := ob.List()
	if err != nil {
		r.Fail("outbox", err.Error(), "check the outbox directory")
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
		r.Warn("outbox", fmt.Sprintf("%s is readable by others (%v): it holds patients' data", dir, st.Mode().Perm()), "chmod 700 "+dir)
		return
	}
	switch {
	case pending > 0 && time.Since(oldest) > time.Hour:
		r.Warn("outbox", msg, fmt.Sprintf("the oldest waits since %s: check the gateway, then 'workstation outbox --send'", oldest.Local().Format(time.DateTime)))
	case refused > 0:
		r.Warn("outbox", msg, "correct the refused sheets ('workstation outbox' lists them) and send them again")
	default:
		r.OK("outbox", msg)
	}
}

// OldOutbox warns of sheets left in old, the outbox's place before it
// moved to dir, that the outbox has not taken in.
func (r *Report) OldOutbox(old, dir string) {
	n, _ := filepath.Glob(filepath.Join(old, "state", "*.json"))
	if len(n) > 0 {
		r.Warn("old outbox", fmt.Sprintf("%d sheets in %s, the outbox's place before it moved to %s", len(n), old, dir),
			"the next 'workstation send', 'batch', 'outbox' or 'serve' moves them (and says so)")
	}
}

// Plural is "1 warning", "2 warnings".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
