package card

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ebfe/scard"
)

// ReaderStatus is one PC/SC reader and what sits in it.
type ReaderStatus struct {
	Name        string
	CardPresent bool
	ATR         []byte
	Model       Model // ModelUnknown when no CPx is present
}

func establish() (*scard.Context, error) {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPCSC, err)
	}
	return ctx, nil
}

// Readers lists pcscd's readers with whether a card is in each, and which.
func Readers(ctx context.Context) ([]ReaderStatus, error) {
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	defer sc.Release()
	names, err := sc.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) || (err == nil && len(names) == 0) {
		return nil, ErrNoReader
	}
	if err != nil {
		return nil, fmt.Errorf("card: list readers: %w", err)
	}
	rs := make([]scard.ReaderState, len(names))
	for i, n := range names {
		rs[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
	}
	if err := sc.GetStatusChange(rs, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
		return nil, fmt.Errorf("card: reader status: %w", err)
	}
	out := make([]ReaderStatus, len(names))
	for i, r := range rs {
		out[i] = ReaderStatus{Name: r.Reader, CardPresent: r.EventState&scard.StatePresent != 0}
		if out[i].CardPresent {
			out[i].ATR = append([]byte{}, r.Atr...)
			out[i].Model = ModelOf(r.Atr)
		}
	}
	return out, nil
}

// WaitForCard waits until a card is in reader (any reader when reader is
// ""), or ctx ends. It returns the reader's name. Without a deadline on ctx
// it waits for ever (the CLI waits for a card to be inserted).
func WaitForCard(ctx context.Context, reader string) (string, error) {
	return waitPresence(ctx, reader, true)
}

// WaitForRemoval waits until reader is empty.
func WaitForRemoval(ctx context.Context, reader string) error {
	_, err := waitPresence(ctx, reader, false)
	return err
}

func waitPresence(ctx context.Context, reader string, present bool) (string, error) {
	sc, err := establish()
	if err != nil {
		return "", err
	}
	defer sc.Release()
	stop := context.AfterFunc(ctx, func() { _ = sc.Cancel() })
	defer stop()
	var rs []scard.ReaderState
	for {
		names, err := sc.ListReaders()
		if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
			return "", fmt.Errorf("card: list readers: %w", err)
		}
		if reader != "" {
			if !slices.Contains(names, reader) {
				return "", fmt.Errorf("%w: %q (pcscd lists %q)", ErrNoReader, reader, names)
			}
			names = []string{reader}
		}
		if len(names) == 0 {
			return "", ErrNoReader
		}
		if len(rs) != len(names) {
			rs = make([]scard.ReaderState, len(names))
			for i, n := range names {
				rs[i] = scard.ReaderState{Reader: n, CurrentState: scard.StateUnaware}
			}
		}
		err = sc.GetStatusChange(rs, time.Second)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return "", fmt.Errorf("card: reader status: %w", err)
		}
		for i := range rs {
			if (rs[i].EventState&scard.StatePresent != 0) == present {
				return rs[i].Reader, nil
			}
			rs[i].CurrentState = rs[i].EventState &^ scard.StateChanged
		}
	}
}

// OpenReader connects to the card in reader through pcscd ("" = the only
// reader holding a card) and returns its Transport. It does not wait: an
// empty reader gives ErrNoCard.
func OpenReader(ctx context.Context, reader string) (Transport, error) {
	if reader == "" {
		rs, err := Readers(ctx)
		if err != nil {
			return nil, err
		}
		var with []string
		for _, r := range rs {
			if r.CardPresent {
				with = append(with, r.Name)
			}
		}
		switch len(with) {
		case 0:
			return nil, ErrNoCard
		case 1:
			reader = with[0]
		default:
			return nil, fmt.Errorf("card: %w: %d readers hold one (%q)", ErrSeveralCards, len(with), with)
		}
	}
	sc, err := establish()
	if err != nil {
		return nil, err
	}
	c, err := sc.Connect(reader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		sc.Release()
		switch {
		case errors.Is(err, scard.ErrUnknownReader), errors.Is(err, scard.ErrReaderUnavailable):
			return nil, fmt.Errorf("%w: %q", ErrNoReader, reader)
		case errors.Is(err, scard.ErrNoSmartcard), errors.Is(err, scard.ErrRemovedCard):
			return nil, fmt.Errorf("%w %q", ErrNoCard, reader)
		}
		return nil, fmt.Errorf("card: connect to %q: %w", reader, err)
	}
	st, err := c.Status()
	if err != nil {
		_ = c.Disconnect(scard.LeaveCard)
		sc.Release()
		return nil, fmt.Errorf("card: status of %q: %w", reader, mapSCardErr(err))
	}
	return &pcscTransport{sc: sc, c: c, reader: reader, atr: append([]byte{}, st.Atr...)}, nil
}

type pcscTransport struct {
	mu     sync.Mutex
	sc     *scard.Context
	c      *scard.Card
	reader string
	atr    []byte
}

func mapSCardErr(err error) error {
	switch {
	case errors.Is(err, scard.ErrRemovedCard), errors.Is(err, scard.ErrNoSmartcard),
		errors.Is(err, scard.ErrResetCard), errors.Is(err, scard.ErrUnpoweredCard),
		errors.Is(err, scard.ErrUnresponsiveCard), errors.Is(err, scard.ErrNotTransacted),
		errors.Is(err, scard.ErrCommError), errors.Is(err, scard.ErrReaderUnavailable):
		return fmt.Errorf("%w (%v)", ErrCardRemoved, err)
	case errors.Is(err, scard.ErrNoService), errors.Is(err, scard.ErrServiceStopped):
		return fmt.Errorf("%w: %v", ErrNoPCSC, err)
	}
	return err
}

func (p *pcscTransport) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r, err := p.c.Transmit(apdu)
	if err != nil {
		return nil, mapSCardErr(err)
	}
	if len(r) < 2 {
		// vpcd answers nothing when the card dropped off mid-command.
		return nil, fmt.Errorf("%w (no answer from the card)", ErrCardRemoved)
	}
	return r, nil
}

func (p *pcscTransport) ATR() []byte    { return p.atr }
func (p *pcscTransport) Reader() string { return p.reader }

func (p *pcscTransport) Reset(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.c.Reconnect(scard.ShareShared, scard.ProtocolAny, scard.ResetCard); err != nil {
		return fmt.Errorf("card: reset: %w", mapSCardErr(err))
	}
	return nil
}

func (p *pcscTransport) Close(reset bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := scard.LeaveCard
	if reset {
		d = scard.ResetCard
	}
	err := p.c.Disconnect(d)
	p.sc.Release()
	if err != nil && !errors.Is(mapSCardErr(err), ErrCardRemoved) {
		return fmt.Errorf("card: disconnect: %w", err)
	}
	return nil
}
