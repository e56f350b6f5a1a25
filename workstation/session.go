package workstation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
)

// maxReopens is how many times a session opens its card again after a
// reset before it gives up.
const maxReopens = 3

// SessionConfig configures OpenSession. Open is required; the zero value
// of the rest asks no PIN (signing fails with card.ErrNoPIN) and signs at
// the current time.
type SessionConfig struct {
	// Open opens the card. It is called once by OpenSession, and again when
	// the card was reset (by another program, or pulled and put back) in
	// the middle of a session, at most 3 times.
	Open func(ctx context.Context) (*card.Card, error)
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
	cfg    SessionConfig
	holder signature.Identity
	pins   atomic.Int64

	mu      sync.Mutex
	card    *card.Card
	old     []*card.Card // cards opened before a reset, closed with the session
	reopens int
}

// OpenSession opens the card and reads its holder from the signature
// certificate; no PIN is asked.
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
	s.card, s.holder = c, signature.IdentityOf(sig)
	return s, nil
}

// open opens the card with the session's counting PIN prompt.
func (s *Session) open(ctx context.Context) (*card.Card, error) {
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

// Card is the card of the session (the one opened again after a reset).
// The gateway client authenticates with it.
func (s *Session) Card() *card.Card {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.card
}

// PINEntries counts the PIN entries of the session so far.
func (s *Session) PINEntries() int { return int(s.pins.Load()) }

// Check checks, without the PIN, that the card's holder is the sheet's
// practitioner (or the remplaçant it names) and holds a card that may bill (a CPS: not a CPF nor a
// CPE). The error is a *SheetError with SIGNER_MISMATCH and/or
// CARD_TYPE_FORBIDDEN (signature's codes).
func (s *Session) Check(sh *Sheet) error {
	err := signature.CheckSigner(s.holder, sh.Sheet.SignerID(), true)
	if err == nil {
		return nil
	}
	ps := ProblemsOf(err)
	for i := range ps {
		ps[i].Path = ""
		switch ps[i].Code {
		case string(signature.CodeSignerMismatch):
			who := "practitioner"
			if sh.Sheet.Practitioner.Remplacant != nil {
				who = "remplaçant"
			}
			ps[i].Message = fmt.Sprintf("the sheet names %s %s, the card is %s's", who, sh.Sheet.SignerID(), s.holder.NationalID)
			ps[i].Hint = "use the card of the " + who + " the sheet names"
		case string(signature.CodeCardTypeForbidden):
			ps[i].Hint = "only a CPS may sign care sheets for billing"
		}
	}
	return sheetError(sh.Name, ps)
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
	for {
		c := s.Card()
		key, err := c.SignatureKey(ctx)
		if err != nil {
			return nil, err
		}
		signed, err := so.Sign(ctx, sh.Doc, key, []*x509.Certificate{key.Certificate()})
		if err == nil || !errors.Is(err, card.ErrCardRemoved) {
			return signed, err
		}
		if rerr := s.reopen(ctx, c); rerr != nil {
			return nil, err
		}
	}
}

// reopen opens the card again after a reset of was, unless another
// goroutine did already. The earlier card stays open until Close (a
// gateway connection authenticated with it may still be in use).
func (s *Session) reopen(ctx context.Context, was *card.Card) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card != was {
		return nil
	}
	if s.reopens >= maxReopens {
		return errors.New("card reset too many times")
	}
	s.reopens++
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
