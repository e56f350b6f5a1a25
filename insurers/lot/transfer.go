package lot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A Transfer is a payment return: one bank transfer from an insurer to one
// practice (billing number), naming its reference, value date and total,
// the sheets it pays and the amounts, what was withheld from a sheet's due
// amount and why, and reversals of earlier payments as negative amounts.
// Unlike an Ack it is not about one lot attempt: a transfer pays sheets of
// many lots, each line naming the lot its sheet came in.
//
// It is a third message of urn:fsegate:lot:1 beside lots and
// acknowledgements (first line "urn:fsegate:lot:1 transfer"), published on
// the insurer's acknowledgement subject. An insurer may still pay sheet by
// sheet with "paid" returns (Ack); the gateway keeps both.
type Transfer struct {
	ID        string    // message id (its Nats-Msg-Id); TransferID
	Insurer   string    // who pays; must own the subject it comes on
	Billing   string    // the practice paid, 9 digits: every line is one of its sheets
	Reference string    // the bank reference the practice sees on its statement
	Date      string    // value date, YYYY-MM-DD
	Total     int64     // cents: the sum of the paid and reversed lines (negative: a debit)
	Created   time.Time // when the insurer produced it, UTC
	Lines     []TransferLine
}

// LineKind says what a transfer line does.
type LineKind string

const (
	LinePaid     LineKind = "paid"     // the amount paid for a sheet (≥ 0); makes the sheet paid
	LineWithheld LineKind = "withheld" // part of a sheet's due amount not paid (> 0), with a reason; the sheet has a paid line in the same transfer
	LineReversed LineKind = "reversed" // an earlier payment taken back (< 0), with a reason
)

// TransferLine is one sheet's part in a transfer.
type TransferLine struct {
	Kind    LineKind
	Billing string  // 9 digits, the transfer's
	Number  string  // 9 digits
	Lot     string  // the lot the sheet came in (any attempt)
	Amount  int64   // cents: ≥ 0 paid, > 0 withheld, < 0 reversed
	Reason  *Reason // withheld and reversed: why
}

// Key is the sheet's key "<billing>.<number>".
func (l *TransferLine) Key() string { return l.Billing + "." + l.Number }

// Reason codes of withholdings and reversals our mock insurer uses.
const (
	CodePartial  = "W_PARTIAL"  // withheld: part of the amount not paid
	CodeReversal = "X_REVERSAL" // reversed: the payment is taken back
)

// MaxTransferLines bounds the lines of one transfer (below MaxEntries: the
// gateway keeps each transfer as one message, in a form larger than the
// wire's); an insurer paying more sheets at once splits them into several
// transfers.
const MaxTransferLines = 5000

// MaxReference is the length of a transfer reference, that of a SEPA
// end-to-end identification (ISO 20022 Max35Text).
const MaxReference = 35

// TransferID is the id of insurer's transfer to billing with these lines:
// a digest of its content, so the same transfer made again has the same id
// and is kept once.
func TransferID(insurer, billing, date string, lines []TransferLine) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", insurer, billing, date)
	for _, l := range lines {
		fmt.Fprintf(h, "%s %s %s %d\n", l.Kind, l.Key(), l.Lot, l.Amount)
	}
	return "trf:" + insurer + ":" + billing + ":" + hex.EncodeToString(h.Sum(nil)[:8])
}

// Sum is the total the lines make: paid plus reversed.
func (t *Transfer) Sum() int64 {
	var s int64
	for _, l := range t.Lines {
		if l.Kind != LineWithheld {
			s += l.Amount
		}
	}
	return s
}

// Encode writes the transfer in its wire form (deterministic).
func (t *Transfer) Encode() ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 200+len(t.Lines)*80)
	b = append(b, Format...)
	b = append(b, " transfer\nid "...)
	b = append(b, t.ID...)
	b = append(b, "\ninsurer "...)
	b = append(b, t.Insurer...)
	b = append(b, "\nbilling "...)
	b = append(b, t.Billing...)
	b = append(b, "\nreference "...)
	b = append(b, t.Reference...)
	b = append(b, "\ndate "...)
	b = append(b, t.Date...)
	b = append(b, "\ntotal "...)
	b = strconv.AppendInt(b, t.Total, 10)
	b = append(b, "\ncreated "...)
	b = t.Created.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '\n')
	for i := range t.Lines {
		l := &t.Lines[i]
		b = append(b, l.Kind...)
		b = append(b, ' ')
		b = append(b, l.Billing...)
		b = append(b, ' ')
		b = append(b, l.Number...)
		b = append(b, ' ')
		b = append(b, l.Lot...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, l.Amount, 10)
		if l.Kind == LinePaid {
			b = append(b, '\n')
		} else {
			b = append(b, ' ')
			b = appendReason(b, l.Reason)
		}
	}
	b = append(b, "end\n"...)
	return b, nil
}

func (t *Transfer) check() error {
	switch {
	case !validToken(t.ID):
		return fmt.Errorf("encode transfer: id %q is not a token", t.ID)
	case !ValidID(t.Insurer):
		return fmt.Errorf("encode transfer %s: insurer %q is not an insurer id", t.ID, t.Insurer)
	case !digits(t.Billing, 9):
		return fmt.Errorf("encode transfer %s: billing %q, want 9 digits", t.ID, t.Billing)
	case !ValidReference(t.Reference):
		return fmt.Errorf("encode transfer %s: reference %q, want 1 to %d characters of [A-Za-z0-9/?:().,'+-]", t.ID, t.Reference, MaxReference)
	case !validDate(t.Date):
		return fmt.Errorf("encode transfer %s: date %q, want YYYY-MM-DD", t.ID, t.Date)
	case t.Created.IsZero():
		return fmt.Errorf("encode transfer %s: no creation time", t.ID)
	case len(t.Lines) == 0 || len(t.Lines) > MaxTransferLines:
		return fmt.Errorf("encode transfer %s: %d lines, want 1 to %d", t.ID, len(t.Lines), MaxTransferLines)
	}
	if err := checkLines(t.Billing, t.Lines); err != nil {
		return fmt.Errorf("encode transfer %s: %w", t.ID, err)
	}
	if t.Sum() != t.Total {
		return fmt.Errorf("encode transfer %s: total %d, but the lines add up to %d", t.ID, t.Total, t.Sum())
	}
	return nil
}

// checkLines: each line well formed, of the transfer's billing number; a
// sheet paid at most once and reversed at most once, not both in one
// transfer; a withholding only beside its sheet's payment.
func checkLines(billing string, lines []TransferLine) error {
	paid := map[string]bool{}
	reversed := map[string]bool{}
	withheld := map[string]bool{}
	for i := range lines {
		l := &lines[i]
		if l.Billing != billing || !digits(l.Number, 9) || !validToken(l.Lot) {
			return fmt.Errorf("line %d: bad billing, number or lot", i+1)
		}
		k := l.Key()
		switch l.Kind {
		case LinePaid:
			if l.Amount < 0 || l.Reason != nil || paid[k] {
				return fmt.Errorf("line %d: paid needs an amount ≥ 0, no reason, once per sheet", i+1)
			}
			paid[k] = true
		case LineWithheld:
			if l.Amount <= 0 || !validReason(l.Reason) || withheld[k] {
				return fmt.Errorf("line %d: withheld needs an amount > 0 and a reason, once per sheet", i+1)
			}
			withheld[k] = true
		case LineReversed:
			if l.Amount >= 0 || !validReason(l.Reason) || reversed[k] {
				return fmt.Errorf("line %d: reversed needs an amount < 0 and a reason, once per sheet", i+1)
			}
			reversed[k] = true
		default:
			return fmt.Errorf("line %d: unknown kind %q", i+1, l.Kind)
		}
		if l.Amount > maxCents || l.Amount < -maxCents {
			return fmt.Errorf("line %d: amount out of bounds", i+1)
		}
	}
	for k := range withheld {
		if !paid[k] {
			return fmt.Errorf("sheet %s: withheld without a paid line", k)
		}
	}
	for k := range reversed {
		if paid[k] {
			return fmt.Errorf("sheet %s: paid and reversed in the same transfer", k)
		}
	}
	return nil
}

// maxCents bounds one amount (10 billion euros): sums of MaxEntries lines
// cannot overflow.
const maxCents = 1e12

// ValidReference reports whether s can be a transfer reference: 1 to
// MaxReference characters of [A-Za-z0-9/?:().,'+-] (SEPA's character set,
// without the space), not starting with '/' or '-'.
func ValidReference(s string) bool {
	if len(s) == 0 || len(s) > MaxReference || s[0] == '/' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/?:().,'+-", c) >= 0) {
			return false
		}
	}
	return true
}

// IsTransfer reports whether b starts like a transfer (and not an
// acknowledgement or a lot): how a reader of the acknowledgement subject
// tells them apart before decoding.
func IsTransfer(b []byte) bool {
	return strings.HasPrefix(string(b[:min(len(b), len(Format)+10)]), Format+" transfer\n")
}

// DecodeTransfer reads a transfer, strictly and within MaxAckBytes and
// MaxTransferLines.
func DecodeTransfer(b []byte) (*Transfer, error) {
	if len(b) > MaxAckBytes {
		return nil, fmt.Errorf("decode transfer: %w: %d bytes, over %d", ErrFormat, len(b), MaxAckBytes)
	}
	r := reader{b: b}
	if r.line() != Format+" transfer" {
		return nil, fmt.Errorf("decode transfer: %w: bad first line", ErrFormat)
	}
	t := &Transfer{}
	var ok bool
	if t.ID, ok = r.field("id"); !ok || !validToken(t.ID) {
		return nil, r.errf("id")
	}
	if t.Insurer, ok = r.field("insurer"); !ok || !ValidID(t.Insurer) {
		return nil, r.errf("insurer")
	}
	if t.Billing, ok = r.field("billing"); !ok || !digits(t.Billing, 9) {
		return nil, r.errf("billing")
	}
	if t.Reference, ok = r.field("reference"); !ok || !ValidReference(t.Reference) {
		return nil, r.errf("reference")
	}
	if t.Date, ok = r.field("date"); !ok || !validDate(t.Date) {
		return nil, r.errf("date")
	}
	s, ok := r.field("total")
	if !ok {
		return nil, r.errf("total")
	}
	if t.Total, ok = parseInt(s); !ok {
		return nil, r.errf("total")
	}
	if s, ok = r.field("created"); !ok {
		return nil, r.errf("created")
	}
	if t.Created, ok = parseTime(s); !ok {
		return nil, r.errf("created")
	}
	for {
		line := r.line()
		if line == "end" {
			break
		}
		if r.bad || len(t.Lines) >= MaxTransferLines {
			return nil, r.errf("end")
		}
		l, ok := parseTransferLine(line)
		if !ok {
			return nil, r.errf("line")
		}
		t.Lines = append(t.Lines, l)
	}
	if r.off != len(r.b) || len(t.Lines) == 0 {
		return nil, r.errf("end")
	}
	if err := checkLines(t.Billing, t.Lines); err != nil {
		return nil, fmt.Errorf("decode transfer: %w: %v", ErrFormat, err)
	}
	if t.Sum() != t.Total {
		return nil, fmt.Errorf("decode transfer: %w: total %d, the lines add up to %d", ErrFormat, t.Total, t.Sum())
	}
	return t, nil
}

func parseTransferLine(s string) (TransferLine, bool) {
	var l TransferLine
	f := strings.SplitN(s, " ", 6)
	if len(f) < 5 {
		return l, false
	}
	l.Kind, l.Billing, l.Number, l.Lot = LineKind(f[0]), f[1], f[2], f[3]
	v, ok := parseInt(f[4])
	if !ok {
		return l, false
	}
	l.Amount = v
	switch l.Kind {
	case LinePaid:
		return l, len(f) == 5
	case LineWithheld, LineReversed:
		if len(f) != 6 {
			return l, false
		}
		l.Reason, ok = parseReason(f[5])
		return l, ok
	}
	return l, false
}

// parseInt reads a canonical signed decimal: an optional '-', digits, no
// leading zero, no "-0".
func parseInt(s string) (int64, bool) {
	if neg, ok := strings.CutPrefix(s, "-"); ok {
		v, ok := parseUint(neg)
		return -int64(v), ok && v != 0
	}
	v, ok := parseUint(s)
	return int64(v), ok
}

// SortLines puts lines in their canonical order: by sheet key, then paid,
// withheld, reversed. Encode does not sort; insurers may, for stable ids.
func SortLines(lines []TransferLine) {
	rank := map[LineKind]int{LinePaid: 0, LineWithheld: 1, LineReversed: 2}
	sort.SliceStable(lines, func(i, j int) bool {
		if a, b := lines[i].Key(), lines[j].Key(); a != b {
			return a < b
		}
		return rank[lines[i].Kind] < rank[lines[j].Kind]
	})
}

// AsReturns reads a transfer's paid lines as version-1 "paid" returns: one
// Ack per lot named, with Attempt 0 (a transfer is about sheets, not one
// attempt of a lot), each return's id the transfer's id and the sheet's
// key. For readers written for per-sheet payments; never encoded.
func (t *Transfer) AsReturns() []*Ack {
	var out []*Ack
	byLot := map[string]*Ack{}
	for _, l := range t.Lines {
		if l.Kind != LinePaid {
			continue
		}
		a := byLot[l.Lot]
		if a == nil {
			a = &Ack{ID: t.ID, Insurer: t.Insurer, Lot: l.Lot, Created: t.Created}
			byLot[l.Lot] = a
			out = append(out, a)
		}
		a.Returns = append(a.Returns, Return{ID: t.ID + "/" + l.Key(), Billing: l.Billing, Number: l.Number, Status: Paid, Amount: l.Amount, Date: t.Date})
	}
	return out
}
