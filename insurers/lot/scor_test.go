package lot

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"
)

func sampleSCOR() *SCORLot {
	pdf, jpg := []byte("%PDF-1.4 scan\n"), []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9}
	return &SCORLot{ID: "scor-cpam751-0123456789abcdef", Insurer: "cpam751", Created: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Pieces: []Piece{
		{Billing: "751000027", Number: "000100003", Kind: PiecePDF, Digest: sha256.Sum256(pdf), Data: pdf},
		{Billing: "751000027", Number: "000100006", Kind: PieceJPEG, Digest: sha256.Sum256(jpg), Data: jpg},
	}}
}

// TestSCORLotRoundTrip: a SCOR lot decodes to what was encoded, its size is
// what SCORLotSize says at most, and it is told apart from a lot of sheets.
func TestSCORLotRoundTrip(t *testing.T) {
	l := sampleSCOR()
	b, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !IsSCOR(b) {
		t.Fatal("IsSCOR: false for a SCOR lot")
	}
	if n := SCORLotSize(len(l.Pieces[0].Data), len(l.Pieces[1].Data)); len(b) > n {
		t.Errorf("encoded %d bytes, SCORLotSize says %d", len(b), n)
	}
	back, err := DecodeSCORLot(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(); err != nil {
		t.Fatal(err)
	}
	again, _ := back.Encode()
	if !bytes.Equal(again, b) {
		t.Fatal("decode then encode changed the bytes")
	}
	if sheets, _ := sampleLot().Encode(); IsSCOR(sheets) {
		t.Error("IsSCOR: true for a lot of sheets")
	}
}

// TestDecodeSCORLotStrict: truncated, padded, or lying about a digest.
func TestDecodeSCORLotStrict(t *testing.T) {
	b, _ := sampleSCOR().Encode()
	for name, bad := range map[string][]byte{
		"truncated":   b[:len(b)-5],
		"extra bytes": append(append([]byte(nil), b...), 'x'),
		"bad count":   bytes.Replace(b, []byte("count 2"), []byte("count 3"), 1),
		"bad kind":    bytes.Replace(b, []byte(" pdf "), []byte(" tif "), 1),
	} {
		if _, err := DecodeSCORLot(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
	}
	l := sampleSCOR()
	l.Pieces[1].Digest[0] ^= 1
	if err := l.Verify(); !errors.Is(err, &Reason{Code: CodeDigest}) {
		t.Errorf("a wrong digest: got %v, want LOT_DIGEST", err)
	}
}

func FuzzDecodeSCORLot(f *testing.F) {
	b, _ := sampleSCOR().Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := DecodeSCORLot(data)
		if err != nil {
			return
		}
		again, err := l.Encode()
		if err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs:\n%q\n%q", data, again)
		}
	})
}
