package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
)

// ManifestEntry is one sheet of a lot manifest.
type ManifestEntry struct {
	Key       string `json:"key"` // <billing>.<number>
	Digest    string `json:"digest"`
	StreamSeq uint64 `json:"seq"` // FSE_SHEETS sequence of the signed bytes
	Size      int    `json:"size"`
}

// Manifest is the open lot of one lot key (FSE_BATCHES open.<lotkey>).
type Manifest struct {
	LotKey  string          `json:"lot_key"`
	Insurer string          `json:"insurer"`
	Seq     int             `json:"seq"`
	Opened  time.Time       `json:"opened,omitzero"`
	Sheets  []ManifestEntry `json:"sheets"`
	Bytes   int             `json:"bytes"`
	// Closing is set (by CAS) before the lot of this seq is frozen: from
	// then on no gateway appends to it, each one finishes the close first.
	// Without it, a second gateway could append between the freeze and
	// the reset, and that sheet would be in no lot.
	Closing bool `json:"closing,omitempty"`

	rev  uint64
	keys map[string]bool
	// signed holds the signed bytes of the sheets this process appended,
	// by FSE_SHEETS sequence, so that closing the lot does not read each
	// of them back; sheets appended elsewhere or before a restart are read
	// back from the stream.
	signed map[uint64][]byte
}

// Lot states of a LotRecord.
const (
	LotClosed      = "closed"       // manifest frozen, not yet published
	LotPublished   = "published"    // published (attempt N), waiting for delivery/ARL
	LotDelivered   = "delivered"    // taken by the insurer
	LotResend      = "resend"       // to be published again (attempt N) at NextSend
	LotARLPositive = "arl_positive" // waiting for returns
	LotDone        = "done"         // every sheet final
	LotDead        = "dead"         // out of retry budget, in FSE_DEAD
)

// Attempt is one send of a lot.
type Attempt struct {
	N         int       `json:"n"`
	Published time.Time `json:"published"`
	StreamSeq uint64    `json:"seq"` // FSE_LOTS sequence
	// Delivered is when the insurer took this attempt (its consumer's ack
	// floor passed it).
	Delivered time.Time `json:"delivered,omitzero"`
}

// LotRecord is a closed lot (FSE_BATCHES lot.<id>): its frozen manifest,
// its attempts and the acknowledgements applied.
type LotRecord struct {
	ID       string          `json:"id"`
	LotKey   string          `json:"lot_key"`
	Insurer  string          `json:"insurer"`
	Seq      int             `json:"seq"`
	Closed   time.Time       `json:"closed"`
	Sheets   []ManifestEntry `json:"sheets"`
	State    string          `json:"state"`
	Attempt  int             `json:"attempt"` // current attempt number
	Attempts []Attempt       `json:"attempts,omitempty"`
	NextSend time.Time       `json:"next_send,omitzero"`
	ARLAt    time.Time       `json:"arl_at,omitzero"`
	Applied  []string        `json:"applied,omitempty"` // ARLs that changed the lot
	Done     []string        `json:"done,omitempty"`    // sheet keys final at this insurer
	Reason   string          `json:"reason,omitempty"`

	rev    uint64
	signed map[uint64][]byte // see Manifest.signed
}

func (r *LotRecord) applied(id string) bool {
	return slices.Contains(r.Applied, id)
}

func (r *LotRecord) current() *Attempt {
	for i := range r.Attempts {
		if r.Attempts[i].N == r.Attempt {
			return &r.Attempts[i]
		}
	}
	return nil
}

// LotID names the lot seq of a lot key; it is also the prefix of its
// Nats-Msg-Id (LotMsgID).
func LotID(lotKey string, seq int) string {
	ins, _, _ := strings.Cut(lotKey, ".")
	return lot.NewID(ins, lotKey, uint64(seq))
}

// LotMsgID is the Nats-Msg-Id of one attempt of a lot.
func LotMsgID(lotID string, attempt int) string { return lotID + "." + strconv.Itoa(attempt) }

func openKey(lotKey string) string { return "open." + lotKey }
func lotKVKey(id string) string    { return "lot." + id }
func activeKey(id string) string   { return "active." + id }

// lots is the shared access to FSE_BATCHES.
type lotStore struct {
	kv jetstream.KeyValue
}

func (s lotStore) getLot(ctx context.Context, id string) (*LotRecord, error) {
	e, err := s.kv.Get(ctx, lotKVKey(id))
	if err != nil {
		return nil, err
	}
	var r LotRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("lot %s: %w", id, err)
	}
	r.rev = e.Revision()
	return &r, nil
}

func (s lotStore) putLot(ctx context.Context, r *LotRecord) error {
	b, _ := json.Marshal(r)
	rev, err := s.kv.Update(ctx, lotKVKey(r.ID), b, r.rev)
	if err != nil {
		return err
	}
	r.rev = rev
	return nil
}

// updateLot applies change to the lot record with CAS, retrying on a lost
// race; change returns errNoChange to leave it as is.
func (s lotStore) updateLot(ctx context.Context, id string, change func(*LotRecord) error) (*LotRecord, error) {
	for try := 0; ; try++ {
		r, err := s.getLot(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(r); err != nil {
			if errors.Is(err, errNoChange) {
				return r, nil
			}
			return nil, err
		}
		err = s.putLot(ctx, r)
		if err == nil {
			return r, nil
		}
		if !isWrongSeq(err) || try > 50 {
			return nil, fmt.Errorf("update lot %s: %w", id, err)
		}
		time.Sleep(time.Duration(try) * time.Millisecond) // a race, or a lagging replica read
	}
}

type batcher struct {
	q    *Queue
	lots lotStore
	cons jetstream.Consumer
	open map[string]*Manifest
	// scanned is when closeAged last read every open manifest.
	scanned time.Time
	// inLots holds the FSE_SHEETS sequences of the sheets already in a
	// lot or an open manifest when this batcher started. The consumer's
	// delivery and ack state is written to disk a little after the fact,
	// so after a kill -9 of the embedded server messages already appended
	// and acked come again as first deliveries (NumDelivered 1, the
	// sequence the status names): without this they went into a second
	// lot (TestKill9 found 5 sheets in two lots).
	inLots map[uint64]bool
}

func (q *Queue) newBatcher(ctx context.Context) (*batcher, error) {
	cons, err := q.js.Consumer(ctx, StreamSheets, ConsumerBatcher)
	if err != nil {
		return nil, fmt.Errorf("batcher: %w", err)
	}
	return &batcher{q: q, lots: lotStore{q.top.Batches}, cons: cons, open: map[string]*Manifest{}}, nil
}

// recover replays what a crash left half done: lots frozen but not
// published, open manifests whose lot was already frozen.
func (b *batcher) recover(ctx context.Context) error {
	keys, err := b.lots.kv.ListKeysFiltered(ctx, "open.>", "active.>")
	if err != nil {
		return fmt.Errorf("batcher: list: %w", err)
	}
	var opens, actives []string
	for k := range keys.Keys() {
		if after, ok := strings.CutPrefix(k, "open."); ok {
			opens = append(opens, after)
		} else if after, ok := strings.CutPrefix(k, "active."); ok {
			actives = append(actives, after)
		}
	}
	b.inLots = map[uint64]bool{}
	for _, id := range actives {
		r, err := b.lots.getLot(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for _, e := range r.Sheets {
			b.inLots[e.StreamSeq] = true
		}
		b.q.trackLot(id)
		if r.State == LotClosed {
			b.q.log.Info("replaying a lot frozen before a stop", "lot", id)
			if err := b.finishClose(ctx, r); err != nil {
				return err
			}
		}
	}
	for _, lk := range opens {
		m, err := b.loadOpen(ctx, lk)
		if err != nil {
			return err
		}
		for _, e := range m.Sheets {
			b.inLots[e.StreamSeq] = true
		}
		// Closing, or frozen but not reset (the lot of this seq exists):
		// finish the close.
		if _, err := b.lots.getLot(ctx, LotID(lk, m.Seq)); m.Closing || err == nil {
			if err := b.close(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *batcher) loadOpen(ctx context.Context, lotKey string) (*Manifest, error) {
	if m, ok := b.open[lotKey]; ok {
		return m, nil
	}
	m := &Manifest{LotKey: lotKey, Seq: 1}
	e, err := b.lots.kv.Get(ctx, openKey(lotKey))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		ins, _, _ := strings.Cut(lotKey, ".")
		m.Insurer = ins
		data, _ := json.Marshal(m)
		rev, err := b.lots.kv.Create(ctx, openKey(lotKey), data)
		if err != nil {
			return nil, fmt.Errorf("batcher: open manifest %s: %w", lotKey, err)
		}
		m.rev = rev
	case err != nil:
		return nil, fmt.Errorf("batcher: open manifest %s: %w", lotKey, err)
	default:
		if err := json.Unmarshal(e.Value(), m); err != nil {
			return nil, fmt.Errorf("batcher: open manifest %s: %w", lotKey, err)
		}
		m.rev = e.Revision()
	}
	m.keys = map[string]bool{}
	m.signed = map[uint64][]byte{}
	for _, s := range m.Sheets {
		m.keys[s.Key] = true
	}
	b.open[lotKey] = m
	return m, nil
}

func (b *batcher) saveOpen(ctx context.Context, m *Manifest) error {
	data, _ := json.Marshal(m)
	rev, err := b.lots.kv.Update(ctx, openKey(m.LotKey), data, m.rev)
	if err != nil {
		// Lost track (another gateway?): forget the cache, the message
		// will be redelivered and appended again against a fresh read.
		delete(b.open, m.LotKey)
		return fmt.Errorf("batcher: save manifest %s: %w", m.LotKey, err)
	}
	m.rev = rev
	return nil
}

func (b *batcher) resetOpen(ctx context.Context, m *Manifest) error {
	m.Seq++
	m.Sheets = nil
	m.Bytes = 0
	m.Opened = time.Time{}
	m.Closing = false
	m.keys = map[string]bool{}
	m.signed = map[uint64][]byte{}
	return b.saveOpen(ctx, m)
}

func (b *batcher) run(ctx context.Context) {
	log := b.q.log.With("part", "batcher")
	for ctx.Err() == nil {
		if err := b.recover(ctx); err != nil {
			log.Error("recovery failed, retrying", "err", err)
			sleepCtx(ctx, b.q.cfg.Tick)
			continue
		}
		break
	}
	for ctx.Err() == nil {
		n := 500
		yield := b.q.cfg.IntakeBusy != nil && b.q.cfg.IntakeBusy()
		if yield {
			n = b.q.cfg.YieldBatch
		}
		msgs, err := fetchReady(b.cons, n, b.q.cfg.Tick)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("fetch failed", "err", err)
				sleepCtx(ctx, b.q.cfg.Tick)
			}
			continue
		}
		if len(msgs) > 0 {
			if err := b.process(ctx, msgs); err != nil {
				log.Warn("batch not appended; will be redelivered", "err", err)
				// Lost a race with another gateway on a manifest (or NATS
				// failed): have the unacked messages again soon, not after
				// the AckWait. Acked ones ignore the nak.
				for _, msg := range msgs {
					_ = msg.NakWithDelay(b.q.cfg.Tick)
				}
				if errors.Is(err, ErrFailPoint) {
					// a simulated crash: drop the cache as a restart would.
					b.open = map[string]*Manifest{}
					sleepCtx(ctx, b.q.cfg.Tick)
					continue
				}
			}
		}
		if err := b.closeAged(ctx); err != nil {
			log.Warn("closing lots failed", "err", err)
			if errors.Is(err, ErrFailPoint) {
				b.open = map[string]*Manifest{}
				_ = b.recover(ctx)
			}
		}
		if yield {
			b.q.metrics.BatcherYield()
			sleepCtx(ctx, b.q.cfg.YieldPause)
		}
	}
}

// process appends a fetched batch to the manifests (design §5 step 3) and
// acks each message once its manifest is written.
func (b *batcher) process(ctx context.Context, msgs []jetstream.Msg) error {
	type pending struct {
		msg   jetstream.Msg
		entry ManifestEntry
	}
	byLot := map[string][]pending{}
	var order []string
	var skip []jetstream.Msg
	// The status records are read all at once (a round trip each, and the
	// batcher is one loop: read in sequence, they set its pace).
	type read struct {
		st  *Status
		err error
	}
	reads := make([]read, len(msgs))
	_ = b.q.forEachIndex(ctx, len(msgs), func(ctx context.Context, i int) error {
		reads[i].st, _, reads[i].err = b.q.status.get(ctx, msgs[i].Headers().Get(HeaderKey))
		return nil
	})
	for i, msg := range msgs {
		md, err := msg.Metadata()
		if err != nil {
			_ = msg.Term()
			continue
		}
		key := msg.Headers().Get(HeaderKey)
		digest := msg.Headers().Get(HeaderDigest)
		insurer := strings.TrimPrefix(msg.Subject(), SubjectSheets+".")
		if b.inLots[md.Sequence.Stream] {
			skip = append(skip, msg)
			continue
		}
		st, err := reads[i].st, reads[i].err
		// Intake publishes before it creates the status record: a message
		// with no status (or with another digest's) may be one whose
		// record is still to be written, so it waits. It waits as long as
		// the duplicate window: a sheet sent again within it (after a
		// failed intake) is not stored again, and its record then points
		// at this very message. Older, it is a crash's leftover, a refused
		// duplicate or a superseded version, and is passed over.
		young := b.q.now().Sub(md.Timestamp) < SheetsDedupWindow+2*b.q.cfg.PublishTimeout
		if errors.Is(err, ErrNotFound) {
			if young {
				_ = msg.NakWithDelay(b.q.cfg.Tick)
				continue
			}
			b.q.log.Warn("sheet message without status; passed over", "key", key)
			_ = msg.Term()
			continue
		}
		if err != nil {
			return err
		}
		di := st.destIndex(insurer)
		if st.Digest != digest || di < 0 {
			if young && st.Digest != digest && correctable(st) {
				_ = msg.NakWithDelay(b.q.cfg.Tick) // a correction being recorded
				continue
			}
			skip = append(skip, msg)
			continue
		}
		d := &st.Destinations[di]
		if d.Lot != "" || d.State.Rank() >= Batched.Rank() {
			skip = append(skip, msg) // in a lot already, and its status says so
			continue
		}
		m, err := b.appendable(ctx, d.LotKey)
		if err != nil {
			return err
		}
		if m.keys[key] {
			skip = append(skip, msg)
			continue
		}
		// A sheet's status does not name its lot until an acknowledgement
		// (being batched is a state of the lot), so a message delivered
		// again, or not the one intake recorded, may be of a sheet already
		// in a closed lot: look there (rare, so the cost does not matter).
		if md.NumDelivered > 1 || di >= len(st.Seqs) || st.Seqs[di] != md.Sequence.Stream {
			rec, err := b.q.findLot(ctx, d.LotKey, key)
			if err != nil {
				return err
			}
			if rec != nil {
				skip = append(skip, msg)
				continue
			}
		}
		if _, ok := byLot[d.LotKey]; !ok {
			order = append(order, d.LotKey)
		}
		byLot[d.LotKey] = append(byLot[d.LotKey], pending{msg, ManifestEntry{Key: key, Digest: digest, StreamSeq: md.Sequence.Stream, Size: len(msg.Data())}})
	}
	for _, m := range skip {
		_ = m.Ack()
	}
	now := b.q.now()
	for _, lk := range order {
		m := b.open[lk]
		lim := b.q.limits(m.Insurer)
		var toAck []jetstream.Msg
		for _, p := range byLot[lk] {
			if m.keys[p.entry.Key] {
				toAck = append(toAck, p.msg)
				continue
			}
			if len(m.Sheets) > 0 && lotSize(m.Bytes+p.entry.Size, len(m.Sheets)+1) > lim.MaxBytes {
				if err := b.saveAndAck(ctx, m, toAck); err != nil {
					return err
				}
				toAck = nil
				if err := b.close(ctx, m); err != nil {
					return err
				}
			}
			if len(m.Sheets) == 0 {
				m.Opened = now
			}
			m.Sheets = append(m.Sheets, p.entry)
			m.Bytes += p.entry.Size
			m.keys[p.entry.Key] = true
			m.signed[p.entry.StreamSeq] = p.msg.Data()
			toAck = append(toAck, p.msg)
			if len(m.Sheets) >= lim.MaxSheets {
				if err := b.saveAndAck(ctx, m, toAck); err != nil {
					return err
				}
				toAck = nil
				if err := b.close(ctx, m); err != nil {
					return err
				}
			}
		}
		if err := b.saveAndAck(ctx, m, toAck); err != nil {
			return err
		}
	}
	return nil
}

// appendable is the open manifest of a lot key, once any close in
// progress (by this gateway or another) is finished.
func (b *batcher) appendable(ctx context.Context, lotKey string) (*Manifest, error) {
	for {
		m, err := b.loadOpen(ctx, lotKey)
		if err != nil || !m.Closing {
			return m, err
		}
		if err := b.close(ctx, m); err != nil {
			return nil, err
		}
	}
}

// findLot returns the active (closed, not done) lot of lotKey holding
// sheet key, or nil. It lists the active lots and reads those of lotKey.
func (q *Queue) findLot(ctx context.Context, lotKey, key string) (*LotRecord, error) {
	lots := lotStore{q.top.Batches}
	keys, err := lots.kv.ListKeysFiltered(ctx, "active.>")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find lot of %s: %w", key, err)
	}
	prefix := "active." + strings.TrimSuffix(LotID(lotKey, 0), "000000")
	var found *LotRecord
	for k := range keys.Keys() {
		if found != nil || !strings.HasPrefix(k, prefix) {
			continue // drain the lister
		}
		rec, err := lots.getLot(ctx, strings.TrimPrefix(k, "active."))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find lot of %s: %w", key, err)
		}
		for _, e := range rec.Sheets {
			if e.Key == key {
				found = rec
				break
			}
		}
	}
	return found, nil
}

// lotSize estimates the encoded size of a lot of n sheets holding b
// signed bytes (envelope and per-sheet lines included).
func lotSize(b, n int) int { return b + n*160 + 512 }

func (b *batcher) saveAndAck(ctx context.Context, m *Manifest, msgs []jetstream.Msg) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := b.saveOpen(ctx, m); err != nil {
		return err
	}
	if err := b.q.fail("batcher.appended"); err != nil {
		return err
	}
	for _, msg := range msgs {
		_ = msg.Ack()
	}
	return nil
}

func (b *batcher) closeAged(ctx context.Context) error {
	now := b.q.now()
	if now.Sub(b.scanned) >= 5*b.q.cfg.Tick {
		// Manifests another gateway opened (and may no longer serve, if it
		// stopped) are closed here too: look at every open manifest, not
		// only the cached ones.
		b.scanned = now
		if err := b.scanOpen(ctx); err != nil {
			return err
		}
	}
	var errs []error
	for _, m := range b.open {
		if len(m.Sheets) == 0 && !m.Closing {
			continue
		}
		if lim := b.q.limits(m.Insurer); m.Closing || !now.Before(m.Opened.Add(lim.MaxAge)) {
			if err := b.close(ctx, m); err != nil {
				if errors.Is(err, ErrFailPoint) {
					return err
				}
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// scanOpen reads again every open manifest of the bucket, so that the
// cache holds the current version of each (another gateway may have
// appended to it, or opened it and stopped).
func (b *batcher) scanOpen(ctx context.Context) error {
	keys, err := b.lots.kv.ListKeysFiltered(ctx, "open.>")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return fmt.Errorf("batcher: list: %w", err)
	}
	for k := range keys.Keys() {
		lk := strings.TrimPrefix(k, "open.")
		old := b.open[lk]
		delete(b.open, lk)
		m, err := b.loadOpen(ctx, lk)
		if err != nil {
			return err
		}
		if old != nil && old.Seq == m.Seq {
			m.signed = old.signed // still the same lot: keep the bytes in hand
		}
	}
	return nil
}

// close freezes m into a lot record, opens the next manifest and publishes
// the lot.
func (b *batcher) close(ctx context.Context, m *Manifest) error {
	if !m.Closing {
		// Claim the manifest as it is: a gateway appending with an older
		// revision fails, one reading it afterwards finishes this close.
		m.Closing = true
		if err := b.saveOpen(ctx, m); err != nil {
			m.Closing = false
			return err
		}
	}
	id := LotID(m.LotKey, m.Seq)
	now := b.q.now()
	rec := &LotRecord{
		ID: id, LotKey: m.LotKey, Insurer: m.Insurer, Seq: m.Seq, Closed: now,
		Sheets: append([]ManifestEntry(nil), m.Sheets...), State: LotClosed, Attempt: 1,
		signed: m.signed,
	}
	data, _ := json.Marshal(rec)
	rev, err := b.lots.kv.Create(ctx, lotKVKey(id), data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		signed := rec.signed
		if rec, err = b.lots.getLot(ctx, id); err != nil {
			return err
		}
		rec.signed = signed
	} else if err != nil {
		return fmt.Errorf("batcher: freeze %s: %w", id, err)
	} else {
		rec.rev = rev
	}
	if _, err := b.lots.kv.Put(ctx, activeKey(id), []byte(m.LotKey)); err != nil {
		return fmt.Errorf("batcher: freeze %s: %w", id, err)
	}
	b.q.trackLot(id)
	if err := b.q.fail("batcher.frozen"); err != nil {
		return err
	}
	if err := b.resetOpen(ctx, m); err != nil {
		return err
	}
	if rec.State == LotClosed {
		return b.finishClose(ctx, rec)
	}
	return nil
}

// finishClose publishes a frozen lot and marks its sheets batched; it is
// what a replay after a crash runs again.
func (b *batcher) finishClose(ctx context.Context, rec *LotRecord) error {
	seq, err := b.q.publishLot(ctx, rec)
	if err != nil {
		return err
	}
	if err := b.q.fail("batcher.published"); err != nil {
		return err
	}
	now := b.q.now()
	if err := b.q.fail("batcher.batched"); err != nil {
		return err
	}
	_, err = b.lots.updateLot(ctx, rec.ID, func(r *LotRecord) error {
		// The insurer may have answered already (its ARL applied before
		// this update): the attempt is recorded all the same, only the
		// state stays where the ARL put it.
		if slices.ContainsFunc(r.Attempts, func(a Attempt) bool { return a.N == rec.Attempt }) {
			return errNoChange
		}
		if r.State == LotClosed {
			r.State = LotPublished
		}
		r.Attempts = append(r.Attempts, Attempt{N: rec.Attempt, Published: now, StreamSeq: seq})
		return nil
	})
	if err != nil {
		return err
	}
	// Batched, like delivered and the ARL, is a state of the lot, written
	// once here and not on each of its sheets (Queue.Status shows it).
	b.q.lotHistoryAsync(rec, Event{Time: now, State: Batched})
	b.q.metrics.LotPublished(rec.Insurer)
	b.q.auditLog(ctx, AuditEntry{Kind: "lot", Insurer: rec.Insurer, Lot: rec.ID, Attempt: rec.Attempt, Detail: fmt.Sprintf("%d sheets", len(rec.Sheets))})
	b.q.log.Info("lot published", "lot", rec.ID, "insurer", rec.Insurer, "sheets", len(rec.Sheets), "attempt", rec.Attempt)
	return nil
}

// publishLot reads the lot's sheets back from FSE_SHEETS and publishes the
// current attempt with its deterministic id.
func (q *Queue) publishLot(ctx context.Context, rec *LotRecord) (uint64, error) {
	lot := &Lot{ID: rec.ID, Seq: rec.Seq, Attempt: rec.Attempt, Insurer: rec.Insurer, LotKey: rec.LotKey, Closed: rec.Closed}
	lot.Sheets = make([]LotSheet, len(rec.Sheets))
	err := q.forEachIndex(ctx, len(rec.Sheets), func(ctx context.Context, i int) error {
		e := rec.Sheets[i]
		signed, ok := rec.signed[e.StreamSeq]
		if !ok {
			m, err := q.top.Sheets.GetMsg(ctx, e.StreamSeq)
			if err != nil {
				return fmt.Errorf("lot %s: sheet %s: %w", rec.ID, e.Key, err)
			}
			signed = m.Data
		}
		billing, number, _ := strings.Cut(e.Key, ".")
		lot.Sheets[i] = LotSheet{Billing: billing, Number: number, Digest: e.Digest, Signed: signed}
		return nil
	})
	if err != nil {
		return 0, err
	}
	data, err := q.cfg.Codec.EncodeLot(lot)
	if err != nil {
		return 0, fmt.Errorf("lot %s: encode: %w", rec.ID, err)
	}
	msg := &nats.Msg{Subject: LotSubject(rec.Insurer), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, LotMsgID(rec.ID, rec.Attempt))
	msg.Header.Set(HeaderLot, rec.ID)
	msg.Header.Set(HeaderAttempt, strconv.Itoa(rec.Attempt))
	ack, err := q.js.PublishMsg(ctx, msg)
	if err != nil {
		if isStorageFull(err) {
			q.lotsFull.Store(true)
		}
		return 0, fmt.Errorf("lot %s: publish: %w", rec.ID, err)
	}
	q.lotsFull.Store(false)
	return ack.Sequence, nil
}

// forEachSheet runs f on every sheet of a lot, a few at a time.
func (q *Queue) forEachSheet(ctx context.Context, rec *LotRecord, f func(context.Context, ManifestEntry) error) error {
	return q.forEachIndex(ctx, len(rec.Sheets), func(ctx context.Context, i int) error { return f(ctx, rec.Sheets[i]) })
}

func (q *Queue) forEachIndex(ctx context.Context, n int, f func(context.Context, int) error) error {
	const workers = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
