package card

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BatchItem is one message to sign with the signature key (SignMessage:
// SHA-256, PKCS#1 v1.5).
type BatchItem struct {
	ID      string // the caller's name for it (a file, a care sheet number)
	Message []byte
}

// BatchConfig bounds a batch signed with one PIN entry. The zero value
// signs until the items, the card's usage counter or the card run out;
// Signed is required.
type BatchConfig struct {
	// MaxCount stops the batch after this many signatures (0: no limit of
	// its own).
	MaxCount int
	// MaxDuration stops the batch once this long has passed since it
	// started, like Germany's Komfortsignatur window (0: no limit).
	MaxDuration time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Signed receives every signature, in order, before the next item is
	// signed. An item counts as signed only when Signed returns nil: keep
	// the signature there. An error from Signed stops the batch.
	Signed func(item BatchItem, sig []byte) error
	// Progress, when set, is called after each signature.
	Progress func(done, total int)
}

// StopReason says why a batch ended.
type StopReason int

const (
	StopDone    StopReason = iota // every item signed
	StopCount                     // BatchConfig.MaxCount reached
	StopTime                      // BatchConfig.MaxDuration passed
	StopUsage                     // the card's usage counter is exhausted
	StopRemoved                   // the card left the reader
	StopError                     // another error (see BatchReport.Err)
)

func (r StopReason) String() string {
	return [...]string{"done", "count limit reached", "time limit reached", "card usage counter exhausted", "card removed", "error"}[r]
}

// BatchReport says how far a batch went. Items[:Next] are signed (each
// handed to Signed); resume with Items[Next:], nothing is signed twice.
type BatchReport struct {
	Signed int
	Next   int
	Reason StopReason
	Err    error
}

// SignBatch signs items with one PIN entry: the batch relies on the
// card's security state after one VERIFY (the host never keeps the PIN).
// It stops at the card's usage counter, cfg's count or time limit, or at
// once when the card is removed (that item is not signed), and resets the
// card (SCARD_RESET_CARD) when done so the PIN does not outlive the batch.
// The error is nil when the batch stopped at a limit or ran out of items.
func (c *Card) SignBatch(ctx context.Context, items []BatchItem, cfg BatchConfig) (BatchReport, error) {
	if cfg.Signed == nil {
		return BatchReport{}, errors.New("card: batch: BatchConfig.Signed is required")
	}
	if c.model.Contactless() {
		return BatchReport{Reason: StopError, Err: ErrContactless}, ErrContactless
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rep := BatchReport{}
	finish := func(reason StopReason, err error) (BatchReport, error) {
		rep.Reason, rep.Err = reason, err
		if reason != StopRemoved {
			if rerr := c.reset(ctx); rerr != nil && err == nil {
				rep.Reason, rep.Err = StopError, rerr
			}
		}
		c.verified = false
		return rep, rep.Err
	}
	if len(items) == 0 {
		return finish(StopDone, nil)
	}
	start := now()
	if err := c.login(ctx); err != nil {
		return finish(stopFor(err), err)
	}
	st, err := c.pinStatus(ctx)
	if err != nil {
		return finish(stopFor(err), err)
	}
	usage := st.UsageLeft // -1: the card has no usage counter
	for i, it := range items {
		switch {
		case cfg.MaxCount > 0 && rep.Signed >= cfg.MaxCount:
			return finish(StopCount, nil)
		case cfg.MaxDuration > 0 && now().Sub(start) >= cfg.MaxDuration:
			return finish(StopTime, nil)
		case usage == 0:
			return finish(StopUsage, nil)
		}
		sig, err := c.cds(ctx, psoHashMessage(it.Message), false)
		if errors.Is(err, ErrSecurityStatus) {
			return finish(StopUsage, nil)
		}
		if err != nil {
			return finish(stopFor(err), fmt.Errorf("card: batch item %s: %w", it.ID, err))
		}
		if err := cfg.Signed(it, sig); err != nil {
			return finish(StopError, fmt.Errorf("card: batch item %s: %w", it.ID, err))
		}
		rep.Signed++
		rep.Next = i + 1
		if usage > 0 {
			usage--
		}
		if cfg.Progress != nil {
			cfg.Progress(rep.Next, len(items))
		}
	}
	return finish(StopDone, nil)
}

func stopFor(err error) StopReason {
	if errors.Is(err, ErrCardRemoved) {
		return StopRemoved
	}
	return StopError
}
