package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
)

// MaxPayload is the embedded NATS server's maximum message size: a SCOR
// piece of lot.MaxPieceBytes travels whole in one message. On an external
// deployment the server's own limit applies (Queue.MaxPiece).
const MaxPayload = 8 << 20

// SCOR states of a sheet's piece (Status.SCOR.State).
const (
	SCORAwaiting     = "awaiting"     // the sheet needs its piece, not received yet
	SCORQueued       = "queued"       // received, waiting for its SCOR lot
	SCORBatched      = "batched"      // in a SCOR lot sent to the insurer
	SCORAcknowledged = "acknowledged" // the SCOR lot's ARL was positive
	SCORRefused      = "refused"      // the SCOR lot's ARL was negative: send the piece again
)

// SCOR is the state of a sheet's SCOR piece.
type SCOR struct {
	State   string    `json:"state"`
	Insurer string    `json:"insurer"`
	Kind    string    `json:"kind,omitempty"`   // pdf, jpeg
	Digest  string    `json:"digest,omitempty"` // SHA-256 of the piece, hex
	Size    int       `json:"size,omitempty"`
	Lot     string    `json:"lot,omitempty"`
	Reason  string    `json:"reason,omitempty"` // of a negative ARL
	Updated time.Time `json:"updated,omitzero"`
}

// MaxPiece is the largest piece this deployment can carry: lot.MaxPieceBytes,
// or less when the NATS server's maximum message size is smaller.
func (q *Queue) MaxPiece() int {
	m := int(q.cfg.Conn.MaxPayload()) - lot.SCORLotSize(0)
	return min(m, lot.MaxPieceBytes)
}

func scorSubject(insurer string) string { return SubjectSCOR + "." + insurer }

// SubmitSCOR queues the SCOR piece of a sheet that needs one (its state
// names the insurer), checked by the caller. The same piece again gives
// the current state; another piece is refused unless the previous one was
// refused by the insurer.
func (q *Queue) SubmitSCOR(ctx context.Context, billing, number, kind string, piece []byte) (*SCOR, error) {
	if len(piece) > q.MaxPiece() {
		return nil, ErrSCORTooLarge
	}
	key := StatusKey(billing, number)
	st, _, err := q.status.get(ctx, key)
	if err != nil {
		return nil, err
	}
	if st.SCOR == nil {
		return nil, ErrSCORNotNeeded
	}
	sum := sha256.Sum256(piece)
	digest := hex.EncodeToString(sum[:])
	switch st.SCOR.State {
	case SCORAwaiting, SCORRefused:
	default:
		if st.SCOR.Digest == digest {
			return st.SCOR, nil
		}
		return nil, ErrSCORTaken
	}
	msg := &nats.Msg{Subject: scorSubject(st.SCOR.Insurer), Data: piece, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "scor."+key+"."+digest[:16])
	msg.Header.Set("Fsegate-Sheet", key)
	msg.Header.Set("Fsegate-Kind", kind)
	if _, err := q.js.PublishMsg(ctx, msg); err != nil {
		return nil, q.writeErr(err)
	}
	now := q.now()
	st, err = q.status.update(ctx, key, func(s *Status) error {
		if s.SCOR == nil || (s.SCOR.State != SCORAwaiting && s.SCOR.State != SCORRefused) {
			return errNoChange
		}
		s.SCOR = &SCOR{State: SCORQueued, Insurer: s.SCOR.Insurer, Kind: kind, Digest: digest, Size: len(piece), Updated: now}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st.SCOR, nil
}

// scorOrphanAge is how long a published piece whose sheet's state does
// not name it yet is kept waiting for that state (a SubmitSCOR between its
// publication and its state update, or sent again after a crash there).
const scorOrphanAge = 10 * time.Minute

// scorLotRecord is the FSE_BATCHES record of a SCOR lot, scorlot.<id>;
// scorpending.<id> exists from its creation until the lot is published,
// so a start after a crash publishes it.
type scorLotRecord struct {
	ID      string      `json:"id"`
	Insurer string      `json:"insurer"`
	Created time.Time   `json:"created"`
	Pieces  []scorEntry `json:"pieces"`
	Acked   bool        `json:"acked,omitempty"`
}

type scorEntry struct {
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	Digest string `json:"digest"`
	Seq    uint64 `json:"seq"` // FSE_SCOR sequence of the piece
}

func scorLotKey(id string) string     { return "scorlot." + id }
func scorPendingKey(id string) string { return "scorpending." + id }

// runSCOR packs queued pieces into SCOR lots, one per insurer, each under
// the NATS maximum message size, until ctx ends.
func (q *Queue) runSCOR(ctx context.Context) {
	q.recoverSCOR(ctx)
	cons, err := q.js.Consumer(ctx, StreamSCOR, ConsumerSCOR)
	if err != nil {
		q.log.Error("SCOR batcher: no consumer", "err", err)
		return
	}
	unpublished := false
	for ctx.Err() == nil {
		if unpublished {
			// A lot recorded but not published (the publication failed):
			// its pieces now name it and are not packed again.
			q.recoverSCOR(ctx)
			unpublished = false
		}
		msgs, err := fetchReady(cons, lot.MaxPieces, q.cfg.Tick)
		if err != nil {
			if ctx.Err() == nil {
				q.log.Warn("SCOR batcher: fetch failed", "err", err)
				sleepCtx(ctx, q.cfg.Tick)
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		if err := q.packSCOR(ctx, msgs); err != nil && ctx.Err() == nil {
			unpublished = true
			q.log.Warn("SCOR lot not made; will retry", "err", err)
			for _, m := range msgs {
				_ = m.NakWithDelay(q.cfg.Tick)
			}
		}
	}
}

// packSCOR makes the lots of the fetched pieces: the lot record first
// (with the pieces' stream sequences), then the sheets' states, then the
// publication, then the acks. A piece whose sheet already names a lot is a
// replay: acked and skipped.
func (q *Queue) packSCOR(ctx context.Context, msgs []jetstream.Msg) error {
	limit := int(q.cfg.Conn.MaxPayload())
	type piece struct {
		msg   jetstream.Msg
		entry scorEntry
	}
	byInsurer := map[string][]piece{}
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		key := m.Headers().Get("Fsegate-Sheet")
		billing, number, _ := strings.Cut(key, ".")
		st, _, err := q.status.get(ctx, StatusKey(billing, number))
		if err != nil || st.SCOR == nil || st.SCOR.Lot != "" {
			_ = m.Ack() // a replay, or a piece of no known sheet
			continue
		}
		sum := sha256.Sum256(m.Data())
		if hex.EncodeToString(sum[:]) != st.SCOR.Digest {
			waiting := st.SCOR.State == SCORAwaiting || st.SCOR.State == SCORRefused
			if waiting && q.now().Sub(md.Timestamp) < scorOrphanAge {
				// Published, its sheet's state not written yet (SubmitSCOR
				// is between the two, or crashed there and the piece will
				// be sent again): later.
				_ = m.NakWithDelay(q.cfg.Tick)
				continue
			}
			_ = m.Ack() // superseded by a later piece of the sheet, or orphaned
			continue
		}
		ins := strings.TrimPrefix(m.Subject(), SubjectSCOR+".")
		byInsurer[ins] = append(byInsurer[ins], piece{m, scorEntry{Key: key, Kind: m.Headers().Get("Fsegate-Kind"), Digest: st.SCOR.Digest, Seq: md.Sequence.Stream}})
	}
	insurers := make([]string, 0, len(byInsurer))
	for ins := range byInsurer {
		insurers = append(insurers, ins)
	}
	sort.Strings(insurers)
	for _, ins := range insurers {
		ps := byInsurer[ins]
		for len(ps) > 0 {
			n, sizes := 0, []int{}
			for n < len(ps) && n < lot.MaxPieces {
				next := append(sizes, len(ps[n].msg.Data()))
				if n > 0 && lot.SCORLotSize(next...) > limit {
					break
				}
				sizes = next
				n++
			}
			rec := &scorLotRecord{Insurer: ins, Created: q.now().UTC()}
			h := sha256.New()
			for _, p := range ps[:n] {
				rec.Pieces = append(rec.Pieces, p.entry)
				h.Write([]byte(p.entry.Key + p.entry.Digest))
			}
			rec.ID = lot.SCORPrefix + ins + "-" + hex.EncodeToString(h.Sum(nil)[:8])
			if err := q.makeSCORLot(ctx, rec); err != nil {
				return err
			}
			for _, p := range ps[:n] {
				_ = p.msg.Ack()
			}
			ps = ps[n:]
		}
	}
	return nil
}

func (q *Queue) makeSCORLot(ctx context.Context, rec *scorLotRecord) error {
	kv := q.top.Batches
	b, _ := json.Marshal(rec)
	if _, err := kv.Create(ctx, scorLotKey(rec.ID), b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("SCOR lot %s: %w", rec.ID, err)
	}
	if _, err := kv.Put(ctx, scorPendingKey(rec.ID), []byte(rec.ID)); err != nil {
		return fmt.Errorf("SCOR lot %s: %w", rec.ID, err)
	}
	now := q.now()
	for _, e := range rec.Pieces {
		_, err := q.status.update(ctx, e.Key, func(s *Status) error {
			if s.SCOR == nil || s.SCOR.Lot != "" {
				return errNoChange
			}
			s.SCOR.State, s.SCOR.Lot, s.SCOR.Updated = SCORBatched, rec.ID, now
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := q.fail(StepSCORPublish); err != nil {
		return err
	}
	return q.publishSCOR(ctx, rec)
}

// StepSCORPublish is the fail point between a SCOR lot's record (and its
// sheets' states) and its publication.
const StepSCORPublish = "scor.publish"

// publishSCOR sends a SCOR lot to its insurer (Nats-Msg-Id = the lot id:
// a publication repeated after a crash is swallowed) and clears its
// pending mark.
func (q *Queue) publishSCOR(ctx context.Context, rec *scorLotRecord) error {
	l := &lot.SCORLot{ID: rec.ID, Insurer: rec.Insurer, Created: rec.Created}
	for _, e := range rec.Pieces {
		// Only the pieces whose sheet names this lot: a crash between
		// the record and the sheets' states may have left a piece to
		// another lot.
		st, _, err := q.status.get(ctx, e.Key)
		if err != nil {
			return fmt.Errorf("SCOR lot %s: %w", rec.ID, err)
		}
		if st.SCOR == nil || st.SCOR.Lot != rec.ID {
			continue
		}
		m, err := q.top.SCOR.GetMsg(ctx, e.Seq)
		if err != nil {
			return fmt.Errorf("SCOR lot %s: piece of %s: %w", rec.ID, e.Key, err)
		}
		billing, number, _ := strings.Cut(e.Key, ".")
		l.Pieces = append(l.Pieces, lot.Piece{Billing: billing, Number: number, Kind: e.Kind, Digest: sha256.Sum256(m.Data), Data: m.Data})
	}
	if len(l.Pieces) == 0 {
		return q.top.Batches.Delete(ctx, scorPendingKey(rec.ID))
	}
	data, err := l.Encode()
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: LotSubject(rec.Insurer), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, rec.ID)
	if _, err := q.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("SCOR lot %s: %w", rec.ID, q.writeErr(err))
	}
	q.log.Info("SCOR lot published", "lot", rec.ID, "insurer", rec.Insurer, "pieces", len(rec.Pieces))
	q.auditLog(ctx, AuditEntry{Kind: "scor_lot", Insurer: rec.Insurer, Lot: rec.ID, Attempt: 1, Detail: fmt.Sprintf("%d pieces", len(rec.Pieces))})
	return q.top.Batches.Delete(ctx, scorPendingKey(rec.ID))
}

// recoverSCOR publishes the SCOR lots a crash left unpublished.
func (q *Queue) recoverSCOR(ctx context.Context) {
	lister, err := q.top.Batches.ListKeysFiltered(ctx, scorPendingKey(">"))
	if err != nil {
		return
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, strings.TrimPrefix(k, "scorpending."))
	}
	for _, id := range ids {
		rec, err := q.scorLot(ctx, id)
		if err == nil {
			err = q.publishSCOR(ctx, rec)
		}
		if err != nil {
			q.log.Warn("SCOR lot not recovered", "lot", id, "err", err)
		}
	}
}

func (q *Queue) scorLot(ctx context.Context, id string) (*scorLotRecord, error) {
	e, err := q.top.Batches.Get(ctx, scorLotKey(id))
	if err != nil {
		return nil, err
	}
	var rec scorLotRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// applySCORARL applies the ARL of a SCOR lot: each piece acknowledged (or
// refused, to be sent again), with a notice per sheet.
func (q *Queue) applySCORARL(ctx context.Context, insurer string, a Ack) error {
	rec, err := q.scorLot(ctx, a.Lot)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: SCOR lot %s unknown", ErrRefused, a.Lot)
	}
	if err != nil {
		return err
	}
	if rec.Insurer != insurer {
		return fmt.Errorf("%w: SCOR lot %s was not sent to %s", ErrRefused, a.Lot, insurer)
	}
	if a.Level != LevelARL {
		return fmt.Errorf("%w: a SCOR lot has an ARL only", ErrRefused)
	}
	now := q.now()
	event, state := "scor_acknowledged", SCORAcknowledged
	if !a.Positive {
		event, state = "scor_refused", SCORRefused
	}
	for _, e := range rec.Pieces {
		applied := false
		st, err := q.status.update(ctx, e.Key, func(s *Status) error {
			if s.SCOR == nil || s.SCOR.Lot != rec.ID || s.SCOR.Digest != e.Digest {
				return errNoChange
			}
			if s.SCOR.State == SCORAcknowledged || s.SCOR.State == SCORRefused {
				applied = true
				return nil // already applied: notify again (same notice id)
			}
			s.SCOR.State, s.SCOR.Updated = state, now
			if !a.Positive {
				s.SCOR.Reason, s.SCOR.Lot = a.Reason, ""
			}
			applied = true
			return nil
		})
		if err != nil {
			return err
		}
		if !applied {
			continue
		}
		n := Notice{ID: "scor." + rec.ID + "." + e.Key + "." + event, Time: now, Billing: st.Billing, Number: st.Number,
			Insurer: insurer, Lot: rec.ID, Event: event, Detail: a.Reason}
		if err := q.notify(ctx, n); err != nil {
			return err
		}
	}
	q.auditLog(ctx, AuditEntry{Kind: "ack", Insurer: insurer, Lot: rec.ID, Attempt: 1, AckID: a.ID, Detail: event})
	return nil
}
