package twin_test

import (
	"bytes"
	"testing"

	"github.com/ebfe/scard"

	"github.com/fsegate/fsegate/internal/testenv"
)

// selectCard answers SELECT with 90 00 and anything else with 6D 00
// (instruction not supported): the least a card can do.
type selectCard struct{}

func (selectCard) ATR() []byte {
	return []byte{0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90, 0x00}
}
func (selectCard) Reset() {}
func (selectCard) APDU(cmd []byte) []byte {
	if len(cmd) >= 4 && cmd[1] == 0xA4 {
		return []byte{0x90, 0x00}
	}
	return []byte{0x6D, 0x00}
}

// TestCardThroughPCSCD is the harness test of internal/testenv run from a
// second package: go test runs both binaries at once and each must lease its
// own reader.
// TestCardThroughPCSCD proves the harness: a leased vpcd reader, a virtual
// card in it, and a SELECT answered through pcscd with ebfe/scard. The same
// test runs in another package (queue) at the same time and gets another
// reader.
func TestCardThroughPCSCD(t *testing.T) {
	r := testenv.InsertCard(t, selectCard{})
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	c, err := ctx.Connect(r.Name, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("connect %q: %v", r.Name, err)
	}
	defer c.Disconnect(scard.LeaveCard)
	resp, err := c.Transmit([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, []byte{0x90, 0x00}) {
		t.Fatalf("SELECT answered % X, want 90 00", resp)
	}
	resp, err = c.Transmit([]byte{0x00, 0xFF, 0x00, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resp, []byte{0x6D, 0x00}) {
		t.Fatalf("unknown INS answered % X, want 6D 00", resp)
	}
}
