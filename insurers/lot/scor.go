package lot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// SCOR pieces: the scanned supporting documents (a paper prescription) of
// care sheets, sent in lots of their own (SCOR lots) and acknowledged by
// their own ARL (an Ack whose Lot is the SCOR lot id, Attempt 1). A SCOR
// lot travels on the insurer's lot subject like a lot of sheets; its first
// line tells them apart.
const (
	MaxPieceBytes = 5 << 20 // one piece, PDF or JPEG
	MaxPieces     = 200     // pieces in one SCOR lot
	// SCORPrefix starts every SCOR lot id.
	SCORPrefix = "scor-"
)

// Kinds of piece.
const (
	PiecePDF  = "pdf"
	PieceJPEG = "jpeg"
)

// SCORLot is one envelope of SCOR pieces for one insurer.
type SCORLot struct {
	ID      string // SCORPrefix + …
	Insurer string
	Created time.Time
	Pieces  []Piece
}

// Piece is the scanned document of one care sheet.
type Piece struct {
	Billing string   // 9 digits
	Number  string   // 9 digits
	Kind    string   // PiecePDF or PieceJPEG
	Digest  [32]byte // SHA-256 of Data
	Data    []byte
}

// Key is the sheet's key "<billing>.<number>".
func (p *Piece) Key() string { return p.Billing + "." + p.Number }

// IsSCOR reports whether b is a SCOR lot (rather than a lot of sheets).
func IsSCOR(b []byte) bool { return bytes.HasPrefix(b, []byte(Format+" scor\n")) }

// SCORLotSize is the encoded size of a SCOR lot holding pieces of these
// sizes: a batcher keeps it under the NATS maximum message size.
func SCORLotSize(sizes ...int) int {
	n := 256
	for _, s := range sizes {
		n += len("piece ") + 9 + 1 + 9 + 1 + 4 + 1 + 64 + 1 + 8 + 1 + s + 1
	}
	return n + len("end\n")
}

// Verify checks every piece's digest against its bytes, and that no sheet
// has two pieces in the lot.
func (l *SCORLot) Verify() error {
	seen := map[string]bool{}
	for i := range l.Pieces {
		p := &l.Pieces[i]
		if sha256.Sum256(p.Data) != p.Digest {
			return &Reason{Code: CodeDigest, Label: "digest of the piece of sheet " + p.Key() + " does not match its bytes"}
		}
		if seen[p.Key()] {
			return &Reason{Code: CodeDuplicateSheet, Label: "sheet " + p.Key() + " has two pieces in the lot"}
		}
		seen[p.Key()] = true
	}
	return nil
}

// Encode writes the SCOR lot in its wire form (deterministic).
func (l *SCORLot) Encode() ([]byte, error) {
	switch {
	case !validSCORID(l.ID):
		return nil, fmt.Errorf("encode SCOR lot: id %q", l.ID)
	case !ValidID(l.Insurer):
		return nil, fmt.Errorf("encode SCOR lot %s: insurer %q", l.ID, l.Insurer)
	case l.Created.IsZero():
		return nil, fmt.Errorf("encode SCOR lot %s: no creation time", l.ID)
	case len(l.Pieces) == 0 || len(l.Pieces) > MaxPieces:
		return nil, fmt.Errorf("encode SCOR lot %s: %d pieces, want 1 to %d", l.ID, len(l.Pieces), MaxPieces)
	}
	sizes := make([]int, len(l.Pieces))
	for i := range l.Pieces {
		p := &l.Pieces[i]
		if !digits(p.Billing, 9) || !digits(p.Number, 9) || (p.Kind != PiecePDF && p.Kind != PieceJPEG) ||
			len(p.Data) == 0 || len(p.Data) > MaxPieceBytes {
			return nil, fmt.Errorf("encode SCOR lot %s: piece %d: billing %q, number %q, kind %q, %d bytes", l.ID, i, p.Billing, p.Number, p.Kind, len(p.Data))
		}
		sizes[i] = len(p.Data)
	}
	b := make([]byte, 0, SCORLotSize(sizes...))
	b = append(b, Format+" scor\nid "...)
	b = append(b, l.ID...)
	b = append(b, "\ninsurer "...)
	b = append(b, l.Insurer...)
	b = append(b, "\ncreated "...)
	b = l.Created.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\ncount "...)
	b = strconv.AppendInt(b, int64(len(l.Pieces)), 10)
	b = append(b, '\n')
	for i := range l.Pieces {
		p := &l.Pieces[i]
		b = append(b, "piece "...)
		b = append(b, p.Billing...)
		b = append(b, ' ')
		b = append(b, p.Number...)
		b = append(b, ' ')
		b = append(b, p.Kind...)
		b = append(b, ' ')
		b = hex.AppendEncode(b, p.Digest[:])
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(p.Data)), 10)
		b = append(b, '\n')
		b = append(b, p.Data...)
		b = append(b, '\n')
	}
	return append(b, "end\n"...), nil
}

// DecodeSCORLot reads a SCOR lot, strictly and within MaxPieces and
// MaxPieceBytes. Data aliases b; digests are read, Verify checks them. On
// an error after the id was read the lot is returned with its ID and
// Insurer, to address a negative ARL.
func DecodeSCORLot(b []byte) (*SCORLot, error) {
	r := reader{b: b}
	if r.line() != Format+" scor" {
		return nil, fmt.Errorf("decode SCOR lot: %w: bad first line", ErrFormat)
	}
	l := &SCORLot{}
	var ok bool
	if l.ID, ok = r.field("id"); !ok || !validSCORID(l.ID) {
		return nil, r.errf("id")
	}
	if l.Insurer, ok = r.field("insurer"); !ok || !ValidID(l.Insurer) {
		return l, r.errf("insurer")
	}
	s, ok := r.field("created")
	if !ok {
		return l, r.errf("created")
	}
	if l.Created, ok = parseTime(s); !ok {
		return l, r.errf("created")
	}
	count, ok := r.uintField("count")
	if !ok || count < 1 || count > MaxPieces {
		return l, r.errf("count")
	}
	pieces := make([]Piece, 0, count)
	for i := uint64(0); i < count; i++ {
		// piece <billing 9> <number 9> <kind> <digest 64> <len>
		f := bytes.Split([]byte(r.line()), []byte{' '})
		if len(f) != 6 || string(f[0]) != "piece" {
			return l, r.errf("piece")
		}
		p := Piece{Billing: string(f[1]), Number: string(f[2]), Kind: string(f[3])}
		if !digits(p.Billing, 9) || !digits(p.Number, 9) || (p.Kind != PiecePDF && p.Kind != PieceJPEG) ||
			len(f[4]) != 64 || !lowerHex(string(f[4])) {
			return l, r.errf("piece")
		}
		hex.Decode(p.Digest[:], f[4])
		size, ok := parseUint(string(f[5]))
		if !ok || size < 1 || size > MaxPieceBytes || size >= uint64(len(r.b)-r.off) {
			return l, r.errf("piece length")
		}
		end := r.off + int(size)
		if r.b[end] != '\n' {
			return l, r.errf("piece bytes")
		}
		p.Data = r.b[r.off:end:end]
		r.off = end + 1
		pieces = append(pieces, p)
	}
	if r.line() != "end" || r.off != len(r.b) || r.bad {
		return l, r.errf("end")
	}
	l.Pieces = pieces
	return l, nil
}

func validSCORID(id string) bool {
	return validToken(id) && len(id) > len(SCORPrefix) && id[:len(SCORPrefix)] == SCORPrefix
}
