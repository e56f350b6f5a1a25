package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// State is where a sheet (for one destination) stands. States only move
// forward; see Rank.
type State string

const (
	Received       State = "received"
	Queued         State = "queued"
	Batched        State = "batched"
	Delivered      State = "delivered"
	ARLPositive    State = "arl_positive"
	Accepted       State = "accepted"
	Paid           State = "paid"
	Rejected       State = "rejected"
	DeliveryFailed State = "delivery_failed"
	ReturnsOverdue State = "returns_overdue"
)

// Rank orders states: a change to a state of lower or equal rank is not
// applied. Final states share the top rank except accepted, which a
// payment may still follow.
func (s State) Rank() int {
	switch s {
	case Received:
		return 0
	case Queued:
		return 1
	case Batched:
		return 2
	case Delivered:
		return 3
	case ARLPositive:
		return 4
	case Accepted:
		return 5
	case Paid, Rejected, DeliveryFailed, ReturnsOverdue:
		return 6
	}
	return -1
}

// Destination is one insurer a sheet goes to (its AMO, and its AMC when
// the AMC is paid through us).
type Destination struct {
	Insurer string `json:"insurer"`
	Kind    string `json:"kind,omitempty"` // AMO or AMC
	// ExpectPayment: the insurer pays us (tiers payant), so the sheet is
	// final only once paid; otherwise accepted is final.
	ExpectPayment bool `json:"expect_payment,omitempty"`
}

// DestStatus is the state of a sheet at one destination.
type DestStatus struct {
	Destination
	LotKey  string    `json:"lot_key"`
	CloseBy time.Time `json:"close_by"`
	State   State     `json:"state"`
	Lot     string    `json:"lot,omitempty"`
	Code    string    `json:"code,omitempty"`   // rejection code
	Amount  int64     `json:"amount,omitempty"` // cents paid, net of reversals
	// Participation and Franchises are what the insurer recorded as owed
	// by the patient for this sheet, after the yearly caps (cents; never
	// deducted from the payment).
	Participation int64 `json:"participation,omitempty"`
	Franchises    int64 `json:"franchises,omitempty"`
	// Transfer is the reference of the bank transfer that paid it.
	Transfer string    `json:"transfer,omitempty"`
	Updated  time.Time `json:"updated"`
}

// Final reports whether d reached its final state.
func (d DestStatus) Final() bool {
	switch d.State {
	case Paid, Rejected, DeliveryFailed, ReturnsOverdue:
		return true
	case Accepted:
		return !d.ExpectPayment
	}
	return false
}

// Event is one entry of a sheet's history.
type Event struct {
	Time    time.Time `json:"time"`
	Insurer string    `json:"insurer,omitempty"`
	State   State     `json:"state"`
	Lot     string    `json:"lot,omitempty"`
	Code    string    `json:"code,omitempty"`
	Amount  int64     `json:"amount,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	AckID   string    `json:"ack_id,omitempty"`
	// Transfer is the reference of the bank transfer of a payment or a
	// reversal.
	Transfer string `json:"transfer,omitempty"`
	// Accepted: participation and franchises recorded (cents).
	Participation int64 `json:"participation,omitempty"`
	Franchises    int64 `json:"franchises,omitempty"`
}

// Status is the FSE_STATUS record of one sheet.
type Status struct {
	Billing      string       `json:"billing"`
	Number       string       `json:"number"`
	Digest       string       `json:"digest"`
	Signer       string       `json:"signer,omitempty"`
	RulesVersion string       `json:"rules_version,omitempty"`
	State        State        `json:"state"`
	ReceivedAt   time.Time    `json:"received_at"`
	QueuedAt     time.Time    `json:"queued_at,omitzero"`
	Destinations []DestStatus `json:"destinations"`
	// Seq is the FSE_SHEETS sequence of each destination's message.
	Seqs []uint64 `json:"seqs,omitempty"`
	// Applied lists the acknowledgement ids already applied (idempotency).
	Applied []string `json:"applied,omitempty"`
	// Corrects is the digest of the rejected sheet this one corrects.
	Corrects string  `json:"corrects,omitempty"`
	History  []Event `json:"history,omitempty"`
	// SCOR is the state of the sheet's SCOR piece, for a sheet that needs
	// one (scor.go).
	SCOR *SCOR `json:"scor,omitempty"`
}

// Key is the FSE_STATUS key.
func (s *Status) Key() string { return StatusKey(s.Billing, s.Number) }

// Final reports whether every destination reached a final state.
func (s *Status) Final() bool {
	for _, d := range s.Destinations {
		if !d.Final() {
			return false
		}
	}
	return len(s.Destinations) > 0
}

// overall recomputes s.State: the least advanced destination, or the
// first destination's final state when all are final.
func (s *Status) overall() {
	if len(s.Destinations) == 0 {
		return
	}
	if s.State == Received && s.Destinations[0].State == Received {
		return
	}
	min := s.Destinations[0]
	for _, d := range s.Destinations[1:] {
		if !d.Final() && (min.Final() || d.State.Rank() < min.State.Rank()) {
			min = d
		}
	}
	s.State = min.State
}

func (s *Status) applied(id string) bool {
	for _, a := range s.Applied {
		if a == id {
			return true
		}
	}
	return false
}

// maxHistory bounds the history kept in the KV record; FSE_HISTORY keeps
// all of it.
const maxHistory = 32

func (s *Status) record(e Event) {
	if len(s.History) >= maxHistory {
		s.History = append(s.History[:0:0], s.History[len(s.History)-maxHistory+1:]...)
	}
	s.History = append(s.History, e)
}

// history is the event of this change to write to FSE_HISTORY: the one
// just recorded or, when the change was made before (a replay), the last
// one of the record's recent history that match accepts.
func (c change) history(match func(Event) bool) (Event, bool) {
	if c.changed {
		return c.ev, true
	}
	for i := len(c.st.History) - 1; i >= 0; i-- {
		if match(c.st.History[i]) {
			return c.st.History[i], true
		}
	}
	return Event{}, false
}

// errRetry makes updateStatus read again and retry (lost a CAS race).
var errNoChange = errors.New("no change")

type statusStore struct {
	kv jetstream.KeyValue
}

func (st statusStore) get(ctx context.Context, key string) (*Status, uint64, error) {
	e, err := st.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read status %s: %w", key, err)
	}
	var s Status
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return nil, 0, fmt.Errorf("read status %s: %w", key, err)
	}
	return &s, e.Revision(), nil
}

// update reads key, lets change modify it, and writes it back on the same
// revision, retrying on a lost race. change returns errNoChange to stop
// without writing.
func (st statusStore) update(ctx context.Context, key string, change func(*Status) error) (*Status, error) {
	for attempt := 0; ; attempt++ {
		s, rev, err := st.get(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := change(s); err != nil {
			if errors.Is(err, errNoChange) {
				return s, nil
			}
			return nil, err
		}
		b, _ := json.Marshal(s)
		_, err = st.kv.Update(ctx, key, b, rev)
		if err == nil {
			return s, nil
		}
		if isWrongSeq(err) && attempt < 50 {
			// Lost a race, or read a replica that lags (cluster): read
			// again a little later.
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			continue
		}
		return nil, fmt.Errorf("update status %s: %w", key, err)
	}
}

func isWrongSeq(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists)
}

func (s *Status) destIndex(insurer string) int {
	for i := range s.Destinations {
		if s.Destinations[i].Insurer == insurer {
			return i
		}
	}
	return -1
}

func (s *Status) dest(insurer string) *DestStatus {
	for i := range s.Destinations {
		if s.Destinations[i].Insurer == insurer {
			return &s.Destinations[i]
		}
	}
	return nil
}

// change is the outcome of changeDest.
type change struct {
	st        *Status
	ev        Event // as recorded, when changed
	changed   bool
	nowFinal  bool // the whole sheet became final with this change
	destFinal bool // the destination became final with this change
}

// changeDest moves one destination of a sheet forward (design §5 step 5):
// applied once per ackID, never backwards, the superseded version of a
// corrected sheet untouched. An event without State (a signalement) is
// recorded without changing the state.
func (q *Queue) changeDest(ctx context.Context, key, digest, insurer, ackID string, ev Event) (change, error) {
	var c change
	st, err := q.status.update(ctx, key, func(s *Status) error {
		c = change{}
		if digest != "" && s.Digest != digest {
			return errNoChange
		}
		d := s.dest(insurer)
		if d == nil || (ackID != "" && s.applied(ackID)) {
			return errNoChange
		}
		wasFinal, sheetWasFinal := d.Final(), s.Final()
		// A payment may follow accepted (final when nothing is paid through
		// us) and a late one returns_overdue: the money came.
		late := ev.State == Paid && d.State == ReturnsOverdue
		if ev.State != "" {
			if wasFinal && !(d.State == Accepted && ev.State == Paid) && !late {
				return errNoChange
			}
			if ev.State.Rank() <= d.State.Rank() && !late {
				return errNoChange
			}
			d.State = ev.State
			if ev.Lot != "" {
				d.Lot = ev.Lot
			}
			if ev.Code != "" {
				d.Code = ev.Code
			}
			if ev.Amount != 0 {
				d.Amount = ev.Amount
			}
			if ev.Transfer != "" {
				d.Transfer = ev.Transfer
			}
			if ev.Participation != 0 || ev.Franchises != 0 {
				d.Participation, d.Franchises = ev.Participation, ev.Franchises
			}
			d.Updated = ev.Time
		} else if ev.Amount != 0 && d.State == Paid {
			// A reversal: the net amount paid goes down; the state stays.
			d.Amount += ev.Amount
			d.Updated = ev.Time
		}
		if ackID != "" {
			s.Applied = append(s.Applied, ackID)
		}
		ev.Insurer = insurer
		ev.AckID = ackID
		s.record(ev)
		s.overall()
		c.changed = true
		c.destFinal = !wasFinal && d.Final()
		c.nowFinal = !sheetWasFinal && s.Final()
		return nil
	})
	if err != nil {
		return c, err
	}
	c.st = st
	if c.changed {
		// FSE_HISTORY is the caller's to write, after its failure point:
		// a replay then writes it again.
		ev.Insurer, ev.AckID = insurer, ackID
		c.ev = ev
		if c.nowFinal {
			q.metrics.SheetFinal(st.State, ev.Time.Sub(st.ReceivedAt))
		}
	}
	return c, nil
}
