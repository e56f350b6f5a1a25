package lot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Level of an acknowledgement.
type Level string

const (
	LevelARL     Level = "arl"     // accusé de réception logique, one per lot attempt
	LevelReturns Level = "returns" // per-sheet returns (NOEMIE-like)
)

// Return statuses.
type Status string

const (
	Accepted    Status = "accepted"    // the insurer took the sheet in; final when nothing is paid through us
	Rejected    Status = "rejected"    // refused, with a code and label: final
	Paid        Status = "paid"        // paid, with the amount in cents and the date: final
	Signalement Status = "signalement" // a remark on the sheet, with a code and label: not a state change
)

// Final reports whether a return of this status ends the sheet's life at
// this insurer (accepted is final only for sheets nothing is paid for).
func (s Status) Final(tiersPayant bool) bool {
	switch s {
	case Rejected, Paid:
		return true
	case Accepted:
		return !tiersPayant
	}
	return false
}

// Ack is one acknowledgement message an insurer publishes on its ack
// subject: either the ARL of one lot attempt, or a batch of per-sheet
// returns. Every ARL and every return carries its own id: the same id seen
// twice is the same acknowledgement, to be applied once.
type Ack struct {
	ID      string    // message id (also its Nats-Msg-Id)
	Insurer string    // the insurer that answers; must be the owner of the ack subject
	Lot     string    // lot id
	Attempt int       // lot attempt answered
	Created time.Time // when the insurer produced it, UTC
	ARL     *ARL      // set for an ARL (then Returns is empty)
	Returns []Return  // set for returns (then ARL is nil)
}

// Level says what the acknowledgement is.
func (a *Ack) Level() Level {
	if a.ARL != nil {
		return LevelARL
	}
	return LevelReturns
}

// ARL is the logical acknowledgement of one lot attempt.
type ARL struct {
	ID       string
	Positive bool
	Reason   *Reason // for a negative ARL
}

// Return is the insurer's answer about one sheet.
type Return struct {
	ID      string // unique per (insurer, sheet, status): a re-sent sheet gets the same id back
	Billing string // 9 digits
	Number  string // 9 digits
	Status  Status
	Reason  *Reason // rejected, signalement
	Amount  int64   // paid: cents
	Date    string  // paid: YYYY-MM-DD
	// Accepted: what the patient owes the AMO for this sheet after the
	// yearly caps, recorded (never deducted from a tiers-payant payment);
	// written only when one is not zero.
	Participation int64 // participation forfaitaire, cents
	Franchises    int64 // franchises médicales, cents
}

// Key is the sheet's key "<billing>.<number>".
func (r *Return) Key() string { return r.Billing + "." + r.Number }

// Reason is an insurer's code and label: why an ARL is negative, why a
// sheet is rejected, or what a signalement says. Codes are data (listed in
// docs/lots.md), compared with errors.Is.
type Reason struct {
	Code  string // [A-Z0-9_], 1 to 32 bytes
	Label string // human text, no control characters, at most MaxLabel bytes
}

func (r *Reason) Error() string { return r.Code + ": " + r.Label }

// Is reports whether target is a *Reason with the same code.
func (r *Reason) Is(target error) bool {
	t, ok := target.(*Reason)
	return ok && t.Code == r.Code
}

// Reason codes our mock insurer uses (an insurer may use others).
const (
	CodeFormat         = "LOT_FORMAT"    // ARL−: the lot does not decode
	CodeDigest         = "LOT_DIGEST"    // ARL−: a sheet's digest does not match its bytes
	CodeDuplicateSheet = "LOT_DUPLICATE" // ARL−: a sheet appears twice in the lot
	CodeNotOurs        = "LOT_NOT_OURS"  // ARL−: the lot names another insurer
	CodeFuture         = "LOT_FUTURE"    // ARL−: the lot is dated in the future
	CodeScenario       = "LOT_REFUSED"   // ARL−: refused by the scenario (negative ARL rate)
	CodeSignature      = "RET_SIGNATURE" // rejected: the sheet's signature does not verify
	CodeRules          = "RET_RULES"     // rejected: the sheet breaks a rule
	CodeDoublon        = "RET_DOUBLON"   // rejected: another sheet with this number was received
	CodeSheetFormat    = "RET_FORMAT"    // rejected: the sheet does not decode
	CodeSignalement    = "SIG_INFO"      // signalement: informative remark
)

// Encode writes the acknowledgement in its wire form (deterministic).
func (a *Ack) Encode() ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 160+len(a.Returns)*72)
	b = append(b, Format...)
	b = append(b, " ack\nid "...)
	b = append(b, a.ID...)
	b = append(b, "\ninsurer "...)
	b = append(b, a.Insurer...)
	b = append(b, "\nlot "...)
	b = append(b, a.Lot...)
	b = append(b, "\nattempt "...)
	b = strconv.AppendInt(b, int64(a.Attempt), 10)
	b = append(b, "\ncreated "...)
	b = a.Created.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '\n')
	if a.ARL != nil {
		b = append(b, "arl "...)
		b = append(b, a.ARL.ID...)
		if a.ARL.Positive {
			b = append(b, " positive\n"...)
		} else {
			b = append(b, " negative "...)
			b = appendReason(b, a.ARL.Reason)
		}
	}
	for i := range a.Returns {
		r := &a.Returns[i]
		b = append(b, "return "...)
		b = append(b, r.ID...)
		b = append(b, ' ')
		b = append(b, r.Billing...)
		b = append(b, ' ')
		b = append(b, r.Number...)
		b = append(b, ' ')
		b = append(b, r.Status...)
		switch r.Status {
		case Accepted:
			if r.Participation != 0 || r.Franchises != 0 {
				b = append(b, " participation "...)
				b = strconv.AppendInt(b, r.Participation, 10)
				b = append(b, " franchises "...)
				b = strconv.AppendInt(b, r.Franchises, 10)
			}
			b = append(b, '\n')
		case Paid:
			b = append(b, ' ')
			b = strconv.AppendInt(b, r.Amount, 10)
			b = append(b, ' ')
			b = append(b, r.Date...)
			b = append(b, '\n')
		default:
			b = append(b, ' ')
			b = appendReason(b, r.Reason)
		}
	}
	b = append(b, "end\n"...)
	return b, nil
}

func appendReason(b []byte, r *Reason) []byte {
	b = append(b, r.Code...)
	b = append(b, ' ')
	b = append(b, r.Label...)
	return append(b, '\n')
}

func (a *Ack) check() error {
	switch {
	case !validToken(a.ID):
		return fmt.Errorf("encode ack: id %q is not a token", a.ID)
	case !ValidID(a.Insurer):
		return fmt.Errorf("encode ack %s: insurer %q is not an insurer id", a.ID, a.Insurer)
	case !validToken(a.Lot):
		return fmt.Errorf("encode ack %s: lot %q is not a token", a.ID, a.Lot)
	case a.Attempt < 1:
		return fmt.Errorf("encode ack %s: attempt %d, want ≥ 1", a.ID, a.Attempt)
	case a.Created.IsZero():
		return fmt.Errorf("encode ack %s: no creation time", a.ID)
	case (a.ARL == nil) == (len(a.Returns) == 0):
		return fmt.Errorf("encode ack %s: want either an ARL or returns", a.ID)
	case len(a.Returns) > MaxEntries:
		return fmt.Errorf("encode ack %s: %d returns, want at most %d", a.ID, len(a.Returns), MaxEntries)
	}
	if a.ARL != nil {
		if !validToken(a.ARL.ID) {
			return fmt.Errorf("encode ack %s: ARL id %q is not a token", a.ID, a.ARL.ID)
		}
		if !a.ARL.Positive && !validReason(a.ARL.Reason) {
			return fmt.Errorf("encode ack %s: negative ARL needs a reason (code [A-Z0-9_], label)", a.ID)
		}
	}
	for i := range a.Returns {
		r := &a.Returns[i]
		if !validToken(r.ID) || !digits(r.Billing, 9) || !digits(r.Number, 9) {
			return fmt.Errorf("encode ack %s: return %d: bad id, billing or number", a.ID, i)
		}
		if r.Status != Accepted && (r.Participation != 0 || r.Franchises != 0) {
			return fmt.Errorf("encode ack %s: return %s: participation and franchises go with accepted", a.ID, r.Key())
		}
		switch r.Status {
		case Accepted:
			if r.Participation < 0 || r.Franchises < 0 || r.Participation > maxCents || r.Franchises > maxCents {
				return fmt.Errorf("encode ack %s: return %s: participation and franchises ≥ 0", a.ID, r.Key())
			}
		case Paid:
			if r.Amount < 0 || !validDate(r.Date) {
				return fmt.Errorf("encode ack %s: return %s: paid needs an amount ≥ 0 and a date", a.ID, r.Key())
			}
		case Rejected, Signalement:
			if !validReason(r.Reason) {
				return fmt.Errorf("encode ack %s: return %s: %s needs a reason", a.ID, r.Key(), r.Status)
			}
		default:
			return fmt.Errorf("encode ack %s: return %s: unknown status %q", a.ID, r.Key(), r.Status)
		}
	}
	return nil
}

// DecodeAck reads an acknowledgement, strictly and within MaxAckBytes and
// MaxEntries.
func DecodeAck(b []byte) (*Ack, error) {
	if len(b) > MaxAckBytes {
		return nil, fmt.Errorf("decode ack: %w: %d bytes, over %d", ErrFormat, len(b), MaxAckBytes)
	}
	r := reader{b: b}
	if r.line() != Format+" ack" {
		return nil, fmt.Errorf("decode ack: %w: bad first line", ErrFormat)
	}
	a := &Ack{}
	var ok bool
	if a.ID, ok = r.field("id"); !ok || !validToken(a.ID) {
		return nil, r.errf("id")
	}
	if a.Insurer, ok = r.field("insurer"); !ok || !ValidID(a.Insurer) {
		return nil, r.errf("insurer")
	}
	if a.Lot, ok = r.field("lot"); !ok || !validToken(a.Lot) {
		return nil, r.errf("lot")
	}
	n, ok := r.uintField("attempt")
	if !ok || n < 1 || n > 1<<20 {
		return nil, r.errf("attempt")
	}
	a.Attempt = int(n)
	s, ok := r.field("created")
	if !ok {
		return nil, r.errf("created")
	}
	if a.Created, ok = parseTime(s); !ok {
		return nil, r.errf("created")
	}
	for {
		line := r.line()
		if line == "end" {
			break
		}
		if r.bad {
			return nil, r.errf("end")
		}
		word, rest, _ := strings.Cut(line, " ")
		switch {
		case word == "arl" && a.ARL == nil && len(a.Returns) == 0:
			arl, ok := parseARL(rest)
			if !ok {
				return nil, r.errf("arl")
			}
			a.ARL = arl
		case word == "return" && a.ARL == nil && len(a.Returns) < MaxEntries:
			ret, ok := parseReturn(rest)
			if !ok {
				return nil, r.errf("return")
			}
			a.Returns = append(a.Returns, ret)
		default:
			return nil, r.errf("line")
		}
	}
	if r.off != len(r.b) || (a.ARL == nil && len(a.Returns) == 0) {
		return nil, r.errf("end")
	}
	return a, nil
}

func parseARL(s string) (*ARL, bool) {
	id, rest, _ := strings.Cut(s, " ")
	if !validToken(id) {
		return nil, false
	}
	if rest == "positive" {
		return &ARL{ID: id, Positive: true}, true
	}
	res, reason, _ := strings.Cut(rest, " ")
	if res != "negative" {
		return nil, false
	}
	rs, ok := parseReason(reason)
	if !ok {
		return nil, false
	}
	return &ARL{ID: id, Reason: rs}, true
}

func parseReturn(s string) (Return, bool) {
	var r Return
	f := strings.SplitN(s, " ", 5)
	if len(f) < 4 || !validToken(f[0]) || !digits(f[1], 9) || !digits(f[2], 9) {
		return r, false
	}
	r.ID, r.Billing, r.Number, r.Status = f[0], f[1], f[2], Status(f[3])
	switch r.Status {
	case Accepted:
		if len(f) == 4 {
			return r, true
		}
		// optional: participation P franchises F, not both zero
		g := strings.Split(f[4], " ")
		if len(g) != 4 || g[0] != "participation" || g[2] != "franchises" {
			return r, false
		}
		p, ok1 := parseUint(g[1])
		fr, ok2 := parseUint(g[3])
		if !ok1 || !ok2 || (p == 0 && fr == 0) || p > maxCents || fr > maxCents {
			return r, false
		}
		r.Participation, r.Franchises = int64(p), int64(fr)
		return r, true
	case Paid:
		if len(f) != 5 {
			return r, false
		}
		amount, date, ok := strings.Cut(f[4], " ")
		v, ok2 := parseUint(amount)
		if !ok || !ok2 || !validDate(date) {
			return r, false
		}
		r.Amount, r.Date = int64(v), date
		return r, true
	case Rejected, Signalement:
		if len(f) != 5 {
			return r, false
		}
		rs, ok := parseReason(f[4])
		r.Reason = rs
		return r, ok
	}
	return r, false
}

func parseReason(s string) (*Reason, bool) {
	code, label, ok := strings.Cut(s, " ")
	rs := &Reason{Code: code, Label: label}
	return rs, ok && validReason(rs)
}

func validReason(r *Reason) bool {
	if r == nil || len(r.Code) == 0 || len(r.Code) > 32 || len(r.Label) > MaxLabel || !utf8.ValidString(r.Label) {
		return false
	}
	for i := 0; i < len(r.Code); i++ {
		c := r.Code[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	for _, c := range r.Label {
		if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029' {
			return false
		}
	}
	return true
}

func validDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Format(time.DateOnly) == s
}
