package campaign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/chaos"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/queue"
)

type natsUser = server.NkeyUser

// connect opens the queue on the cluster as the gateway's NATS user.
func (c *campaign) connect(ctx context.Context) (*nats.Conn, *queue.Queue, error) {
	auth, err := insurers.NATSAuth(c.cfg.GatewaySeed)
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(c.natsURLs, auth, nats.Name("fsegate-chaos"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	for _, in := range c.cfg.Insurers.Insurers {
		ids = append(ids, in.ID)
	}
	q, err := queue.Open(ctx, queue.Config{Conn: nc, Topology: queue.TopologyConfig{Replicas: 3, MaxBytes: c.maxStore, Insurers: ids}})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, q, nil
}

// sampleAudit reads the audit chain's last entry every few seconds: the
// checker holds each sample against the final chain (never rewritten).
func (c *campaign) sampleAudit(ctx context.Context) {
	var nc *nats.Conn
	var q *queue.Queue
	defer func() {
		if nc != nil {
			nc.Close()
		}
	}()
	for sleepCtx(ctx, 5*time.Second) {
		if q == nil {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var err error
			nc, q, err = c.connect(cctx)
			cancel()
			if err != nil {
				continue
			}
		}
		op := chaos.Op{T: time.Now(), Kind: chaos.OpAudit}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		m, err := q.Topology().Audit.GetLastMsgForSubject(cctx, queue.SubjectAudit)
		cancel()
		op.End = time.Now()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			op.Result, op.Detail = chaos.Failed, err.Error()
		} else {
			var e queue.AuditEntry
			if json.Unmarshal(m.Data, &e) == nil {
				op.Seq, op.Detail = m.Sequence, e.Hash
			}
		}
		c.rec.Add(op)
	}
}

// collect reads the snapshot the checker needs, once the cluster answers
// (it may still be electing leaders after the last heal) and every lot has
// ended, until settle. The clients see a sheet final as soon as its state
// is stored; its lot's record learns it in a later step, which after a
// node's kill -9 comes with the acknowledgement's redelivery, seconds
// later (a CI run read the cluster in between and reported two sheets
// lost whose lot was about to end). A lot that never ends is still
// reported by the checker.
func (c *campaign) collect(ctx context.Context, settle time.Time) (*chaos.Snapshot, error) {
	var snap *chaos.Snapshot
	var err error
	for try := 0; try < 5; try++ {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		snap, err = c.collectOnce(cctx)
		cancel()
		if err == nil {
			if n := openLots(snap); n > 0 && time.Now().Before(settle) {
				c.logf("snapshot: %d lots not ended yet; again", n)
				try--
				sleepCtx(ctx, 2*time.Second)
				continue
			}
			break
		}
		c.logf("snapshot: %v; again", err)
		sleepCtx(ctx, 5*time.Second)
	}
	if err != nil {
		return nil, err
	}
	snap.AuditVerify = c.auditVerify(ctx)
	return snap, nil
}

func (c *campaign) collectOnce(ctx context.Context) (*chaos.Snapshot, error) {
	nc, q, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	top := q.Topology()
	snap := &chaos.Snapshot{Sheets: map[string]*chaos.Sheet{}, Cursors: map[string]uint64{}}
	// Status records.
	keys, err := top.Status.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("status keys: %w", err)
	}
	for k := range keys.Keys() {
		billing, number, ok := strings.Cut(k, ".")
		if !ok {
			continue
		}
		st, err := q.Status(ctx, billing, number)
		if err != nil {
			return nil, fmt.Errorf("status %s: %w", k, err)
		}
		s := &chaos.Sheet{Key: k, Digest: st.Digest, Corrects: st.Corrects, State: string(st.State)}
		for _, d := range st.Destinations {
			s.Dests = append(s.Dests, chaos.Dest{Insurer: d.Insurer, State: string(d.State), ExpectPayment: d.ExpectPayment, Lot: d.Lot, Code: d.Code, Amount: d.Amount})
		}
		for _, e := range st.History {
			s.History = append(s.History, chaos.Event{State: string(e.State), Insurer: e.Insurer, Lot: e.Lot, Code: e.Code, Amount: e.Amount})
		}
		snap.Sheets[k] = s
	}
	// Lots.
	lkeys, err := top.Batches.ListKeysFiltered(ctx, "lot.>")
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, fmt.Errorf("lot keys: %w", err)
	}
	if lkeys != nil {
		for k := range lkeys.Keys() {
			rec, err := q.Lot(ctx, strings.TrimPrefix(k, "lot."))
			if err != nil {
				return nil, err
			}
			l := chaos.Lot{ID: rec.ID, Insurer: rec.Insurer, State: rec.State, Attempt: rec.Attempt, Attempts: len(rec.Attempts)}
			for _, s := range rec.Sheets {
				l.Sheets = append(l.Sheets, chaos.LotSheet{Key: s.Key, Digest: s.Digest})
			}
			snap.Lots = append(snap.Lots, l)
		}
	}
	// Cursors.
	ckeys, err := top.Cursors.ListKeys(ctx)
	if err == nil {
		for k := range ckeys.Keys() {
			e, err := top.Cursors.Get(ctx, k)
			if err != nil {
				return nil, err
			}
			n, _ := strconv.ParseUint(string(e.Value()), 10, 64)
			snap.Cursors[k] = n
		}
	}
	// Notices and the audit chain, every message.
	if err := readAll(ctx, top.Notices, func(m jetstream.Msg, seq uint64) error {
		var n queue.Notice
		if err := json.Unmarshal(m.Data(), &n); err != nil {
			return fmt.Errorf("notice %d: %w", seq, err)
		}
		snap.Notices = append(snap.Notices, chaos.Notice{Seq: seq, ID: n.ID, Billing: n.Billing, Number: n.Number, Insurer: n.Insurer, Lot: n.Lot, Event: n.Event, Code: n.Code, Amount: n.Amount})
		return nil
	}); err != nil {
		return nil, err
	}
	if err := readAll(ctx, top.Audit, func(m jetstream.Msg, seq uint64) error {
		var e queue.AuditEntry
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			snap.Audit = append(snap.Audit, chaos.AuditEntry{Seq: seq})
			return nil
		}
		snap.Audit = append(snap.Audit, chaos.AuditEntry{Seq: seq, Prev: e.Prev, Hash: e.Hash, Kind: e.Kind, Lot: e.Lot, Attempt: e.Attempt, Valid: auditHash(e) == e.Hash})
		return nil
	}); err != nil {
		return nil, err
	}
	return snap, nil
}

// auditHash is an entry's hash as the queue computes it: SHA-256 of its
// JSON with the hash left empty.
func auditHash(e queue.AuditEntry) string {
	e.Hash = ""
	b, _ := json.Marshal(e)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// readAll reads a stream from its first message to its last.
func readAll(ctx context.Context, s jetstream.Stream, f func(jetstream.Msg, uint64) error) error {
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	for {
		msgs, err := cons.Fetch(1000, jetstream.FetchMaxWait(3*time.Second))
		if err != nil {
			return err
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			if err := f(m, md.Sequence.Stream); err != nil {
				return err
			}
			if md.Sequence.Stream >= last {
				return nil
			}
		}
		if msgs.Error() != nil {
			return msgs.Error()
		}
		if n == 0 {
			return fmt.Errorf("%s ended before sequence %d", info.Config.Name, last)
		}
	}
}

// auditVerify runs 'gateway audit verify' against the first gateway that
// answers.
func (c *campaign) auditVerify(ctx context.Context) chaos.AuditVerify {
	var out []byte
	for j := 1; j <= c.cfg.Gateways; j++ {
		cmd := exec.CommandContext(ctx, c.bin(c.cfg.Gateway), "audit", "verify", "--admin", gwAdmin(j), "--token-file", filepath.Join(c.gwData(j), "operator.token"))
		var err error
		out, err = cmd.CombinedOutput()
		if err == nil {
			return chaos.AuditVerify{OK: true, Output: fmt.Sprintf("g%d: %s", j, out)}
		}
	}
	return chaos.AuditVerify{Output: string(out)}
}

// openLots counts the lots of snap that have not ended (done, or dead).
func openLots(snap *chaos.Snapshot) int {
	n := 0
	for _, l := range snap.Lots {
		if l.State != queue.LotDone && l.State != queue.LotDead {
			n++
		}
	}
	return n
}
