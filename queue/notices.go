package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NoticeCursor is the last notice sequence a billing number confirmed.
func (q *Queue) NoticeCursor(ctx context.Context, billing string) (uint64, error) {
	e, err := q.top.Cursors.Get(ctx, billing)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("notice cursor %s: %w", billing, err)
	}
	return strconv.ParseUint(string(e.Value()), 10, 64)
}

// ConfirmNotices moves a billing number's cursor forward to seq (never
// back): the notices up to seq are not delivered again.
func (q *Queue) ConfirmNotices(ctx context.Context, billing string, seq uint64) (uint64, error) {
	if !ValidToken(billing) {
		return 0, ErrInvalid
	}
	for try := 0; try < 20; try++ {
		e, err := q.top.Cursors.Get(ctx, billing)
		var cur, rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, err
		default:
			cur, _ = strconv.ParseUint(string(e.Value()), 10, 64)
			rev = e.Revision()
		}
		if seq <= cur {
			return cur, nil
		}
		v := []byte(strconv.FormatUint(seq, 10))
		if rev == 0 {
			_, err = q.top.Cursors.Create(ctx, billing, v)
		} else {
			_, err = q.top.Cursors.Update(ctx, billing, v, rev)
		}
		if err == nil {
			return seq, nil
		}
		if !isWrongSeq(err) {
			return 0, fmt.Errorf("confirm notices %s: %w", billing, err)
		}
	}
	return 0, errors.New("confirm notices: too many concurrent confirmations")
}

// Notices returns up to max notices of billing after its confirmed cursor,
// waiting up to wait for the first one when there is none.
func (q *Queue) Notices(ctx context.Context, billing string, max int, wait time.Duration) ([]Notice, error) {
	if !ValidToken(billing) {
		return nil, ErrInvalid
	}
	var sub interface{ Unsubscribe() error }
	var ch chan struct{}
	if wait > 0 {
		ch = make(chan struct{}, 1)
		s, err := q.cfg.Conn.Subscribe(NoticeSubject(billing), func(*nats.Msg) {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
		if err == nil {
			sub = s
			defer sub.Unsubscribe()
		}
	}
	deadline := time.Now().Add(wait)
	for {
		out, err := q.readNotices(ctx, billing, max)
		if err != nil || len(out) > 0 || wait <= 0 {
			return out, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return out, nil
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
}

func (q *Queue) readNotices(ctx context.Context, billing string, max int) ([]Notice, error) {
	cur, err := q.NoticeCursor(ctx, billing)
	if err != nil {
		return nil, err
	}
	msgs, err := q.directBatch(ctx, StreamNotices, NoticeSubject(billing), cur+1, max)
	if err != nil {
		return nil, fmt.Errorf("notices %s: %w", billing, err)
	}
	out := make([]Notice, 0, len(msgs))
	for _, m := range msgs {
		var n Notice
		if err := json.Unmarshal(m.data, &n); err != nil {
			return nil, fmt.Errorf("notice %d: %w", m.seq, err)
		}
		n.Seq = m.seq
		out = append(out, n)
	}
	return out, nil
}

type storedMsg struct {
	seq  uint64
	data []byte
}

// directBatch reads up to max messages of subject from seq on in one
// request (JetStream's batched direct get, nats-server ≥ 2.11): one round
// trip instead of one per message, which made reading notices the slowest
// step of the whole path under load.
func (q *Queue) directBatch(ctx context.Context, stream, subject string, seq uint64, max int) ([]storedMsg, error) {
	if max <= 0 {
		return nil, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.cfg.PublishTimeout)
		defer cancel()
	}
	nc := q.cfg.Conn
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	req, _ := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj"`
		Batch   int    `json:"batch"`
	}{seq, subject, max})
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, req); err != nil {
		return nil, err
	}
	var out []storedMsg
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, err
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204", "404": // end of batch, or nothing from seq on
			return out, nil
		default:
			return nil, fmt.Errorf("direct get: %s %s", status, m.Header.Get("Description"))
		}
		n, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("direct get: sequence %q", m.Header.Get(jetstream.SequenceHeader))
		}
		out = append(out, storedMsg{seq: n, data: m.Data})
		if len(out) >= max {
			// the end-of-batch marker follows; not needed
			return out, nil
		}
	}
}
