package workstation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Batch signs many sheets with one PIN entry, keeps each in the outbox and
// hands it to the sender, which sends it while the next ones are signed.
type Batch struct {
	// Flow keeps the signed sheets (Flow.Put); its Outbox is required.
	Flow *Flow
	// Session is the card; the PIN is asked once, before the first
	// signature and the sender's TLS handshake.
	Session *Session
	// Sender sends the sheets; nil: they are only kept (offline), to be
	// sent later.
	Sender *Sender
	// Kept is called after each sheet is kept in the outbox, with how many
	// of how many are done (a progress display); may be nil.
	Kept func(done, total int, key string)
	// Sent is called with each send result, from the sender's goroutine;
	// may be nil. After the first Offline result the sender stops trying:
	// the rest are reported Offline with the same cause, not tried.
	Sent func(SendResult)
	// BeforeSend, when set and there is a Sender, runs after the PIN and
	// before the first sheet is sent (the batch sends its prescriptions
	// then: sheets claim against them); its error stops the batch.
	BeforeSend func(ctx context.Context) error
}

// BatchStats counts what Run did.
type BatchStats struct {
	Signed   int           // signatures made (sheets already signed are kept as they are)
	Kept     int           // sheets written to the outbox
	Queued   int           // kept or pending sheets left unsent because there is no Sender
	SignTime time.Duration // from the first signature to the last sheet kept
}

// Run signs and keeps the sheets, and sends the pending outbox keys then
// each kept sheet. Every sheet is checked against the card first
// (Session.Check: its holder, its billing situations): when the card may
// not sign one, Run returns its *SheetError before the PIN is asked,
// having done nothing; the caller leaves such sheets out. With nothing to sign, and nothing to
// send or no Sender, it does nothing: no PIN. A card error stops the
// signing: what was kept stays kept, and what was sent sent. The error is
// the signing's, else the sender's.
func (b *Batch) Run(ctx context.Context, sheets []*Sheet, pending []string) (BatchStats, error) {
	var st BatchStats
	for _, sh := range sheets {
		if err := b.Session.Check(sh); err != nil {
			return st, err
		}
	}
	if len(sheets) == 0 && (len(pending) == 0 || b.Sender == nil) {
		st.Queued = len(pending)
		return st, nil
	}
	// The PIN once, before the signatures and the sender's TLS handshake
	// both need it.
	if err := b.Session.Login(ctx); err != nil {
		return st, err
	}
	if b.BeforeSend != nil && b.Sender != nil {
		if err := b.BeforeSend(ctx); err != nil {
			return st, err
		}
	}
	keys := make(chan string, len(sheets)+len(pending))
	for _, k := range pending {
		keys <- k
	}
	var wg sync.WaitGroup
	var sendErr error
	if b.Sender != nil {
		wg.Go(func() { sendErr = b.send(ctx, keys) })
	}
	start := time.Now()
	signErr := b.keep(ctx, sheets, keys, &st)
	st.SignTime = time.Since(start)
	close(keys)
	wg.Wait()
	for range keys { // no sender: what it would have sent
		st.Queued++
	}
	if signErr != nil {
		return st, signErr
	}
	return st, sendErr
}

// keep signs and keeps each sheet, then hands its key to the sender.
func (b *Batch) keep(ctx context.Context, sheets []*Sheet, keys chan<- string, st *BatchStats) error {
	for i, sh := range sheets {
		if err := ctx.Err(); err != nil {
			return err
		}
		signed, err := b.Session.Sign(ctx, sh)
		if err != nil {
			return fmt.Errorf("%s: %w", sh.Name, err)
		}
		if !sh.Signed {
			st.Signed++
		}
		e, err := b.Flow.Put(sh, signed)
		if err != nil {
			return fmt.Errorf("%s: %w", sh.Name, err)
		}
		st.Kept++
		keys <- e.Key
		if b.Kept != nil {
			b.Kept(i+1, len(sheets), e.Key)
		}
	}
	return nil
}

// send sends the keys as they come. After the first Offline result (the
// gateway is down) it stops trying: the rest wait in the outbox.
func (b *Batch) send(ctx context.Context, keys <-chan string) error {
	var down error
	report := func(res SendResult) {
		if b.Sent != nil {
			b.Sent(res)
		}
	}
	for key := range keys {
		if down != nil {
			report(SendResult{Key: key, Outcome: Offline, Cause: down})
			continue
		}
		res, err := b.Sender.Send(ctx, key)
		if err != nil {
			return err
		}
		if res.Outcome == Offline {
			down = res.Cause
			if down == nil {
				down = errors.New("gateway not reachable")
			}
		}
		report(res)
	}
	return nil
}
