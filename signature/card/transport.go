package card

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fsegate/fsegate/signature/card/internal/apdu"
)

// Transport carries APDUs to one card: through pcscd (OpenReader) or
// in-process to a software card (Loopback). The same client runs on both.
type Transport interface {
	// Transmit sends one C-APDU and returns the R-APDU (data ‖ SW1 SW2).
	// A card that left the reader gives ErrCardRemoved.
	Transmit(ctx context.Context, apdu []byte) ([]byte, error)
	// ATR is the card's answer to reset.
	ATR() []byte
	// Reader names the reader the card sits in.
	Reader() string
	// Reset resets the card (SCARD_RESET_CARD): its security state, and
	// with it the verified PIN, is gone.
	Reset(ctx context.Context) error
	// Close releases the card; reset resets it on the way out.
	Close(reset bool) error
}

// SoftCard is a card answering in-process: virtual.CPS implements it (the
// same method set as virtual.Card).
type SoftCard interface {
	ATR() []byte
	Reset()
	APDU(cmd []byte) []byte
}

// Loopback is a Transport to a software card in the same process, for unit
// tests. When the card also has a Present() bool method (virtual.CPS),
// a card pulled out answers ErrCardRemoved, even in the middle of a
// command.
func Loopback(c SoftCard) Transport { return &loopback{c: c} }

type loopback struct {
	mu sync.Mutex
	c  SoftCard
}

type presence interface{ Present() bool }

func (l *loopback) present() bool {
	p, ok := l.c.(presence)
	return !ok || p.Present()
}

func (l *loopback) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.present() {
		return nil, ErrCardRemoved
	}
	r := l.c.APDU(append([]byte{}, apdu...))
	if !l.present() {
		return nil, ErrCardRemoved
	}
	return r, nil
}

func (l *loopback) ATR() []byte    { return l.c.ATR() }
func (l *loopback) Reader() string { return "loopback" }
func (l *loopback) Reset(ctx context.Context) error {
	if !l.present() {
		return ErrCardRemoved
	}
	l.c.Reset()
	return nil
}
func (l *loopback) Close(reset bool) error {
	if reset && l.present() {
		l.c.Reset()
	}
	return nil
}

// transmit sends one command, fetches 61 xx answers with GET RESPONSE and
// splits the status word. The encoded command is wiped after use (it may
// hold the PIN).
func (c *Card) transmit(ctx context.Context, op string, cmd apdu.Command) ([]byte, error) {
	if c.closed {
		return nil, errors.New("card: used after Close")
	}
	b := cmd.Bytes()
	resp, err := c.t.Transmit(ctx, b)
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("card: %s: %w", op, err)
	}
	var data []byte
	for {
		part, sw, ok := apdu.SplitResponse(resp)
		if !ok {
			return nil, fmt.Errorf("card: %s: reply of %d bytes", op, len(resp))
		}
		data = append(data, part...)
		if n, more := sw.MoreData(); more {
			resp, err = c.t.Transmit(ctx, apdu.GetResponse(cmd.CLA, n).Bytes())
			if err != nil {
				return nil, fmt.Errorf("card: %s: GET RESPONSE: %w", op, err)
			}
			continue
		}
		if le, wrong := sw.WrongLe(); wrong { // send again with the right Le
			again := cmd
			again.Le = int(le)
			if le == 0 {
				again.Le = 256
			}
			b := again.Bytes()
			resp, err = c.t.Transmit(ctx, b)
			clear(b)
			if err != nil {
				return nil, fmt.Errorf("card: %s: %w", op, err)
			}
			data = data[:0]
			continue
		}
		if sw.Success() {
			return data, nil
		}
		return nil, &StatusError{SW: uint16(sw), Op: op}
	}
}
