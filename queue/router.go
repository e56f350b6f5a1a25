package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
)

// ErrRefused marks an acknowledgement the router will not apply (a lot not
// sent to that insurer, a sheet not in that lot).
var ErrRefused = errors.New("acknowledgement refused")

type router struct {
	q    *Queue
	lots lotStore
	cons jetstream.Consumer
}

func (q *Queue) newRouter(ctx context.Context) (*router, error) {
	cons, err := q.js.Consumer(ctx, StreamAcks, ConsumerAckRouter)
	if err != nil {
		return nil, fmt.Errorf("ack router: %w", err)
	}
	return &router{q: q, lots: lotStore{q.top.Batches}, cons: cons}, nil
}

// trackLot and untrackLot keep the set of active lots the timers scan.
func (q *Queue) trackLot(id string) {
	q.mu.Lock()
	if q.active == nil {
		q.active = map[string]bool{}
	}
	q.active[id] = true
	q.mu.Unlock()
}

func (q *Queue) untrackLot(ctx context.Context, id string) {
	q.mu.Lock()
	delete(q.active, id)
	q.mu.Unlock()
	if err := q.top.Batches.Delete(ctx, activeKey(id)); err != nil {
		q.log.Warn("active marker not removed", "lot", id, "err", err)
	}
}

func (q *Queue) activeLots() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]string, 0, len(q.active))
	for id := range q.active {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (r *router) run(ctx context.Context) {
	log := r.q.log.With("part", "ack-router")
	// Timers run beside the acks so a slow insurer never delays them.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.timers(ctx) }()
	defer wg.Wait()
	for ctx.Err() == nil {
		msgs, err := fetchReady(r.cons, 200, r.q.cfg.Tick)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("fetch failed", "err", err)
				sleepCtx(ctx, r.q.cfg.Tick)
			}
			continue
		}
		// One insurer's acknowledgements are applied in the order it sent
		// them (its ARL before the returns of the same lot, so notices read
		// in order); different insurers are applied in parallel.
		var groups [][]jetstream.Msg
		bySubject := map[string]int{}
		for _, m := range msgs {
			g, ok := bySubject[m.Subject()]
			if !ok {
				g = len(groups)
				bySubject[m.Subject()] = g
				groups = append(groups, nil)
			}
			groups[g] = append(groups[g], m)
		}
		_ = r.q.forEachIndex(ctx, len(groups), func(ctx context.Context, i int) error {
			for _, m := range groups[i] {
				r.handle(ctx, m)
			}
			return nil
		})
	}
}

func (r *router) handle(ctx context.Context, msg jetstream.Msg) {
	insurer := strings.TrimPrefix(msg.Subject(), SubjectAcks+".")
	acks, err := r.q.cfg.Codec.DecodeAcks(msg.Data())
	if err != nil {
		r.q.log.Warn("acknowledgement not readable; dropped", "insurer", insurer, "err", err)
		r.q.auditLog(ctx, AuditEntry{Kind: "refused", Insurer: insurer, Detail: "unreadable acknowledgement"})
		_ = msg.Term()
		r.forget(ctx, msg)
		return
	}
	// One message carries the returns of a whole lot: the lot record is
	// read once for all of them and the sheets that became final are added
	// to its done list in one update at the end (reading and rewriting a
	// 500-sheet record per return made the router quadratic in the lot
	// size). The message is acked only after that update, so a crash in
	// between redelivers it and the replay path adds them again.
	cache := newAckCache()
	// Lot-level acknowledgements first, in order; then the returns, sheet
	// by sheet in parallel (in order for one sheet): each return is a few
	// round trips, and a lot's returns come in one message.
	var returns [][]Ack
	bySheet := map[string]int{}
	for _, a := range acks {
		if a.Level == LevelReturn {
			k := a.Billing + "." + a.Number
			g, ok := bySheet[k]
			if !ok {
				g = len(returns)
				bySheet[k] = g
				returns = append(returns, nil)
			}
			returns[g] = append(returns[g], a)
			continue
		}
		if !r.apply(ctx, insurer, a, cache) {
			_ = msg.NakWithDelay(r.q.cfg.Tick)
			return
		}
	}
	failed := r.q.forEachIndex(ctx, len(returns), func(ctx context.Context, i int) error {
		for _, a := range returns[i] {
			if !r.apply(ctx, insurer, a, cache) {
				return errRetry
			}
		}
		return nil
	})
	if failed == nil {
		failed = cache.wait(ctx)
	}
	if failed != nil {
		if !errors.Is(failed, errRetry) {
			r.q.log.Warn("notices or history not confirmed; will retry", "insurer", insurer, "err", failed)
		}
		_ = msg.NakWithDelay(r.q.cfg.Tick)
		return
	}
	for lotID, keys := range cache.done {
		if err := r.q.sheetsDone(ctx, lotID, keys); err != nil {
			r.q.log.Warn("lot progress not recorded; will retry", "insurer", insurer, "lot", lotID, "err", err)
			_ = msg.NakWithDelay(r.q.cfg.Tick)
			return
		}
	}
	_ = msg.Ack()
	r.forget(ctx, msg)
}

// forget deletes an applied (or refused) acknowledgement from FSE_ACKS:
// its effects are in the status records, FSE_HISTORY and FSE_AUDIT, and
// the stream keeps only what waits, which is what each insurer's bound
// (TopologyConfig.AckBacklog) counts. A failed delete leaves the message
// until the stream's MaxAge: harmless, it is acked.
func (r *router) forget(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		return
	}
	if err := r.q.top.Acks.DeleteMsg(ctx, md.Sequence.Stream); err != nil && ctx.Err() == nil {
		r.q.log.Debug("applied acknowledgement not deleted", "seq", md.Sequence.Stream, "err", err)
	}
}

// AckBacklog is the number of acknowledgement messages waiting in FSE_ACKS
// per insurer, and each insurer's bound (TopologyConfig.AckBacklog).
func (q *Queue) AckBacklog(ctx context.Context) (map[string]uint64, int64, error) {
	info, err := q.top.Acks.Info(ctx, jetstream.WithSubjectFilter(SubjectAcks+".>"))
	if err != nil {
		return nil, 0, fmt.Errorf("ack backlog: %w", err)
	}
	out := make(map[string]uint64, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		out[strings.TrimPrefix(subj, SubjectAcks+".")] = n
	}
	return out, q.top.AckBacklog, nil
}

var errRetry = errors.New("acknowledgement to retry")

// apply applies one acknowledgement and reports false when the message
// must be retried (a refused acknowledgement is logged and passed over).
func (r *router) apply(ctx context.Context, insurer string, a Ack, cache *ackCache) bool {
	err := r.q.applyAck(ctx, insurer, a, cache)
	switch {
	case errors.Is(err, ErrRefused):
		r.q.log.Warn("acknowledgement refused", "insurer", insurer, "lot", a.Lot, "ack", a.ID, "err", err)
		r.q.auditLog(ctx, AuditEntry{Kind: "refused", Insurer: insurer, Lot: a.Lot, AckID: a.ID, Detail: err.Error()})
	case err != nil:
		r.q.log.Warn("acknowledgement not applied; will retry", "insurer", insurer, "lot", a.Lot, "ack", a.ID, "err", err)
		return false
	}
	return true
}

// ackCache holds, for one acknowledgement message, the lot records read
// (returns only read them), the sheets found final per lot and the
// notices and history published without waiting; it is shared by the
// goroutines that apply the message's returns.
type ackCache struct {
	mu      sync.Mutex
	lots    map[string]*LotRecord
	digests map[string]map[string]string // lot id → sheet key → digest
	done    map[string][]string
	futures []jetstream.PubAckFuture
}

func newAckCache() *ackCache {
	return &ackCache{lots: map[string]*LotRecord{}, digests: map[string]map[string]string{}, done: map[string][]string{}}
}

// loadLot returns the cached record of lot id, reading it with read when
// absent or when fresh is set. The lock is held while reading, so that
// one message's parallel returns read their lot once.
func (c *ackCache) loadLot(id string, fresh bool, read func() (*LotRecord, error)) (*LotRecord, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec := c.lots[id]; rec != nil && !fresh {
		return rec, nil
	}
	rec, err := read()
	if err != nil {
		return nil, err
	}
	c.lots[id] = rec
	delete(c.digests, id)
	return rec, nil
}

// digest is the digest of sheet key in lot rec, and whether it is there.
func (c *ackCache) digest(rec *LotRecord, key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.digests[rec.ID]
	if m == nil {
		m = make(map[string]string, len(rec.Sheets))
		for _, e := range rec.Sheets {
			m[e.Key] = e.Digest
		}
		c.digests[rec.ID] = m
	}
	d, ok := m[key]
	return d, ok
}

func (c *ackCache) addDone(lotID, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done[lotID] = append(c.done[lotID], key)
}

func (c *ackCache) addFuture(f jetstream.PubAckFuture) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.futures = append(c.futures, f)
}

// wait waits for every notice and history entry published for this
// message to be stored.
func (c *ackCache) wait(ctx context.Context) error {
	for _, f := range c.futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w", f.Msg().Header.Get(jetstream.MsgIDHeader), err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// applyAck applies one acknowledgement of insurer (design §5 step 5).
func (q *Queue) applyAck(ctx context.Context, insurer string, a Ack, cache *ackCache) error {
	if a.Insurer != "" && a.Insurer != insurer {
		return fmt.Errorf("%w: %s answered on the subject of %s", ErrRefused, a.Insurer, insurer)
	}
	if a.Level == LevelTransfer {
		return q.applyTransfer(ctx, insurer, a, cache)
	}
	if strings.HasPrefix(a.Lot, lot.SCORPrefix) {
		return q.applySCORARL(ctx, insurer, a)
	}
	// Returns share one read of their lot (the parallel returns of one
	// message wait for the first to read it); an ARL reads it afresh.
	rec, err := cache.loadLot(a.Lot, a.Level != LevelReturn, func() (*LotRecord, error) {
		return lotStore{q.top.Batches}.getLot(ctx, a.Lot)
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: lot %s unknown", ErrRefused, a.Lot)
	}
	if err != nil {
		return err
	}
	if rec.Insurer != insurer {
		return fmt.Errorf("%w: lot %s was not sent to %s", ErrRefused, a.Lot, insurer)
	}
	now := q.now()
	switch a.Level {
	case LevelARL:
		return q.applyARL(ctx, rec, a, now)
	case LevelReturn:
		return q.applyReturn(ctx, rec, a, now, cache)
	}
	return fmt.Errorf("%w: level %q", ErrRefused, a.Level)
}

func (q *Queue) applyARL(ctx context.Context, rec *LotRecord, a Ack, now time.Time) error {
	lots := lotStore{q.top.Batches}
	lim := q.limits(rec.Insurer)
	var positive, resend, dead, replay bool
	rec, err := lots.updateLot(ctx, rec.ID, func(r *LotRecord) error {
		positive, resend, dead, replay = false, false, false, false
		if r.applied(a.ID) {
			// Applied before (only ARLs that changed the lot are), and
			// redelivered after a crash or a failed step below: the steps
			// after the change are done again (each idempotent: notices
			// and history by their ids), or its notice would never be sent.
			replay = true
			positive = a.Positive
			dead = !a.Positive && r.State == LotDead
			resend = !a.Positive && !dead
			return errNoChange
		}
		if a.Attempt > r.Attempt {
			return fmt.Errorf("%w: lot %s attempt %d was never sent", ErrRefused, r.ID, a.Attempt)
		}
		switch r.State {
		case LotARLPositive, LotDone, LotDead:
			return errNoChange // late or duplicate: the lot moved on
		}
		if !a.Positive && a.Attempt != 0 && a.Attempt < r.Attempt {
			return errNoChange // negative ARL of an attempt already replaced
		}
		r.Applied = append(r.Applied, a.ID)
		if a.Positive {
			r.State = LotARLPositive
			r.ARLAt = now
			positive = true
			return nil
		}
		if r.Attempt >= lim.MaxAttempts {
			r.State = LotDead
			r.Reason = "negative ARL: " + a.Reason
			dead = true
			return nil
		}
		r.Attempt++
		r.State = LotResend
		r.NextSend = now.Add(q.br.delay(r.Insurer, lim, r.Attempt))
		resend = true
		return nil
	})
	if err != nil {
		return err
	}
	if !positive && !resend && !dead {
		return nil
	}
	level := "arl_negative"
	if positive {
		level = "arl_positive"
	}
	detail := level + " " + a.Reason
	if replay {
		// The audit entry may or may not have been written before the
		// failure; a second one, marked, is better than none.
		detail += " (applied again after a failure)"
	} else {
		if err := q.fail("router.lot"); err != nil {
			return err
		}
		if positive {
			q.br.success(rec.Insurer)
		}
		q.metrics.Ack(level)
	}
	q.auditLog(ctx, AuditEntry{Kind: "ack", Insurer: rec.Insurer, Lot: rec.ID, Attempt: a.Attempt, AckID: a.ID, Detail: detail})
	if positive {
		// A lot-level state: recorded on the lot, shown on each sheet by
		// Queue.Status, never written sheet by sheet.
		q.lotHistoryAsync(rec, Event{Time: now, State: ARLPositive, AckID: a.ID})
	}
	if err := q.lotNotices(ctx, rec, level, a.Reason, a.ID, now); err != nil {
		return err
	}
	if dead {
		return q.bury(ctx, rec, DeliveryFailed, rec.Reason, now)
	}
	return nil
}

// lotNotices sends one notice per billing number of a lot.
func (q *Queue) lotNotices(ctx context.Context, rec *LotRecord, event, detail, ackID string, now time.Time) error {
	seen := map[string]bool{}
	for _, e := range rec.Sheets {
		billing, _, _ := strings.Cut(e.Key, ".")
		if seen[billing] {
			continue
		}
		seen[billing] = true
		n := Notice{ID: "lot." + rec.ID + "." + billing + "." + event + "." + ackID, Time: now, Billing: billing, Insurer: rec.Insurer, Lot: rec.ID, Event: event, Detail: detail}
		if err := q.notify(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) applyReturn(ctx context.Context, rec *LotRecord, a Ack, now time.Time, cache *ackCache) error {
	key := StatusKey(a.Billing, a.Number)
	digest, ok := cache.digest(rec, key)
	if !ok {
		return fmt.Errorf("%w: sheet %s is not in lot %s", ErrRefused, key, rec.ID)
	}
	ev := Event{Time: now, Lot: rec.ID, Code: a.Code, Amount: a.Amount, Detail: a.Detail, Participation: a.Participation, Franchises: a.Franchises}
	switch a.Outcome {
	case OutcomeAccepted:
		ev.State = Accepted
	case OutcomeRejected:
		ev.State = Rejected
	case OutcomePaid:
		ev.State = Paid
	case OutcomeSignalement:
	default:
		return fmt.Errorf("%w: outcome %q", ErrRefused, a.Outcome)
	}
	c, err := q.changeDest(ctx, key, digest, rec.Insurer, a.ID, ev)
	if err != nil {
		return err
	}
	replay := false
	if !c.changed {
		// Applied before (this acknowledgement redelivered after a crash
		// or a failed step below): the steps after the state change are
		// done again, each idempotent (history and notice by their ids,
		// the lot's done list by key); otherwise the lot would never be
		// done.
		if c.st == nil || !c.st.applied(a.ID) {
			return nil
		}
		replay = true
	} else {
		if err := q.fail("router.sheet"); err != nil {
			return err
		}
		q.metrics.Ack("return")
	}
	if hist, ok := c.history(func(e Event) bool { return e.AckID == a.ID }); ok {
		f, err := q.historyFuture(c.st, hist)
		if err != nil {
			return err
		}
		cache.addFuture(f)
	}
	event := a.Outcome
	// The notice is confirmed before the acknowledgement message is acked
	// (ackCache.wait), not one round trip at a time.
	f, err := q.notifyAsync(Notice{ID: "sheet." + key + "." + digest + "." + a.ID, Time: now, Billing: a.Billing, Number: a.Number, Insurer: rec.Insurer, Lot: rec.ID, Event: event, Code: a.Code, Amount: a.Amount, Detail: a.Detail,
		Participation: a.Participation, Franchises: a.Franchises})
	if err != nil {
		return err
	}
	cache.addFuture(f)
	if c.destFinal {
		cache.addDone(rec.ID, key)
		return nil
	}
	if d := c.st.dest(rec.Insurer); replay && d != nil && d.Final() && d.Lot == rec.ID {
		cache.addDone(rec.ID, key)
	}
	return nil
}

// sheetsDone records that sheets of a lot are final there; the last one
// ends the lot.
func (q *Queue) sheetsDone(ctx context.Context, lotID string, keys []string) error {
	lots := lotStore{q.top.Batches}
	done := false
	_, err := lots.updateLot(ctx, lotID, func(r *LotRecord) error {
		seen := make(map[string]bool, len(r.Done))
		for _, k := range r.Done {
			seen[k] = true
		}
		added := false
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				r.Done = append(r.Done, k)
				added = true
			}
		}
		if !added {
			return errNoChange
		}
		if len(r.Done) >= len(r.Sheets) && r.State != LotDead {
			r.State = LotDone
			done = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if done {
		q.untrackLot(ctx, lotID)
	}
	return nil
}

// bury gives up on a lot: its sheets not final yet take state (delivery_failed
// or returns_overdue), the sender gets a notice and the lot goes to
// FSE_DEAD with its reason.
func (q *Queue) bury(ctx context.Context, rec *LotRecord, state State, reason string, now time.Time) error {
	err := q.forEachSheet(ctx, rec, func(ctx context.Context, e ManifestEntry) error {
		c, err := q.changeDest(ctx, e.Key, e.Digest, rec.Insurer, "", Event{Time: now, State: state, Lot: rec.ID, Detail: reason})
		if err != nil {
			return err
		}
		if !c.changed {
			// Buried before a failure (this is a replay): history and
			// notice are written again, harmless by their ids, or they
			// could be lost.
			d := c.st.dest(rec.Insurer)
			if c.st.Digest != e.Digest || d == nil || d.State != state || d.Lot != rec.ID {
				return nil
			}
		} else if err := q.fail(StepBury); err != nil {
			return err
		}
		if hist, ok := c.history(func(ev Event) bool { return ev.State == state && ev.Lot == rec.ID && ev.Insurer == rec.Insurer }); ok {
			if _, err := q.js.PublishMsg(ctx, historyMsg(c.st, hist)); err != nil {
				return fmt.Errorf("history %s: %w", e.Key, err)
			}
		}
		billing, number, _ := strings.Cut(e.Key, ".")
		return q.notify(ctx, Notice{ID: "sheet." + e.Key + "." + e.Digest + "." + string(state) + "." + rec.ID, Time: now, Billing: billing, Number: number, Insurer: rec.Insurer, Lot: rec.ID, Event: string(state), Detail: reason})
	})
	if err != nil {
		return err
	}
	b, _ := json.Marshal(rec)
	msg := &nats.Msg{Subject: DeadSubject(rec.Insurer), Data: b, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "dead."+rec.ID+"."+fmt.Sprint(rec.Attempt))
	msg.Header.Set("Fse-Reason", reason)
	if _, err := q.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("dead letter %s: %w", rec.ID, err)
	}
	_, err = lotStore{q.top.Batches}.updateLot(ctx, rec.ID, func(r *LotRecord) error {
		if r.State == LotDead && r.Reason == reason {
			return errNoChange
		}
		r.State, r.Reason = LotDead, reason
		return nil
	})
	if err != nil {
		return err
	}
	q.metrics.DeadLot(rec.Insurer, string(state))
	q.auditLog(ctx, AuditEntry{Kind: "dead", Insurer: rec.Insurer, Lot: rec.ID, Attempt: rec.Attempt, Detail: reason})
	q.log.Warn("lot moved to the dead-letter stream", "lot", rec.ID, "insurer", rec.Insurer, "reason", reason)
	q.untrackLot(ctx, rec.ID)
	return nil
}
