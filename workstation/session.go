package workstation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
)

// maxReopens is how many times in a row, within one signature, a session
// opens its card again after a reset before it gives up.
const maxReopens = 3

// SessionConfig configures OpenSession. Open is required; the zero value
// of the rest asks no PIN (signing fails with card.ErrNoPIN) and signs at
// the current time.
type SessionConfig struct {
	// Open opens the card. It is called once by OpenSession, and again when
	// the card was reset (by another program, or pulled and put back) in
	// the middle of a session, at most 3 times in a row within one
	// signature (a long-lived session meets many resets). Either backend: a
	// *card.Card (PC/SC) or a PKCS#11 token (signature/card/pkcs11).
	Open func(ctx context.Context) (card.Token, error)
	// PIN asks the holder for the PIN when the card needs it: once per
	// session, once more after a reset. The session counts the entries
	// (PINEntries). Nil: no PIN can be given.
	PIN card.PINPrompt
	// Now is the signing time written in the signatures; nil: time.Now.
	Now func() time.Time
}

// Session is one card session: the card, its holder read from the
// signature certificate without the PIN, and one PIN entry for every
// signature. Its methods are safe for concurrent use (a batch signs while
// its sender authenticates).
type Session struct {
	cfg        SessionConfig
	holder     signature.Identity
	situations []card.Situation
	// noSituations: the backend cannot read the billing situations (a
	// PKCS#11 token); Check leaves them to the gateway.
	noSituations bool
	pins         atomic.Int64

	mu   sync.Mutex
	card card.Token
	old  []card.Token // cards opened before a reset, closed with the session
}

// OpenSession opens the card and reads its holder from the signature
// certificate, and its billing situations; no PIN is asked. A card whose
// situation files cannot be read (card.ErrSituationMalformed) does not
// open. A backend that shows no situations (card.ErrNoSituations: a
// PKCS#11 token) opens: Check then checks the holder only.
func OpenSession(ctx context.Context, cfg SessionConfig) (*Session, error) {
	s := &Session{cfg: cfg}
	c, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	sig, _, err := c.Certificates(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	sits, err := c.Situations(ctx)
	if errors.Is(err, card.ErrNoSituations) {
		s.noSituations, err = true, nil
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	s.card, s.holder, s.situations = c, signature.IdentityOf(sig), sits
	return s, nil
}

// open opens the card with the session's counting PIN prompt.
func (s *Session) open(ctx context.Context) (card.Token, error) {
	c, err := s.cfg.Open(ctx)
	if err != nil {
		return nil, err
	}
	var prompt card.PINPrompt
	if s.cfg.PIN != nil {
		prompt = func(ctx context.Context, req card.PINRequest) ([]byte, error) {
			s.pins.Add(1)
			return s.cfg.PIN(ctx, req)
		}
	}
	c.SetPINPrompt(prompt)
	return c, nil
}

// Holder is who holds the card, from its signature certificate.
func (s *Session) Holder() signature.Identity { return s.holder }

// Situations are the billing situations the card holds.
func (s *Session) Situations() []card.Situation { return append([]card.Situation{}, s.situations...) }

// Card is the card of the session (the one opened again after a reset).
// The gateway client authenticates with it.
func (s *Session) Card() card.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.card
}

// PINEntries counts the PIN entries of the session so far.
func (s *Session) PINEntries() int { return int(s.pins.Load()) }

// Check checks, without the PIN, that the card may sign sh: its holder is
// the sheet's practitioner (or the remplaçant it names) and holds a card
// that may bill (a CPS: not a CPF nor a CPE), and, when the holder is the
// sheet's signer, the card holds a billing situation for the sheet's
// billing number that may sign invoices: a remplaçant situation when the
// sheet names the holder as its remplaçant, another one when it does not.
// The error is a *SheetError with SIGNER_MISMATCH and/or
// CARD_TYPE_FORBIDDEN (signature's codes), or SITUATION_UNKNOWN or
// SITUATION_MAY_NOT_SIGN (this package's). A card whose backend shows no
// billing situations (a PKCS#11 token: card.ErrNoSituations) is checked
// on its holder only; the gateway's practices directory decides the
// billing number, as it does for every sheet.
func (s *Session) Check(sh *Sheet) error {
	ps := ProblemsOf(signature.CheckSigner(s.holder, sh.Sheet.SignerID(), true))
	for i := range ps {
		ps[i].Path = ""
		switch ps[i].Code {
		case signature.CodeSignerMismatch:
			who := "practitioner"
			if sh.Sheet.Practitioner.Remplacant != nil {
				who = "remplaçant"
			}
			ps[i].Message = fmt.Sprintf("the sheet names %s %s, the card is %s's", who, sh.Sheet.SignerID(), s.holder.NationalID)
			ps[i].Hint = "use the card of the " + who + " the sheet names"
		case signature.CodeCardTypeForbidden:
			ps[i].Hint = "only a CPS may sign care sheets for billing"
		}
	}
	if !s.noSituations && s.holder.NationalID != "" && s.holder.NationalID == sh.Sheet.SignerID() {
		if p := situationProblem(s.situations, sh.Sheet.Practitioner.Billing, sh.Sheet.Practitioner.Remplacant != nil); p != nil {
			ps = append(ps, *p)
		}
	}
	return sheetError(sh.Name, ps)
}

// situationProblem says why situations do not let their card's holder
// sign a sheet billed under billing, as its remplaçant or not; nil when
// they do. The may-sign-lot flag is not looked at: the workstation signs
// no lot (the gateway makes them).
func situationProblem(situations []card.Situation, billing string, remplacant bool) *Problem {
	var found, other *card.Situation
	for i, st := range situations {
		if st.Billing != billing {
			continue
		}
		if (st.Mode == card.ModeRemplacant) != remplacant {
			other = &situations[i]
		} else if found == nil || (!found.MaySignInvoice && st.MaySignInvoice) {
			found = &situations[i]
		}
	}
	const path = "practitioner/billing"
	unknown := func(msg, hint string) *Problem {
		return &Problem{Code: CodeSituationUnknown, Path: path, Message: msg, Hint: hint, Err: CodeSituationUnknown}
	}
	switch {
	case found != nil && !found.MaySignInvoice:
		return &Problem{Code: CodeSituationMayNotSign, Path: path,
			Message: fmt.Sprintf("the card's %s situation for billing number %s may not sign invoices", found.Mode, billing),
			Hint:    "sign with the card of a practitioner who may bill under " + billing, Err: CodeSituationMayNotSign}
	case found != nil:
		return nil
	case other != nil && remplacant:
		return unknown(fmt.Sprintf("the sheet names the card's holder as remplaçant on billing number %s, and the card holds no remplaçant situation for it (its situation there is %s)", billing, other.Mode),
			"name no remplaçant: the card's holder bills under "+billing+" in their own name")
	case other != nil:
		return unknown(fmt.Sprintf("the card holds only a remplaçant situation for billing number %s, and the sheet names no remplaçant", billing),
			"name the replaced titulaire as the sheet's practitioner and the card's holder in Practitioner/Remplacant")
	case remplacant:
		return unknown(fmt.Sprintf("the card holds no remplaçant situation for billing number %s (it holds %s)", billing, billingsOf(situations)),
			"a remplaçant signs with a card that holds a remplaçant situation for the billing number; 'workstation card info' lists the card's situations")
	}
	return unknown(fmt.Sprintf("the card holds no billing situation for billing number %s (it holds %s)", billing, billingsOf(situations)),
		"sign with the card of a practitioner of "+billing+"; 'workstation card info' lists the card's situations")
}

// billingsOf lists the billing numbers of situations for a message.
func billingsOf(situations []card.Situation) string {
	if len(situations) == 0 {
		return "none"
	}
	var b []string
	for _, st := range situations {
		b = append(b, st.Billing+" ("+st.Mode.String()+")")
	}
	return strings.Join(b, ", ")
}

// Login asks the PIN (through SessionConfig.PIN) and verifies it, so that
// the signatures and the gateway's TLS handshake that follow need no
// other entry.
func (s *Session) Login(ctx context.Context) error {
	return s.Card().Login(ctx)
}

// Sign returns the signed document of sh after Check: sh.Doc signed by the
// card (enveloped XAdES-BES), or, when sh is already signed, sh.Doc as it
// is. A sheet Check refuses is never signed, and no PIN is asked for it.
// The PIN is asked at the first signature unless Login was called. When
// the card was reset in the middle, it is opened again (the PIN asked
// again) and the signature made again; a card of another holder put in
// its place is refused.
func (s *Session) Sign(ctx context.Context, sh *Sheet) ([]byte, error) {
	if err := s.Check(sh); err != nil {
		return nil, err
	}
	if sh.Signed {
		return sh.Doc, nil
	}
	so := signature.SignOptions{Now: s.cfg.Now}
	for reopens := 0; ; reopens++ {
		c := s.Card()
		key, err := c.SigningKey(ctx)
		if err == nil {
			var signed []byte
			signed, err = so.Sign(ctx, sh.Doc, key, []*x509.Certificate{key.Certificate()})
			if err == nil {
				return signed, nil
			}
		}
		if !errors.Is(err, card.ErrCardRemoved) {
			return nil, err
		}
		// Reset by another program (a CLI command that used the card and
		// closed it), or pulled out and put back: open it again. A
		// long-lived session (serve) meets this again and again; only
		// resets in a row, within one signature, give up.
		if reopens == maxReopens {
			return nil, fmt.Errorf("%w (reset %d times in a row)", err, reopens)
		}
		if rerr := s.reopen(ctx, c); rerr != nil {
			return nil, fmt.Errorf("%w; opening it again: %w", err, rerr)
		}
	}
}

// reopen opens the card again after a reset of was, unless another
// goroutine did already, and asks the PIN again through the session's
// prompt. The earlier card stays open until Close (a gateway connection
// authenticated with it may still be in use).
func (s *Session) reopen(ctx context.Context, was card.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card != was {
		return nil
	}
	c, err := s.open(ctx)
	if err != nil {
		return err
	}
	sig, _, err := c.Certificates(ctx)
	if err == nil && !sig.Equal(s.holder.Certificate) {
		err = fmt.Errorf("another card was put in the reader (%s's)", signature.IdentityOf(sig).Name())
	}
	if err == nil {
		err = c.Login(ctx)
	}
	if err != nil {
		c.Close()
		return err
	}
	s.old = append(s.old, s.card)
	s.card = c
	return nil
}

// Close releases the card (and resets it: the PIN does not outlive the
// session).
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.old {
		c.Close()
	}
	s.old = nil
	return s.card.Close()
}
