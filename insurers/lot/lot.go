package lot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Format is the name and version of the wire format, the first token of
// every lot and acknowledgement.
const Format = "urn:fsegate:lot:1"

// Bounds of decoding. A message over them is refused before anything is
// allocated for it.
const (
	MaxSheets     = 10000   // sheets in one lot
	MaxSheetBytes = 1 << 20 // signed bytes of one sheet
	MaxEntries    = 10000   // returns in one acknowledgement
	MaxAckBytes   = 1 << 20 // one encoded acknowledgement
	MaxLabel      = 200     // bytes of a rejection label
	maxID         = 200     // bytes of an id
)

// ErrFormat is wrapped by every decoding error: the bytes are not a lot (or
// an acknowledgement) of this format.
var ErrFormat = errors.New("not a urn:fsegate:lot:1 message")

// Lot is one envelope of signed care sheets sent to one insurer.
type Lot struct {
	ID      string    // lot id, unique per lot key and sequence (see NewID)
	Attempt int       // 1 for the first send, +1 for each re-send
	Seq     uint64    // sequence number of the lot within its lot key, from 1
	Key     string    // lot key the gateway batches by (insurer + billing number by default)
	Insurer string    // insurer id (directory)
	Billing string    // billing number of the practice, 9 digits; "" when the lot key spans several
	Created time.Time // when the lot was closed, UTC
	Sheets  []Sheet
}

// Sheet is one signed care sheet inside a lot, its bytes exactly as signed.
type Sheet struct {
	Billing string   // billing number, 9 digits
	Number  string   // sheet number, 9 digits
	Digest  [32]byte // SHA-256 of Signed
	Signed  []byte   // the signed care sheet, untouched
}

// NewSheet makes a lot entry and computes its digest.
func NewSheet(billing, number string, signed []byte) Sheet {
	return Sheet{Billing: billing, Number: number, Digest: sha256.Sum256(signed), Signed: signed}
}

// Key is the sheet's idempotency key, "<billing>.<number>".
func (s *Sheet) Key() string { return s.Billing + "." + s.Number }

// NewID builds the id of a lot: "<insurer>-<lot key>-<seq>" with the lot
// key's dots turned into dashes, the insurer named once when the lot key
// starts with it ("cpam751-751000019-000042" for the lot key
// "cpam751.751000019", "cpam751-000042" for "cpam751"); seq is
// zero-padded to 6 digits.
func NewID(insurer, key string, seq uint64) string {
	if key == insurer {
		key = ""
	} else if rest, ok := strings.CutPrefix(key, insurer+"."); ok {
		key = rest
	}
	if key == "" {
		return fmt.Sprintf("%s-%06d", insurer, seq)
	}
	return fmt.Sprintf("%s-%s-%06d", insurer, strings.ReplaceAll(key, ".", "-"), seq)
}

// MsgID is the Nats-Msg-Id of this attempt of the lot: a re-send is a new
// attempt, never swallowed by JetStream's deduplication.
func (l *Lot) MsgID() string { return l.ID + "." + strconv.Itoa(l.Attempt) }

// Verify checks what the envelope promises about its content: every digest
// matches its signed bytes, and no sheet appears twice.
func (l *Lot) Verify() error {
	seen := make(map[string]bool, len(l.Sheets))
	for i := range l.Sheets {
		s := &l.Sheets[i]
		if sha256.Sum256(s.Signed) != s.Digest {
			return &Reason{Code: CodeDigest, Label: fmt.Sprintf("digest of sheet %s does not match its bytes", s.Key())}
		}
		if seen[s.Key()] {
			return &Reason{Code: CodeDuplicateSheet, Label: fmt.Sprintf("sheet %s appears twice in the lot", s.Key())}
		}
		seen[s.Key()] = true
	}
	return nil
}

// Encode writes the lot in its wire form. The encoding is deterministic: the
// same lot gives the same bytes. It returns an error if a field cannot be
// written in a form Decode accepts.
func (l *Lot) Encode() ([]byte, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	n := 256
	for i := range l.Sheets {
		n += 100 + len(l.Sheets[i].Signed)
	}
	b := make([]byte, 0, n)
	b = append(b, Format...)
	b = append(b, " lot\nid "...)
	b = append(b, l.ID...)
	b = append(b, "\nattempt "...)
	b = strconv.AppendInt(b, int64(l.Attempt), 10)
	b = append(b, "\nseq "...)
	b = strconv.AppendUint(b, l.Seq, 10)
	b = append(b, "\nkey "...)
	b = append(b, l.Key...)
	b = append(b, "\ninsurer "...)
	b = append(b, l.Insurer...)
	b = append(b, "\nbilling "...)
	if l.Billing == "" {
		b = append(b, '-')
	} else {
		b = append(b, l.Billing...)
	}
	b = append(b, "\ncreated "...)
	b = l.Created.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\ncount "...)
	b = strconv.AppendInt(b, int64(len(l.Sheets)), 10)
	b = append(b, '\n')
	for i := range l.Sheets {
		s := &l.Sheets[i]
		b = append(b, "sheet "...)
		b = append(b, s.Billing...)
		b = append(b, ' ')
		b = append(b, s.Number...)
		b = append(b, ' ')
		b = hex.AppendEncode(b, s.Digest[:])
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(s.Signed)), 10)
		b = append(b, '\n')
		b = append(b, s.Signed...)
		b = append(b, '\n')
	}
	b = append(b, "end\n"...)
	return b, nil
}

func (l *Lot) check() error {
	switch {
	case !validToken(l.ID):
		return fmt.Errorf("encode lot: id %q is not a token", l.ID)
	case l.Attempt < 1:
		return fmt.Errorf("encode lot %s: attempt %d, want ≥ 1", l.ID, l.Attempt)
	case l.Seq < 1:
		return fmt.Errorf("encode lot %s: sequence %d, want ≥ 1", l.ID, l.Seq)
	case !validToken(l.Key):
		return fmt.Errorf("encode lot %s: key %q is not a token", l.ID, l.Key)
	case !ValidID(l.Insurer):
		return fmt.Errorf("encode lot %s: insurer %q is not an insurer id", l.ID, l.Insurer)
	case l.Billing != "" && !digits(l.Billing, 9):
		return fmt.Errorf("encode lot %s: billing number %q is not 9 digits", l.ID, l.Billing)
	case l.Created.IsZero():
		return fmt.Errorf("encode lot %s: no creation time", l.ID)
	case len(l.Sheets) == 0 || len(l.Sheets) > MaxSheets:
		return fmt.Errorf("encode lot %s: %d sheets, want 1 to %d", l.ID, len(l.Sheets), MaxSheets)
	}
	for i := range l.Sheets {
		s := &l.Sheets[i]
		if !digits(s.Billing, 9) || !digits(s.Number, 9) {
			return fmt.Errorf("encode lot %s: sheet %d: billing %q and number %q must be 9 digits", l.ID, i, s.Billing, s.Number)
		}
		if len(s.Signed) == 0 || len(s.Signed) > MaxSheetBytes {
			return fmt.Errorf("encode lot %s: sheet %s: %d bytes, want 1 to %d", l.ID, s.Key(), len(s.Signed), MaxSheetBytes)
		}
	}
	return nil
}

// DecodeLot reads a lot. Decoding is strict (one canonical form: fields in
// order, single spaces, no leading zeros, lowercase hex, nothing after "end")
// and bounded (MaxSheets, MaxSheetBytes). The Signed bytes of the sheets
// alias b. Digests are read, not checked: Verify checks them.
//
// On an error after the header was read, the returned lot is non-nil and
// holds the header fields read so far (ID, Attempt, Insurer), so an
// insurer can address a negative ARL; its Sheets are not to be used.
func DecodeLot(b []byte) (*Lot, error) {
	r := reader{b: b}
	if r.line() != Format+" lot" {
		return nil, fmt.Errorf("decode lot: %w: bad first line", ErrFormat)
	}
	l := &Lot{}
	var ok bool
	if l.ID, ok = r.field("id"); !ok || !validToken(l.ID) {
		return nil, r.errf("id")
	}
	var n uint64
	if n, ok = r.uintField("attempt"); !ok || n < 1 || n > 1<<20 {
		return nil, r.errf("attempt")
	}
	l.Attempt = int(n)
	if l.Seq, ok = r.uintField("seq"); !ok || l.Seq < 1 {
		return l, r.errf("seq")
	}
	if l.Key, ok = r.field("key"); !ok || !validToken(l.Key) {
		return l, r.errf("key")
	}
	if l.Insurer, ok = r.field("insurer"); !ok || !ValidID(l.Insurer) {
		return l, r.errf("insurer")
	}
	if l.Billing, ok = r.field("billing"); !ok || (l.Billing != "-" && !digits(l.Billing, 9)) {
		return l, r.errf("billing")
	}
	if l.Billing == "-" {
		l.Billing = ""
	}
	var s string
	if s, ok = r.field("created"); !ok {
		return l, r.errf("created")
	}
	if l.Created, ok = parseTime(s); !ok {
		return l, r.errf("created")
	}
	var count uint64
	if count, ok = r.uintField("count"); !ok || count < 1 || count > MaxSheets {
		return l, r.errf("count")
	}
	sheets := make([]Sheet, 0, count)
	for i := uint64(0); i < count; i++ {
		line := r.line()
		// sheet <billing 9> <number 9> <digest 64> <len>
		const fixed = len("sheet ") + 9 + 1 + 9 + 1 + 64 + 1
		if len(line) <= fixed || line[:6] != "sheet " || line[15] != ' ' || line[25] != ' ' || line[90] != ' ' {
			return l, r.errf("sheet")
		}
		sh := Sheet{Billing: line[6:15], Number: line[16:25]}
		if !digits(sh.Billing, 9) || !digits(sh.Number, 9) || !lowerHex(line[26:90]) {
			return l, r.errf("sheet")
		}
		hex.Decode(sh.Digest[:], []byte(line[26:90]))
		size, ok := parseUint(line[91:])
		if !ok || size < 1 || size > MaxSheetBytes || size >= uint64(len(r.b)-r.off) {
			return l, r.errf("sheet length")
		}
		end := r.off + int(size)
		if r.b[end] != '\n' {
			return l, r.errf("sheet bytes")
		}
		sh.Signed = r.b[r.off:end:end]
		r.off = end + 1
		sheets = append(sheets, sh)
	}
	if r.line() != "end" || r.off != len(r.b) || r.bad {
		return l, r.errf("end")
	}
	l.Sheets = sheets
	return l, nil
}

// reader reads "\n"-terminated lines of a message.
type reader struct {
	b   []byte
	off int
	bad bool // a line was not terminated
}

func (r *reader) line() string {
	if r.off >= len(r.b) {
		r.bad = true
		return "\x00"
	}
	i := bytes.IndexByte(r.b[r.off:], '\n')
	if i < 0 {
		r.bad = true
		r.off = len(r.b)
		return "\x00"
	}
	s := string(r.b[r.off : r.off+i])
	r.off += i + 1
	return s
}

// field reads "name value".
func (r *reader) field(name string) (string, bool) {
	l := r.line()
	if len(l) < len(name)+2 || l[:len(name)] != name || l[len(name)] != ' ' {
		return "", false
	}
	return l[len(name)+1:], true
}

func (r *reader) uintField(name string) (uint64, bool) {
	s, ok := r.field(name)
	if !ok {
		return 0, false
	}
	return parseUint(s)
}

func (r *reader) errf(what string) error {
	return fmt.Errorf("decode: %w: bad %s near byte %d", ErrFormat, what, r.off)
}

// parseUint reads a canonical decimal: digits, no sign, no leading zero.
func parseUint(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseTime reads an RFC 3339 UTC time in the canonical form Encode writes.
func parseTime(s string) (time.Time, bool) {
	if len(s) < 20 || len(s) > 30 || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Format(time.RFC3339Nano) != s {
		return time.Time{}, false
	}
	return t, true
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// validToken: 1 to 200 bytes of [A-Za-z0-9._:-], not starting with a
// punctuation mark.
func validToken(s string) bool {
	if len(s) == 0 || len(s) > maxID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == ':' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
