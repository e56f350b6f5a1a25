package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fse"
)

// timers checks, every tick, the deadlines of the active lots (design §5
// step 6). Every deadline is computed from times recorded in the lot
// record, so a restart loses none.
func (r *router) timers(ctx context.Context) {
	t := time.NewTicker(r.q.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.q.checkLots(ctx); err != nil && ctx.Err() == nil {
			r.q.log.Warn("lot timers", "err", err)
		}
	}
}

// checkLots runs the timers once.
func (q *Queue) checkLots(ctx context.Context) error {
	lots := lotStore{q.top.Batches}
	now := q.now()
	floors := map[string]uint64{}
	floor := func(insurer string) (uint64, bool) {
		if f, ok := floors[insurer]; ok {
			return f, true
		}
		c, err := q.js.Consumer(ctx, StreamLots, LotConsumer(insurer))
		if err != nil {
			return 0, false
		}
		info, err := c.Info(ctx)
		if err != nil {
			return 0, false
		}
		floors[insurer] = info.AckFloor.Stream
		return info.AckFloor.Stream, true
	}
	var errs []error
	if now.Sub(q.activeScanned) >= 5*q.cfg.Tick {
		// Lots another gateway froze (and watches, unless it stopped) are
		// watched here too: every gateway scans every active lot, each
		// change being a CAS on the lot record.
		q.activeScanned = now
		if keys, err := lots.kv.ListKeysFiltered(ctx, "active.>"); err == nil {
			for k := range keys.Keys() {
				q.trackLot(strings.TrimPrefix(k, "active."))
			}
		}
	}
	for _, id := range q.activeLots() {
		if ctx.Err() != nil {
			return nil
		}
		rec, err := lots.getLot(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			q.untrackLot(ctx, id)
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := q.checkLot(ctx, rec, now, floor); err != nil {
			errs = append(errs, fmt.Errorf("lot %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (q *Queue) checkLot(ctx context.Context, rec *LotRecord, now time.Time, floor func(string) (uint64, bool)) error {
	lots := lotStore{q.top.Batches}
	lim := q.limits(rec.Insurer)
	switch rec.State {
	case LotDone, LotDead:
		q.untrackLot(ctx, rec.ID)
		return nil
	case LotClosed:
		// Frozen, but its publish failed (a partition, a timeout) after
		// the manifest was reset: nothing else would publish it before a
		// restart. Once older than two publish timeouts (the close that
		// froze it has given up by then), any gateway publishes it; the
		// attempt's deterministic id makes a second publish harmless.
		if now.Sub(rec.Closed) < 2*q.cfg.PublishTimeout {
			return nil
		}
		q.log.Warn("publishing a lot left frozen by a failed close", "lot", rec.ID)
		return (&batcher{q: q, lots: lots}).finishClose(ctx, rec)
	case LotResend:
		if now.Before(rec.NextSend) || !q.br.allow(rec.Insurer) {
			return nil
		}
		return q.resend(ctx, rec, now)
	case LotPublished, LotDelivered:
		att := rec.current()
		if att == nil {
			return nil
		}
		if rec.State == LotPublished {
			if f, ok := floor(rec.Insurer); ok && f >= att.StreamSeq {
				return q.delivered(ctx, rec, now)
			}
		}
		var reason string
		switch {
		case rec.State == LotPublished && !now.Before(att.Published.Add(lim.DeliveryDeadline)):
			reason = fmt.Sprintf("not taken by %s within %v", rec.Insurer, lim.DeliveryDeadline)
		case !now.Before(att.Published.Add(lim.ARLDeadline)):
			reason = fmt.Sprintf("no ARL from %s within %v", rec.Insurer, lim.ARLDeadline)
		default:
			return nil
		}
		q.br.failure(rec.Insurer, lim)
		if rec.Attempt >= lim.MaxAttempts {
			return q.bury(ctx, rec, DeliveryFailed, reason, now)
		}
		_, err := lots.updateLot(ctx, rec.ID, func(r *LotRecord) error {
			if r.Attempt != rec.Attempt || (r.State != LotPublished && r.State != LotDelivered) {
				return errNoChange
			}
			r.Attempt++
			r.State = LotResend
			r.Reason = reason
			r.NextSend = now.Add(q.br.delay(r.Insurer, lim, r.Attempt))
			return nil
		})
		q.log.Warn("lot deadline passed; re-sending", "lot", rec.ID, "reason", reason)
		return err
	case LotARLPositive:
		if lim.ReturnsWorkingDays > 0 {
			if due := fse.PaymentDue(rec.ARLAt, lim.ReturnsWorkingDays, lim.Holidays); !now.Before(due) {
				return q.bury(ctx, rec, ReturnsOverdue, fmt.Sprintf("no return from %s within %d working days of the ARL (due %s)", rec.Insurer, lim.ReturnsWorkingDays, due.Format(time.RFC3339)), now)
			}
			break
		}
		if !now.Before(rec.ARLAt.Add(lim.ReturnsDeadline)) {
			return q.bury(ctx, rec, ReturnsOverdue, fmt.Sprintf("no return from %s within %v of the ARL", rec.Insurer, lim.ReturnsDeadline), now)
		}
	}
	return nil
}

func (q *Queue) delivered(ctx context.Context, rec *LotRecord, now time.Time) error {
	// Delivery is a state of the lot, recorded once on the lot and once in
	// its history, not on each of its (up to hundreds of) sheets: a sheet's
	// status shows it through its lot (Queue.Status).
	rec, err := lotStore{q.top.Batches}.updateLot(ctx, rec.ID, func(r *LotRecord) error {
		if r.State != LotPublished {
			return errNoChange
		}
		r.State = LotDelivered
		if a := r.current(); a != nil {
			a.Delivered = now
		}
		return nil
	})
	if err != nil {
		return err
	}
	if rec.State == LotDelivered {
		q.lotHistoryAsync(rec, Event{Time: now, State: Delivered})
	}
	return nil
}

// resend publishes the lot's current attempt.
func (q *Queue) resend(ctx context.Context, rec *LotRecord, now time.Time) error {
	seq, err := q.publishLot(ctx, rec)
	if err != nil {
		q.br.failure(rec.Insurer, q.limits(rec.Insurer))
		return err
	}
	_, err = lotStore{q.top.Batches}.updateLot(ctx, rec.ID, func(r *LotRecord) error {
		if r.State != LotResend || r.Attempt != rec.Attempt {
			return errNoChange
		}
		r.State = LotPublished
		r.Attempts = append(r.Attempts, Attempt{N: r.Attempt, Published: now, StreamSeq: seq})
		return nil
	})
	if err != nil {
		return err
	}
	q.metrics.LotPublished(rec.Insurer)
	q.auditLog(ctx, AuditEntry{Kind: "lot", Insurer: rec.Insurer, Lot: rec.ID, Attempt: rec.Attempt, Detail: fmt.Sprintf("%d sheets, re-sent: %s", len(rec.Sheets), rec.Reason)})
	q.log.Info("lot re-sent", "lot", rec.ID, "insurer", rec.Insurer, "attempt", rec.Attempt)
	return nil
}

// Lot returns the record of a closed lot.
func (q *Queue) Lot(ctx context.Context, id string) (*LotRecord, error) {
	r, err := lotStore{q.top.Batches}.getLot(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("lot %s: %w", id, ErrNotFound)
	}
	return r, err
}

// Resubmit sends a dead lot again under the same lot id, as a new attempt
// (its sheets that failed go back to batched). what is a lot id, or a sheet
// key <billing>.<number> whose failed lots are resubmitted. It returns the
// lots resubmitted.
func (q *Queue) Resubmit(ctx context.Context, what string) ([]string, error) {
	var ids []string
	if billing, number, ok := strings.Cut(what, "."); ok {
		st, err := q.Status(ctx, billing, number)
		if err != nil {
			return nil, fmt.Errorf("resubmit %s: %w", what, err)
		}
		for _, d := range st.Destinations {
			if d.Lot != "" && (d.State == DeliveryFailed || d.State == ReturnsOverdue) {
				ids = append(ids, d.Lot)
			}
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("resubmit %s: no failed lot (state %s)", what, st.State)
		}
	} else {
		ids = []string{what}
	}
	now := q.now()
	lots := lotStore{q.top.Batches}
	for _, id := range ids {
		rec, err := lots.updateLot(ctx, id, func(r *LotRecord) error {
			if r.State != LotDead {
				return fmt.Errorf("lot %s is %s, not dead", r.ID, r.State)
			}
			r.Attempt++
			r.State = LotResend
			r.NextSend = now
			r.Reason = "resubmitted"
			r.Done = nil
			return nil
		})
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("resubmit: lot %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("resubmit: %w", err)
		}
		err = q.forEachSheet(ctx, rec, func(ctx context.Context, e ManifestEntry) error {
			_, err := q.status.update(ctx, e.Key, func(s *Status) error {
				d := s.dest(rec.Insurer)
				if s.Digest != e.Digest || d == nil || (d.State != DeliveryFailed && d.State != ReturnsOverdue) {
					return errNoChange
				}
				d.State, d.Updated = Batched, now
				s.record(Event{Time: now, Insurer: rec.Insurer, State: Batched, Lot: rec.ID, Detail: "resubmitted"})
				s.overall()
				return nil
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("resubmit %s: %w", id, err)
		}
		if _, err := q.top.Batches.Put(ctx, activeKey(id), []byte(rec.LotKey)); err != nil {
			return nil, fmt.Errorf("resubmit %s: %w", id, err)
		}
		q.trackLot(id)
		q.br.success(rec.Insurer)
		q.auditLog(ctx, AuditEntry{Kind: "resubmit", Insurer: rec.Insurer, Lot: id, Attempt: rec.Attempt})
	}
	return ids, nil
}

// breakers back off re-sends per insurer: after three deadline misses in a
// row an insurer's circuit opens, and no lot of it is re-sent until the
// pause (doubling up to 10 minutes) is over. One insurer down never slows
// the others; a success closes the circuit.
type breakers struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*breaker
}

type breaker struct {
	fails     int
	openUntil time.Time
}

func newBreakers(now func() time.Time) *breakers {
	return &breakers{now: now, m: map[string]*breaker{}}
}

const maxPause = 10 * time.Minute // circuit pause cap

func (b *breakers) get(insurer string) *breaker {
	x, ok := b.m[insurer]
	if !ok {
		x = &breaker{}
		b.m[insurer] = x
	}
	return x
}

// delay is the pause before sending attempt n (n ≥ 2).
func (b *breakers) delay(insurer string, lim Limits, n int) time.Duration {
	d := lim.Backoff
	for i := 2; i < n && d < lim.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, lim.MaxBackoff)
	b.mu.Lock()
	defer b.mu.Unlock()
	if wait := b.get(insurer).openUntil.Sub(b.now()); wait > d {
		d = wait
	}
	return min(d, maxPause)
}

func (b *breakers) allow(insurer string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.now().Before(b.get(insurer).openUntil)
}

func (b *breakers) failure(insurer string, lim Limits) {
	b.mu.Lock()
	defer b.mu.Unlock()
	x := b.get(insurer)
	x.fails++
	if x.fails >= 3 {
		p := lim.Backoff
		for i := 3; i < x.fails && p < maxPause; i++ {
			p *= 2
		}
		x.openUntil = b.now().Add(min(p, maxPause))
	}
}

func (b *breakers) success(insurer string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, insurer)
}

// Open reports whether an insurer's circuit is open (for metrics).
func (q *Queue) BreakerOpen(insurer string) bool { return !q.br.allow(insurer) }

// InsurerPending is the number of lot messages an insurer has not taken
// and acked yet.
func (q *Queue) InsurerPending(ctx context.Context, insurer string) (uint64, error) {
	c, err := q.js.Consumer(ctx, StreamLots, LotConsumer(insurer))
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}
