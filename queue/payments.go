package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Transfer is a bank transfer from an insurer to one practice, as the
// gateway keeps it in FSE_PAYMENTS (docs/lots.md, "Transfers"): its
// reference, value date and total, and per sheet what it pays, withholds
// and reverses. It names sheets by number and lot, never patients.
type Transfer struct {
	Seq       uint64         `json:"seq,omitempty"` // FSE_PAYMENTS sequence: the cursor of a listing
	ID        string         `json:"id"`
	Insurer   string         `json:"insurer"`
	Billing   string         `json:"billing"`
	Reference string         `json:"reference"`
	Date      string         `json:"date"`  // value date, YYYY-MM-DD
	Total     int64          `json:"total"` // cents, paid + reversed lines
	Created   time.Time      `json:"created"`
	Received  time.Time      `json:"received,omitzero"` // when the gateway kept it
	Lines     []TransferLine `json:"lines"`
}

// TransferLine is one sheet's part in a transfer.
type TransferLine struct {
	Kind   string `json:"kind"` // paid, withheld or reversed
	Number string `json:"number"`
	Lot    string `json:"lot"`
	Amount int64  `json:"amount"` // cents: paid ≥ 0, withheld > 0, reversed < 0
	Code   string `json:"code,omitempty"`
	Label  string `json:"label,omitempty"`
}

// Kinds of transfer lines.
const (
	LinePaid     = "paid"
	LineWithheld = "withheld"
	LineReversed = "reversed"
)

// Paid is the sum of the transfer's paid lines, Withheld of its withheld
// lines, Reversed of its reversed lines (negative).
func (t *Transfer) Paid() int64     { return t.sum(LinePaid) }
func (t *Transfer) Withheld() int64 { return t.sum(LineWithheld) }
func (t *Transfer) Reversed() int64 { return t.sum(LineReversed) }

func (t *Transfer) sum(kind string) int64 {
	var s int64
	for _, l := range t.Lines {
		if l.Kind == kind {
			s += l.Amount
		}
	}
	return s
}

// transferToken is the subject token of a transfer id: its id may hold
// characters a subject cannot.
func transferToken(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:8])
}

// applyTransfer applies one transfer of insurer: every line must be about a
// sheet of a lot sent to that insurer (else the whole transfer is refused:
// the practice then finds it unexpected when it reconciles); the transfer
// is kept in FSE_PAYMENTS, then each paid line moves its sheet to paid and
// each reversed line records the reversal, each applied once (its id is
// the transfer's and the sheet's), with a notice each and one for the
// transfer.
func (q *Queue) applyTransfer(ctx context.Context, insurer string, a Ack, cache *ackCache) error {
	t := a.Transfer
	if t == nil {
		return fmt.Errorf("%w: transfer %s without content", ErrRefused, a.ID)
	}
	if t.Insurer != insurer {
		return fmt.Errorf("%w: transfer %s of %s came on the subject of %s", ErrRefused, t.ID, t.Insurer, insurer)
	}
	if !ValidToken(t.Billing) {
		return fmt.Errorf("%w: transfer %s: billing %q", ErrRefused, t.ID, t.Billing)
	}
	type sheet struct {
		key, digest string
		rec         *LotRecord
	}
	sheets := make([]sheet, len(t.Lines))
	for i, l := range t.Lines {
		rec, err := cache.loadLot(l.Lot, false, func() (*LotRecord, error) {
			return lotStore{q.top.Batches}.getLot(ctx, l.Lot)
		})
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("%w: transfer %s: lot %s unknown", ErrRefused, t.ID, l.Lot)
		}
		if err != nil {
			return err
		}
		if rec.Insurer != insurer {
			return fmt.Errorf("%w: transfer %s: lot %s was not sent to %s", ErrRefused, t.ID, l.Lot, insurer)
		}
		key := StatusKey(t.Billing, l.Number)
		digest, ok := cache.digest(rec, key)
		if !ok {
			return fmt.Errorf("%w: transfer %s: sheet %s is not in lot %s", ErrRefused, t.ID, key, l.Lot)
		}
		sheets[i] = sheet{key, digest, rec}
	}
	now := q.now()
	if err := q.keepTransfer(ctx, t, now); err != nil {
		return err
	}
	withheld := map[string]TransferLine{}
	for _, l := range t.Lines {
		if l.Kind == LineWithheld {
			withheld[l.Number] = l
		}
	}
	// Lines name distinct sheets (a sheet is paid or reversed once in a
	// transfer; its withheld line is told with its payment): they are
	// applied in parallel, as the returns of a lot are.
	err := q.forEachIndex(ctx, len(t.Lines), func(ctx context.Context, i int) error {
		l := t.Lines[i]
		s := sheets[i]
		ev := Event{Time: now, Lot: s.rec.ID, Amount: l.Amount, Transfer: t.Reference}
		event := l.Kind
		switch l.Kind {
		case LinePaid:
			ev.State = Paid
			if w, ok := withheld[l.Number]; ok {
				ev.Code, ev.Detail = w.Code, fmt.Sprintf("withheld %s: %s", euros(w.Amount), w.Label)
			}
		case LineReversed:
			ev.Code, ev.Detail = l.Code, l.Label
		default:
			return nil // withheld: told with its payment
		}
		ackID := t.ID + "/" + l.Kind + "/" + s.key
		c, err := q.changeDest(ctx, s.key, s.digest, insurer, ackID, ev)
		if err != nil {
			return err
		}
		if !c.changed && (c.st == nil || !c.st.applied(ackID)) {
			return nil // not for this sheet's current version, or a state it cannot leave
		}
		if c.changed {
			if err := q.fail(StepTransfer); err != nil {
				return err
			}
			q.metrics.Ack(l.Kind)
		}
		if hist, ok := c.history(func(e Event) bool { return e.AckID == ackID }); ok {
			f, err := q.historyFuture(c.st, hist)
			if err != nil {
				return err
			}
			cache.addFuture(f)
		}
		f, err := q.notifyAsync(Notice{ID: "sheet." + s.key + "." + s.digest + "." + ackID, Time: now, Billing: t.Billing, Number: l.Number, Insurer: insurer, Lot: s.rec.ID,
			Event: event, Code: ev.Code, Amount: l.Amount, Detail: ev.Detail, Transfer: t.Reference})
		if err != nil {
			return err
		}
		cache.addFuture(f)
		if d := c.st.dest(insurer); d != nil && d.Final() && d.Lot == s.rec.ID {
			cache.addDone(s.rec.ID, s.key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	f, err := q.notifyAsync(Notice{ID: "transfer." + t.ID, Time: now, Billing: t.Billing, Insurer: insurer, Event: "transfer", Amount: t.Total,
		Detail: "value date " + t.Date + ", " + sheetCount(t), Transfer: t.Reference})
	if err != nil {
		return err
	}
	cache.addFuture(f)
	q.auditLog(ctx, AuditEntry{Kind: "transfer", Insurer: insurer, AckID: t.ID, Detail: fmt.Sprintf("%s %s %d cents, %d lines", t.Reference, t.Date, t.Total, len(t.Lines))})
	return nil
}

// keepTransfer stores t in FSE_PAYMENTS (again after a crash: one message
// per transfer subject, so it replaces itself).
func (q *Queue) keepTransfer(ctx context.Context, t *Transfer, now time.Time) error {
	c := *t
	c.Seq, c.Received = 0, now.UTC()
	b, _ := json.Marshal(c)
	if max := q.cfg.Conn.MaxPayload(); max > 0 && int64(len(b)) > max {
		// Redelivering it would never fit: refused (audited), the
		// insurer splits it (docs/lots.md, lot.MaxTransferLines).
		return fmt.Errorf("%w: transfer %s is %d bytes kept, over the server's %d: split it", ErrRefused, t.ID, len(b), max)
	}
	msg := &nats.Msg{Subject: PaymentSubject(t.Billing, t.Insurer, transferToken(t.ID)), Data: b, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "payment."+t.ID)
	if _, err := q.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("keep transfer %s: %w", t.ID, err)
	}
	return nil
}

// PaymentFilter narrows a listing of transfers.
type PaymentFilter struct {
	After uint64 // only transfers kept after this FSE_PAYMENTS sequence
	Max   int    // at most this many (1 to 500; 0 means 100)
	From  string // value date on or after, YYYY-MM-DD ("" no bound)
	To    string // value date on or before, YYYY-MM-DD ("" no bound)
	// Insurer, when set, keeps only that insurer's transfers.
	Insurer string
}

// Payments lists the transfers to billing in the order the gateway kept
// them, from the first after f.After; next is the cursor to read on from
// (the last sequence read, filtered or not), 0 when nothing was read.
func (q *Queue) Payments(ctx context.Context, billing string, f PaymentFilter) (out []Transfer, next uint64, err error) {
	if !ValidToken(billing) {
		return nil, 0, ErrInvalid
	}
	if f.Max <= 0 {
		f.Max = 100
	}
	f.Max = min(f.Max, 500)
	subject := PaymentsFilter(billing)
	if f.Insurer != "" {
		if !ValidToken(f.Insurer) {
			return nil, 0, ErrInvalid
		}
		subject = SubjectPayments + "." + billing + "." + f.Insurer + ".*"
	}
	next = f.After
	for len(out) < f.Max {
		msgs, err := q.directBatch(ctx, StreamPayments, subject, next+1, f.Max)
		if err != nil {
			return nil, 0, fmt.Errorf("payments %s: %w", billing, err)
		}
		for _, m := range msgs {
			next = m.seq
			var t Transfer
			if err := json.Unmarshal(m.data, &t); err != nil {
				return nil, 0, fmt.Errorf("transfer %d: %w", m.seq, err)
			}
			t.Seq = m.seq
			if (f.From != "" && t.Date < f.From) || (f.To != "" && t.Date > f.To) {
				continue
			}
			out = append(out, t)
			if len(out) == f.Max {
				break
			}
		}
		if len(msgs) < f.Max {
			break
		}
	}
	return out, next, nil
}

// sheetCount says how many sheets a transfer names: "1 sheet", "3 sheets".
func sheetCount(t *Transfer) string {
	seen := map[string]bool{}
	for _, l := range t.Lines {
		seen[l.Number] = true
	}
	if len(seen) == 1 {
		return "1 sheet"
	}
	return strconv.Itoa(len(seen)) + " sheets"
}

// euros writes cents as "12.34 EUR".
func euros(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d EUR", sign, c/100, c%100)
}
