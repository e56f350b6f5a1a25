package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HistoryEntry is one message of FSE_HISTORY.
type HistoryEntry struct {
	Billing string `json:"billing"`
	Number  string `json:"number"`
	Event
}

// historyMsg is the FSE_HISTORY message of a state change; its id makes a
// replay harmless.
func historyMsg(st *Status, e Event) *nats.Msg {
	b, _ := json.Marshal(HistoryEntry{Billing: st.Billing, Number: st.Number, Event: e})
	msg := &nats.Msg{Subject: HistorySubject(st.Billing, st.Number), Data: b, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, st.Key()+"."+st.Digest+"."+e.Insurer+"."+string(e.State)+"."+e.AckID+"."+e.Lot)
	return msg
}

// historyAsync records a state change in FSE_HISTORY without waiting (the
// intake's queued: the KV record holds it too).
func (q *Queue) historyAsync(st *Status, e Event) {
	if _, err := q.historyFuture(st, e); err != nil {
		q.log.Warn("history not recorded", "key", st.Key(), "state", e.State, "err", err)
	}
}

// historyFuture publishes a state change in FSE_HISTORY; the caller waits
// for the future before it acknowledges what caused the change, so a
// crash in between replays it.
func (q *Queue) historyFuture(st *Status, e Event) (jetstream.PubAckFuture, error) {
	f, err := q.js.PublishMsgAsync(historyMsg(st, e))
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", st.Key(), err)
	}
	return f, nil
}

// lotHistoryAsync records a lot-level event (delivered, ARL positive) once
// for the whole lot in FSE_HISTORY.
func (q *Queue) lotHistoryAsync(rec *LotRecord, e Event) {
	e.Insurer, e.Lot = rec.Insurer, rec.ID
	b, _ := json.Marshal(HistoryEntry{Event: e})
	msg := &nats.Msg{Subject: LotHistorySubject(rec.ID), Data: b, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "lot."+rec.ID+"."+strconv.Itoa(rec.Attempt)+"."+string(e.State))
	if _, err := q.js.PublishMsgAsync(msg); err != nil {
		q.log.Warn("lot history not recorded", "lot", rec.ID, "state", e.State, "err", err)
	}
}

// Notice is one message of FSE_NOTICES: an acknowledgement or an event a
// practice must read and confirm.
type Notice struct {
	Seq     uint64    `json:"seq"` // FSE_NOTICES sequence: the cursor to confirm
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Billing string    `json:"billing"`
	Number  string    `json:"number,omitempty"` // empty for a lot-level notice
	Insurer string    `json:"insurer"`
	Lot     string    `json:"lot,omitempty"`
	Event   string    `json:"event"` // arl_positive, arl_negative, accepted, rejected, paid, reversed, transfer, signalement, delivery_failed, returns_overdue, scor_acknowledged, scor_refused
	Code    string    `json:"code,omitempty"`
	Amount  int64     `json:"amount,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// Transfer is the bank reference of a payment, a reversal or a
	// transfer notice (then Amount is the transfer's total).
	Transfer string `json:"transfer,omitempty"`
	// Accepted: participation forfaitaire and franchises the insurer
	// recorded as owed by the patient (cents, never deducted).
	Participation int64 `json:"participation,omitempty"`
	Franchises    int64 `json:"franchises,omitempty"`
}

// noticeMsg is the FSE_NOTICES message of n; its id makes a replay harmless.
func noticeMsg(n Notice) *nats.Msg {
	b, _ := json.Marshal(n)
	msg := &nats.Msg{Subject: NoticeSubject(n.Billing), Data: b, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, n.ID)
	return msg
}

func (q *Queue) notify(ctx context.Context, n Notice) error {
	if _, err := q.js.PublishMsg(ctx, noticeMsg(n)); err != nil {
		return fmt.Errorf("notice %s: %w", n.ID, err)
	}
	return nil
}

// notifyAsync publishes a notice without waiting for its PubAck; the
// caller waits for the future before it acknowledges what caused it.
func (q *Queue) notifyAsync(n Notice) (jetstream.PubAckFuture, error) {
	f, err := q.js.PublishMsgAsync(noticeMsg(n))
	if err != nil {
		return nil, fmt.Errorf("notice %s: %w", n.ID, err)
	}
	return f, nil
}

// AuditEntry is one link of the FSE_AUDIT chain.
type AuditEntry struct {
	Prev    string    `json:"prev"` // hash of the previous entry, "" for the first
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // lot, ack, refused, dead, resubmit
	Insurer string    `json:"insurer,omitempty"`
	Lot     string    `json:"lot,omitempty"`
	Attempt int       `json:"attempt,omitempty"`
	AckID   string    `json:"ack_id,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	Hash    string    `json:"hash"`
}

func (e *AuditEntry) computeHash() string {
	c := *e
	c.Hash = ""
	b, _ := json.Marshal(c)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

type auditChain struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	mu      sync.Mutex
	loaded  bool
	lastSeq uint64
	last    string
}

func (a *auditChain) load(ctx context.Context) error {
	m, err := a.stream.GetLastMsgForSubject(ctx, SubjectAudit)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		a.lastSeq, a.last, a.loaded = 0, "", true
		return nil
	}
	if err != nil {
		return err
	}
	var e AuditEntry
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return fmt.Errorf("audit entry %d: %w", m.Sequence, err)
	}
	a.lastSeq, a.last, a.loaded = m.Sequence, e.Hash, true
	return nil
}

// append adds e to the chain; the expected-last-sequence makes two writers
// (two gateways) retry rather than fork the chain.
func (a *auditChain) append(ctx context.Context, e AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for try := 0; try < 20; try++ {
		if !a.loaded {
			if err := a.load(ctx); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
		}
		e.Prev = a.last
		e.Hash = e.computeHash()
		b, _ := json.Marshal(e)
		ack, err := a.js.Publish(ctx, SubjectAudit, b, jetstream.WithExpectLastSequence(a.lastSeq))
		if err == nil {
			a.lastSeq, a.last = ack.Sequence, e.Hash
			return nil
		}
		if isWrongSeq(err) {
			a.loaded = false
			continue
		}
		return fmt.Errorf("audit: %w", err)
	}
	return errors.New("audit: too many concurrent writers")
}

func (q *Queue) auditLog(ctx context.Context, e AuditEntry) {
	e.Time = q.now().UTC()
	if err := q.audit.append(ctx, e); err != nil {
		q.log.Error("audit entry not written", "kind", e.Kind, "lot", e.Lot, "err", err)
	}
}

// AuditReport is the result of VerifyAudit.
type AuditReport struct {
	Entries  int    `json:"entries"`
	LastHash string `json:"last_hash"`
	// Broken is the stream sequence of the first entry whose chain does
	// not hold (0 when the whole chain holds).
	Broken uint64 `json:"broken,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// VerifyAudit reads FSE_AUDIT from the start and checks every link.
func VerifyAudit(ctx context.Context, js jetstream.JetStream) (AuditReport, error) {
	var rep AuditReport
	s, err := js.Stream(ctx, StreamAudit)
	if err != nil {
		return rep, fmt.Errorf("audit verify: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return rep, fmt.Errorf("audit verify: %w", err)
	}
	if info.State.Msgs == 0 {
		return rep, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return rep, fmt.Errorf("audit verify: %w", err)
	}
	prev := ""
	want := info.State.LastSeq
	for {
		msgs, err := c.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return rep, fmt.Errorf("audit verify: %w", err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			md, _ := m.Metadata()
			var e AuditEntry
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				rep.Broken, rep.Reason = md.Sequence.Stream, "not an audit entry"
				return rep, nil
			}
			switch {
			case e.Prev != prev:
				rep.Broken, rep.Reason = md.Sequence.Stream, "previous hash does not match"
				return rep, nil
			case e.computeHash() != e.Hash:
				rep.Broken, rep.Reason = md.Sequence.Stream, "entry hash does not match its content"
				return rep, nil
			}
			prev = e.Hash
			rep.Entries++
			rep.LastHash = e.Hash
			if md.Sequence.Stream >= want {
				return rep, nil
			}
		}
		if msgs.Error() != nil {
			return rep, fmt.Errorf("audit verify: %w", msgs.Error())
		}
		if n == 0 {
			return rep, fmt.Errorf("audit verify: stream ended before sequence %d", want)
		}
	}
}
