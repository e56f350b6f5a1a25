package mock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
)

// due is one line the insurer still has to put in a transfer: a sheet to
// pay (with what it withholds), or a payment to reverse.
type due struct {
	kind     lot.LineKind // LinePaid or LineReversed
	billing  string
	number   string
	lot      string
	amount   int64       // paid: cents paid; reversed: minus what was paid
	withheld int64       // paid: cents withheld
	reason   *lot.Reason // why withheld, or why reversed
	memo     *memo
	at       time.Time     // not before
	done     chan struct{} // closed once in a published transfer
}

// payTick is how often the payer looks for transfers to make.
const payTick = 25 * time.Millisecond

// dueOf is what the insurer pays for sheet s of lot l, judged m: the
// scenario decides whether it is late and what it withholds.
func (i *Insurer) dueOf(s *lot.Sheet, lotID string, m *memo, now time.Time) *due {
	p := &i.sc.Payments
	key := s.Key()
	d := &due{kind: lot.LinePaid, billing: s.Billing, number: s.Number, lot: lotID, amount: m.pay + i.sc.Misbehave.AmountDelta, memo: m, at: now, done: make(chan struct{})}
	if i.sc.hit(p.Late.Rate, "late", key) {
		d.at = now.Add(p.Late.Delay)
	}
	if i.sc.hit(p.Partial.Rate, "partial", key) {
		w := int64(math.Round(float64(d.amount) * p.Partial.Withhold))
		if w > 0 && w < d.amount {
			d.amount -= w
			d.withheld = w
			d.reason = &lot.Reason{Code: or(p.Partial.Code, lot.CodePartial), Label: or(p.Partial.Label, "montant partiellement retenu (scénario)")}
		}
	}
	return d
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// pay hands a lot's payments to the payer and waits until they are in
// published transfers; false when ctx ended first (the lot then stays
// unacknowledged and is answered again). A sheet already paid, or being
// paid for another delivery, is not paid again.
func (i *Insurer) pay(ctx context.Context, dues []*due) bool {
	var wait []*due
	now := i.cfg.Now()
	i.mu.Lock()
	for _, d := range dues {
		if d.memo.paid || d.memo.paying {
			continue
		}
		d.memo.paying = true
		if d.at.Before(now) {
			d.at = now
		}
		i.pending = append(i.pending, d)
		wait = append(wait, d)
	}
	i.mu.Unlock()
	select {
	case i.nudge <- struct{}{}:
	default:
	}
	for _, d := range wait {
		select {
		case <-d.done:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// payer makes transfers from the pending lines until ctx ends.
func (i *Insurer) payer(ctx context.Context) {
	defer i.wg.Done()
	t := time.NewTicker(payTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-i.nudge:
		}
		i.flush(ctx)
	}
}

// flush publishes one transfer per practice with the lines that are due:
// at once, or, with a group window, once the oldest has waited the window.
func (i *Insurer) flush(ctx context.Context) {
	now := i.cfg.Now()
	group := i.sc.Payments.Group
	i.mu.Lock()
	ready := map[string][]*due{}
	oldest := map[string]time.Time{}
	var keep []*due
	for _, d := range i.pending {
		if d.at.After(now) {
			keep = append(keep, d)
			continue
		}
		ready[d.billing] = append(ready[d.billing], d)
		if o, ok := oldest[d.billing]; !ok || d.at.Before(o) {
			oldest[d.billing] = d.at
		}
	}
	for b, ds := range ready {
		if group > 0 && now.Sub(oldest[b]) < group {
			keep = append(keep, ds...)
			delete(ready, b)
		}
	}
	i.pending = keep
	i.mu.Unlock()
	billings := make([]string, 0, len(ready))
	for b := range ready {
		billings = append(billings, b)
	}
	sort.Strings(billings)
	var batches [][]*due
	for _, b := range billings {
		ds := ready[b]
		// At most two lines per due (paid and withheld): split to stay
		// within lot.MaxTransferLines.
		for len(ds) > lot.MaxTransferLines/2 {
			batches = append(batches, ds[:lot.MaxTransferLines/2])
			ds = ds[lot.MaxTransferLines/2:]
		}
		batches = append(batches, ds)
	}
	for _, ds := range batches {
		b := ds[0].billing
		t := i.transfer(b, ds, now)
		if err := i.publishTransfer(ctx, t); err != nil {
			if ctx.Err() == nil {
				i.log.Warn("publish transfer", "transfer", t.ID, "err", err)
			}
			i.mu.Lock()
			i.pending = append(i.pending, ds...)
			i.mu.Unlock()
			continue
		}
		i.paid(ds, now)
	}
}

// transfer is the transfer of lines ds to billing.
func (i *Insurer) transfer(billing string, ds []*due, now time.Time) *lot.Transfer {
	var lines []lot.TransferLine
	for _, d := range ds {
		lines = append(lines, lot.TransferLine{Kind: d.kind, Billing: billing, Number: d.number, Lot: d.lot, Amount: d.amount})
		switch {
		case d.kind == lot.LineReversed:
			lines[len(lines)-1].Reason = d.reason
		case d.withheld > 0:
			lines = append(lines, lot.TransferLine{Kind: lot.LineWithheld, Billing: billing, Number: d.number, Lot: d.lot, Amount: d.withheld, Reason: d.reason})
		}
	}
	lot.SortLines(lines)
	date := now.UTC().Format(time.DateOnly)
	t := &lot.Transfer{ID: lot.TransferID(i.id, billing, date, lines), Insurer: i.id, Billing: billing, Date: date, Created: now.UTC(), Lines: lines}
	t.Total = t.Sum()
	t.Reference = reference(i.id, date, t.ID)
	return t
}

// reference is the bank reference of a transfer: the insurer, the date and
// a digest of the transfer's id, as a caisse's label would read.
func reference(insurer, date, id string) string {
	h := sha256.Sum256([]byte(id))
	name := strings.ToUpper(strings.ReplaceAll(insurer, "_", "-"))
	if len(name) > 14 {
		name = name[:14]
	}
	return name + "-" + strings.ReplaceAll(date, "-", "") + "-" + strings.ToUpper(hex.EncodeToString(h[:5]))
}

// paid records lines ds as published: their lots may be acknowledged, and
// the payments the scenario reverses come back as lines due later.
func (i *Insurer) paid(ds []*due, now time.Time) {
	rv := &i.sc.Payments.Reversed
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, d := range ds {
		if d.kind == lot.LinePaid {
			d.memo.paid, d.memo.paying = true, false
			i.stats.Payments++
			if d.amount > 0 && i.sc.hit(rv.Rate, "reversed", d.billing+"."+d.number) {
				i.pending = append(i.pending, &due{
					kind: lot.LineReversed, billing: d.billing, number: d.number, lot: d.lot, amount: -d.amount,
					reason: &lot.Reason{Code: or(rv.Code, lot.CodeReversal), Label: or(rv.Label, "paiement annulé (scénario)")},
					memo:   d.memo, at: now.Add(max(rv.Delay, i.sc.Payments.Group, payTick)), done: make(chan struct{}),
				})
			}
		} else {
			i.stats.Reversals++
		}
		close(d.done)
	}
	i.stats.Transfers++
}

func (i *Insurer) publishTransfer(ctx context.Context, t *lot.Transfer) error {
	b, err := t.Encode()
	if err != nil {
		return err
	}
	if _, err := i.js.Publish(ctx, i.cfg.Wire.AckSubject(i.id), b, jetstream.WithMsgID(t.ID)); err != nil {
		return err
	}
	i.mu.Lock()
	i.stats.Published++
	i.mu.Unlock()
	if i.cfg.OnTransfer != nil {
		i.cfg.OnTransfer(t)
	}
	i.log.Info("transfer published", "transfer", t.ID, "reference", t.Reference, "lines", len(t.Lines), "total", t.Total)
	return nil
}
