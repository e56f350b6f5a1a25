package workstation

import (
	"context"
	"errors"
	"sync"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// Outcome is what became of one sheet of the outbox sent to the gateway.
type Outcome int

const (
	// Receipted: the gateway queued it (or had already: Receipt.Again).
	Receipted Outcome = iota
	// Refused: the gateway refused it with codes; to correct.
	Refused
	// Offline: no verdict (gateway down, transfer cut); it stays pending
	// and is tried again after a backoff.
	Offline
	// Held: not sent, because it names another practitioner than the
	// card's holder (or cannot be read to tell); it stays pending in the
	// outbox, untouched, for the card it belongs to.
	Held
)

// SendResult is what Sender did with one outbox entry.
type SendResult struct {
	Key     string
	Outcome Outcome
	Receipt *client.Receipt // Receipted
	Problem *client.Problem // Refused: every reason the gateway gave
	Cause   error           // Offline: why it stays pending
	Held    error           // Held: a *SheetError (SIGNER_MISMATCH, …)
}

// Sender sends the sheets of the outbox to the gateway and records each
// outcome in the outbox before it reports it. Every sheet is checked
// against the session's card holder before it is sent; the gateway client
// is opened (the TLS handshake uses the card, and so the PIN) only when a
// sheet is to be sent. Its methods are safe for concurrent use.
type Sender struct {
	// Outbox holds the sheets to send.
	Outbox *outbox.Outbox
	// Session is the card the sheets must belong to and the client
	// authenticates with.
	Session *Session
	// Connect opens a gateway client authenticated with the card.
	Connect func(ctx context.Context, c card.Token) (*client.Client, error)

	mu sync.Mutex
	cl *client.Client
}

// Client returns the gateway client, opening it at the first call.
func (s *Sender) Client(ctx context.Context) (*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		cl, err := s.Connect(ctx, s.Session.Card())
		if err != nil {
			return nil, err
		}
		s.cl = cl
	}
	return s.cl, nil
}

// Close closes the gateway client, if it was opened.
func (s *Sender) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
}

// Hold reads the signed sheet of key from the outbox and checks it against
// the card's holder (Session.Check), without the PIN: a *SheetError when
// it may not be sent with this card. Another error means the outbox could
// not be read.
func (s *Sender) Hold(key string) error {
	b, err := s.Outbox.Signed(key)
	if err != nil {
		return err
	}
	sh, err := Decode(key, b)
	if err != nil {
		return err
	}
	return s.Session.Check(sh)
}

// Send checks the outbox entry key against the card's holder, sends it
// and records the outcome. The error is only for an outbox that cannot be
// read or written, or a client that cannot be opened: stop then.
func (s *Sender) Send(ctx context.Context, key string) (SendResult, error) {
	if res, held, err := s.hold(key); held || err != nil {
		return res, err
	}
	return s.send(ctx, key)
}

// SendAll checks every entry of keys against the card's holder first,
// before the client is opened, and reports those it holds; then it sends
// the others in order, reporting each result, until report returns false
// (the rest stay pending, not reported). The error is Send's.
func (s *Sender) SendAll(ctx context.Context, keys []string, report func(SendResult) bool) error {
	var ok []string
	for _, key := range keys {
		res, held, err := s.hold(key)
		if err != nil {
			return err
		}
		if held {
			report(res)
			continue
		}
		ok = append(ok, key)
	}
	for _, key := range ok {
		res, err := s.send(ctx, key)
		if err != nil {
			return err
		}
		if !report(res) {
			return nil
		}
	}
	return nil
}

// hold is Hold as a result: held when the sheet may not be sent.
func (s *Sender) hold(key string) (SendResult, bool, error) {
	err := s.Hold(key)
	var se *SheetError
	switch {
	case err == nil:
		return SendResult{}, false, nil
	case errors.As(err, &se):
		return SendResult{Key: key, Outcome: Held, Held: err}, true, nil
	}
	return SendResult{}, false, err
}

// send sends the outbox entry key and records the outcome in the outbox.
func (s *Sender) send(ctx context.Context, key string) (SendResult, error) {
	res := SendResult{Key: key}
	b, err := s.Outbox.Signed(key)
	if err != nil {
		return res, err
	}
	cl, err := s.Client(ctx)
	if err != nil {
		return res, err
	}
	r, err := cl.SendSheet(ctx, b)
	var p *client.Problem
	switch {
	case err == nil:
		res.Outcome, res.Receipt = Receipted, r
		return res, s.Outbox.Receipted(key, r.Raw)
	case errors.As(err, &p) && !p.Retryable():
		res.Outcome, res.Problem = Refused, p
		return res, s.Outbox.Refused(key, p.Codes())
	}
	res.Outcome, res.Cause = Offline, err
	if ctx.Err() != nil {
		return res, nil
	}
	return res, s.Outbox.Failed(key, err)
}
