package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Sheet is a care sheet the gateway verified, validated and routed, ready
// to be queued.
type Sheet struct {
	Billing string // billing number (numéro AM), 9 digits
	Number  string // sheet number, unique per billing number
	// Digest is the content digest of the sheet without its signature, so
	// a sheet re-signed after a crash is the same sheet.
	Digest       string
	Signer       string // national id of the signer
	RulesVersion string
	Destinations []Destination
	// Signed is the sheet's exact signed bytes, forwarded untouched.
	Signed []byte
	// SCORInsurer is, for a sheet that needs its SCOR piece (a paper
	// prescription), the insurer the piece goes to; empty otherwise.
	SCORInsurer string
}

// Receipt is what intake answers once the sheet is durably queued.
type Receipt struct {
	Billing      string        `json:"billing"`
	Number       string        `json:"number"`
	Digest       string        `json:"digest"`
	State        State         `json:"state"`
	ReceivedAt   time.Time     `json:"received_at"`
	RulesVersion string        `json:"rules_version,omitempty"`
	Destinations []ReceiptDest `json:"destinations"`
	// Again: this sheet was received before; this is its first receipt.
	Again bool `json:"again,omitempty"`
	// Corrects is the digest of the rejected sheet this one replaces.
	Corrects string `json:"corrects,omitempty"`
	DryRun   bool   `json:"dry_run,omitempty"`
	// SCOR is the state of the sheet's SCOR piece when it needs one
	// ("awaiting" until it is sent).
	SCOR string `json:"scor,omitempty"`
}

// ReceiptDest names where the sheet goes and when its lot closes at the
// latest.
type ReceiptDest struct {
	Insurer string    `json:"insurer"`
	Kind    string    `json:"kind,omitempty"`
	LotKey  string    `json:"lot_key"`
	CloseBy time.Time `json:"close_by"`
}

func (q *Queue) newStatus(s *Sheet, now time.Time) *Status {
	st := &Status{
		Billing: s.Billing, Number: s.Number, Digest: s.Digest, Signer: s.Signer,
		RulesVersion: s.RulesVersion, State: Received, ReceivedAt: now,
	}
	for _, d := range s.Destinations {
		l := q.limits(d.Insurer)
		st.Destinations = append(st.Destinations, DestStatus{
			Destination: d,
			LotKey:      q.LotKeyFor(d.Insurer, s.Billing),
			CloseBy:     now.Add(l.MaxAge + 2*q.cfg.Tick).Truncate(time.Second).Add(time.Second),
			State:       Received,
			Updated:     now,
		})
	}
	st.record(Event{Time: now, State: Received})
	if s.SCORInsurer != "" {
		st.SCOR = &SCOR{State: SCORAwaiting, Insurer: s.SCORInsurer, Updated: now}
	}
	return st
}

func receiptOf(st *Status) Receipt {
	r := Receipt{
		Billing: st.Billing, Number: st.Number, Digest: st.Digest, State: st.State,
		ReceivedAt: st.ReceivedAt, RulesVersion: st.RulesVersion, Corrects: st.Corrects,
	}
	if st.SCOR != nil {
		r.SCOR = st.SCOR.State
	}
	for _, d := range st.Destinations {
		r.Destinations = append(r.Destinations, ReceiptDest{Insurer: d.Insurer, Kind: d.Kind, LotKey: d.LotKey, CloseBy: d.CloseBy})
	}
	return r
}

func checkSheet(s *Sheet) error {
	switch {
	case !ValidToken(s.Billing) || !ValidToken(s.Number):
		return fmt.Errorf("%w: billing %q, number %q", ErrInvalid, s.Billing, s.Number)
	case s.Digest == "" || !ValidToken(s.Digest):
		return fmt.Errorf("%w: digest %q", ErrInvalid, s.Digest)
	case len(s.Destinations) == 0:
		return fmt.Errorf("%w: no destination", ErrInvalid)
	case len(s.Signed) == 0:
		return fmt.Errorf("%w: no signed bytes", ErrInvalid)
	}
	for _, d := range s.Destinations {
		if !ValidToken(d.Insurer) {
			return fmt.Errorf("%w: insurer %q", ErrInvalid, d.Insurer)
		}
	}
	return nil
}

// correctable reports whether st was rejected, so a different sheet with
// the same key corrects it.
func correctable(st *Status) bool {
	rejected := false
	for _, d := range st.Destinations {
		if d.State == Rejected {
			rejected = true
		}
	}
	return rejected && st.Final()
}

// Preview answers what Submit would do, writing nothing (dry run).
func (q *Queue) Preview(ctx context.Context, s Sheet) (Receipt, error) {
	if err := checkSheet(&s); err != nil {
		return Receipt{}, err
	}
	old, _, err := q.status.get(ctx, StatusKey(s.Billing, s.Number))
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return Receipt{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case old.Digest == s.Digest:
		r := receiptOf(old)
		r.Again, r.DryRun = true, true
		return r, nil
	case !correctable(old):
		return Receipt{}, ErrDuplicate
	}
	st := q.newStatus(&s, q.now())
	st.State = Queued
	if old != nil {
		st.Corrects = old.Digest
	}
	r := receiptOf(st)
	r.DryRun = true
	return r, nil
}

// Submit queues a sheet (design §5 steps 1–2) and returns its receipt only
// once JetStream confirmed the write. The same sheet again gets the same
// receipt; a different sheet with the same key is ErrDuplicate unless the
// earlier one was rejected (a correction).
//
// The sheet is published first, then its status record is created
// directly as queued: two writes, where create, publish, update took three.
// A message without its status (a crash in between, a refused duplicate)
// is passed over by the batcher (batcher.process).
func (q *Queue) Submit(ctx context.Context, s Sheet) (Receipt, error) {
	if err := checkSheet(&s); err != nil {
		return Receipt{}, err
	}
	if q.lotsFull.Load() {
		// FSE_SHEETS may have room, but no lot can be sent: a receipt now
		// would promise what the queue cannot keep until room returns.
		return Receipt{}, fmt.Errorf("%w: FSE_LOTS is full, no lot can be sent", ErrStorageFull)
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.PublishTimeout)
	defer cancel()
	key := StatusKey(s.Billing, s.Number)
	received := q.now()

	// Step 1: publish each destination's copy with a deterministic id (a
	// retry within the dedup window stores nothing new).
	seqs := make([]uint64, len(s.Destinations))
	for i, d := range s.Destinations {
		msg := &nats.Msg{Subject: SheetSubject(d.Insurer), Data: s.Signed, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, SheetMsgID(key, s.Digest, d.Insurer))
		msg.Header.Set(HeaderKey, key)
		msg.Header.Set(HeaderDigest, s.Digest)
		ack, err := q.js.PublishMsg(ctx, msg)
		if err != nil {
			return Receipt{}, q.writeErr(err)
		}
		seqs[i] = ack.Sequence
	}
	if err := q.fail("intake.published"); err != nil {
		return Receipt{}, err
	}

	// Step 2: create the status record, queued, create-only: the key is
	// taken at any age.
	now := q.now()
	st := q.newStatus(&s, received)
	st.State, st.QueuedAt, st.Seqs = Queued, now, seqs
	for i := range st.Destinations {
		st.Destinations[i].State, st.Destinations[i].Updated = Queued, now
	}
	st.record(Event{Time: now, State: Queued})
	b, _ := json.Marshal(st)
	_, err := q.top.Status.Create(ctx, key, b)
	again := false
	if errors.Is(err, jetstream.ErrKeyExists) {
		old, oldRev, gerr := q.status.get(ctx, key)
		if gerr != nil {
			return Receipt{}, q.writeErr(gerr)
		}
		switch {
		case old.Digest == s.Digest && old.State != Received:
			r := receiptOf(old)
			r.Again = true
			return r, nil
		case old.Digest == s.Digest:
			// A record of the earlier protocol (create, publish, update)
			// left at received by a crash: it is queued now.
			old.State, old.QueuedAt, old.Seqs = Queued, now, seqs
			for i := range old.Destinations {
				if old.Destinations[i].State == Received {
					old.Destinations[i].State, old.Destinations[i].Updated = Queued, now
				}
			}
			old.record(Event{Time: now, State: Queued})
			st, again = old, true
		case correctable(old):
			st.Corrects = old.Digest
			st.History = append(old.History, st.History...)
		default:
			// The message published above has no status of this digest:
			// the batcher passes it over.
			return Receipt{}, ErrDuplicate
		}
		b, _ = json.Marshal(st)
		if _, err := q.top.Status.Update(ctx, key, b, oldRev); err != nil {
			if isWrongSeq(err) {
				return Receipt{}, fmt.Errorf("%w: concurrent change of %s", ErrUnavailable, key)
			}
			return Receipt{}, q.writeErr(err)
		}
	} else if err != nil {
		return Receipt{}, q.writeErr(err)
	}
	if err := q.fail("intake.queued"); err != nil {
		return Receipt{}, err
	}
	q.metrics.SheetQueued()
	q.historyAsync(st, Event{Time: now, State: Queued})
	r := receiptOf(st)
	r.Again = again
	q.nudgeBatcher()
	return r, nil
}

// SheetMsgID is the Nats-Msg-Id of a sheet's copy for one insurer.
func SheetMsgID(key, digest, insurer string) string { return key + "." + digest + "." + insurer }

// Message headers the gateway sets on FSE_SHEETS.
const (
	HeaderKey     = "Fse-Key"
	HeaderDigest  = "Fse-Digest"
	HeaderLot     = "Fse-Lot"
	HeaderAttempt = "Fse-Attempt"
	HeaderInsurer = "Fse-Insurer"
)

func (q *Queue) writeErr(err error) error {
	switch {
	case errors.Is(err, ErrFailPoint):
		return err
	case isStorageFull(err):
		return fmt.Errorf("%w: %w", ErrStorageFull, err)
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// Status returns the state and history of one sheet.
func (q *Queue) Status(ctx context.Context, billing, number string) (*Status, error) {
	if !ValidToken(billing) || !ValidToken(number) {
		return nil, ErrNotFound
	}
	st, _, err := q.status.get(ctx, StatusKey(billing, number))
	if err != nil {
		return nil, err
	}
	return st, q.withLotStates(ctx, st)
}

// withLotStates shows on st the states of its lots (batched, delivered,
// ARL positive), which are recorded once per lot rather than on each
// sheet: a destination queued in a lot that was published, delivered or
// acknowledged takes that state, and the lot's events join its history,
// also once the sheet went further (accepted, paid, rejected): the history
// tells the whole way, lot-level steps included.
func (q *Queue) withLotStates(ctx context.Context, st *Status) error {
	lifted := false
	for i := range st.Destinations {
		d := &st.Destinations[i]
		var rec *LotRecord
		var err error
		switch {
		case d.Lot != "":
			rec, err = q.Lot(ctx, d.Lot)
			if errors.Is(err, ErrNotFound) {
				continue
			}
		case d.State == Queued:
			rec, err = q.findLot(ctx, d.LotKey, st.Key())
		default:
			continue
		}
		if err != nil {
			return err
		}
		if rec == nil {
			continue
		}
		var evs []Event
		for n, a := range rec.Attempts {
			if n == 0 && !a.Published.IsZero() {
				evs = append(evs, Event{Time: a.Published, Insurer: d.Insurer, State: Batched, Lot: rec.ID})
			}
			if !a.Delivered.IsZero() {
				evs = append(evs, Event{Time: a.Delivered, Insurer: d.Insurer, State: Delivered, Lot: rec.ID})
			}
		}
		if !rec.ARLAt.IsZero() {
			evs = append(evs, Event{Time: rec.ARLAt, Insurer: d.Insurer, State: ARLPositive, Lot: rec.ID})
		}
		for _, e := range evs {
			if hasEvent(st.History, e) {
				continue
			}
			if e.State.Rank() > d.State.Rank() {
				d.State, d.Updated, d.Lot = e.State, e.Time, rec.ID
			}
			st.History = append(st.History, e)
			lifted = true
		}
	}
	if lifted {
		sort.SliceStable(st.History, func(i, j int) bool { return st.History[i].Time.Before(st.History[j].Time) })
		st.overall()
	}
	return nil
}

// hasEvent reports whether h already holds the state e at its insurer and
// lot (at the same time for a delivery: each attempt is delivered).
func hasEvent(h []Event, e Event) bool {
	for _, x := range h {
		if x.State == e.State && x.Insurer == e.Insurer && x.Lot == e.Lot && (e.State != Delivered || x.Time.Equal(e.Time)) {
			return true
		}
	}
	return false
}
