package virtual

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// DefaultVPCDAddr is where Debian's vpcd reader listens for a card (its
// first slot). vpcd binds all interfaces: a development and test tool only.
const DefaultVPCDAddr = "127.0.0.1:35963"

// Card is what answers pcscd through a vpcd reader: its ATR, a reset
// (power on/off/reset), and one R-APDU (data ‖ SW1 SW2) per C-APDU.
type Card interface {
	ATR() []byte
	Reset()
	APDU(cmd []byte) []byte
}

// vpcd control bytes (pcscd → card, 1-byte payloads).
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// Serve connects card to the vpcd reader at addr and answers pcscd until
// ctx is done. It dials again when pcscd is not (yet) listening or restarts,
// so the card "stays in the reader" across pcscd restarts. onConnect, when
// not nil, is called each time the card is connected.
//
// A card that also has a Present() bool method (CPS) can be pulled out:
// while it says false, Serve drops the connection (pcscd sees the reader
// empty, a command in flight gets no answer) and waits to dial again until
// it is back.
func Serve(ctx context.Context, addr string, card Card, onConnect func()) error {
	for {
		if !waitPresent(ctx, card) {
			return nil
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			if onConnect != nil {
				onConnect()
			}
			err = serveConn(ctx, conn, card)
		}
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		_ = err // pcscd gone or not there yet: dial again
	}
}

type presence interface{ Present() bool }

func present(card Card) bool {
	p, ok := card.(presence)
	return !ok || p.Present()
}

func waitPresent(ctx context.Context, card Card) bool {
	for !present(card) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return ctx.Err() == nil
}

func serveConn(ctx context.Context, conn net.Conn, card Card) error {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	quickAck := func() {}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		if raw, err := tc.SyscallConn(); err == nil {
			// Debian's vpcd writes the length and the payload in two send()
			// calls; with Nagle on its side and delayed ACK on ours each
			// message would stall ~40 ms. QUICKACK releases it at once.
			quickAck = func() {
				_ = raw.Control(func(fd uintptr) {
					_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
				})
			}
		}
	}
	var hdr [2]byte
	buf := make([]byte, 0, 512)
	for {
		quickAck()
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return fmt.Errorf("vpcd: read length: %w", err)
		}
		quickAck()
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		msg := buf[:n]
		if _, err := io.ReadFull(conn, msg); err != nil {
			return fmt.Errorf("vpcd: read message: %w", err)
		}
		if !present(card) {
			return errors.New("vpcd: card removed")
		}
		var reply []byte
		switch {
		case n == 0:
			return errors.New("vpcd: empty message")
		case n == 1 && msg[0] == vpcdGetATR:
			reply = card.ATR()
		case n == 1:
			// power off / on / reset: no answer expected.
			card.Reset()
			continue
		default:
			reply = card.APDU(msg)
		}
		if !present(card) {
			return errors.New("vpcd: card removed") // no answer: pulled mid-command
		}
		out := make([]byte, 2+len(reply))
		binary.BigEndian.PutUint16(out, uint16(len(reply)))
		copy(out[2:], reply)
		// One write: length and payload together.
		if _, err := conn.Write(out); err != nil {
			return fmt.Errorf("vpcd: write: %w", err)
		}
	}
}
