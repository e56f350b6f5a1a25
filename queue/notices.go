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
	var out []Notice
	subj := NoticeSubject(billing)
	next := cur + 1
	for len(out) < max {
		m, err := q.top.Notices.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("notices %s: %w", billing, err)
		}
		var n Notice
		if err := json.Unmarshal(m.Data, &n); err != nil {
			return nil, fmt.Errorf("notice %d: %w", m.Sequence, err)
		}
		n.Seq = m.Sequence
		out = append(out, n)
		next = m.Sequence + 1
	}
	return out, nil
}
