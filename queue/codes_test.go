package queue_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/queue"
)

// TestSentinelsCarryCodes: each refusal the queue returns carries its
// code, wrapped or not, and the code is one Codes lists; queue.ErrInvalid,
// a bug upstream, carries none.
func TestSentinelsCarryCodes(t *testing.T) {
	listed := map[problem.Code]bool{}
	for _, c := range queue.Codes() {
		listed[c.Code] = true
	}
	for err, want := range map[error]problem.Code{
		queue.ErrDuplicate:     queue.CodeDuplicate,
		queue.ErrUnavailable:   queue.CodeUnavailable,
		queue.ErrStorageFull:   queue.CodeStorageFull,
		queue.ErrNotFound:      queue.CodeNotFound,
		queue.ErrSCORNotNeeded: queue.CodeSCORNotNeeded,
		queue.ErrSCORTaken:     queue.CodeSCORTaken,
		queue.ErrSCORTooLarge:  queue.CodeSCORTooLarge,
		queue.ErrConflict:      queue.CodeConflict,
	} {
		wrapped := fmt.Errorf("%w: FSE_LOTS is full", err)
		if got := problem.CodeOf(wrapped); got != want || !errors.Is(wrapped, want) || !errors.Is(wrapped, err) {
			t.Errorf("%v: code %q, want %s", err, got, want)
		}
		if !listed[want] {
			t.Errorf("%s is in no list", want)
		}
	}
	if got := problem.CodeOf(fmt.Errorf("%w: no destination", queue.ErrInvalid)); got != "" {
		t.Errorf("queue.ErrInvalid carries %s", got)
	}
}
