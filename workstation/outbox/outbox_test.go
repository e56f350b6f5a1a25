package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func open(t *testing.T) (*Outbox, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	o, err := Open(t.TempDir(), c.now)
	if err != nil {
		t.Fatal(err)
	}
	return o, c
}

func TestPutIsDurableAndIdempotent(t *testing.T) {
	o, _ := open(t)
	e, err := o.Put("751000019", "000000001", []byte("<signed/>"))
	if err != nil {
		t.Fatal(err)
	}
	if e.State != Pending {
		t.Fatalf("got state %s, want pending", e.State)
	}
	again, err := o.Put("751000019", "000000001", []byte("<signed/>"))
	if err != nil {
		t.Fatalf("same bytes again: %v", err)
	}
	if again.Digest != e.Digest || !again.Created.Equal(e.Created) {
		t.Fatalf("same bytes made a new entry: %+v vs %+v", again, e)
	}
	if _, err := o.Put("751000019", "000000001", []byte("<other/>")); !errors.Is(err, ErrConflict) {
		t.Fatalf("other bytes, same key: got %v, want ErrConflict", err)
	}
	// A second Outbox on the same directory (a restarted workstation) sees it.
	o2, err := Open(o.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := o2.Signed(e.Key)
	if err != nil || string(b) != "<signed/>" {
		t.Fatalf("after reopen: got %q, %v", b, err)
	}
	tmp, _ := filepath.Glob(filepath.Join(o.Dir(), "*", ".tmp-*"))
	if len(tmp) != 0 {
		t.Fatalf("temp files left behind: %v", tmp)
	}
}

func TestCorrectionReplacesRefusedSheet(t *testing.T) {
	o, _ := open(t)
	e, _ := o.Put("751000019", "000000002", []byte("v1"))
	if err := o.Refused(e.Key, []string{"NIR_KEY"}); err != nil {
		t.Fatal(err)
	}
	e2, err := o.Put("751000019", "000000002", []byte("v2"))
	if err != nil {
		t.Fatalf("correction of a refused sheet: %v", err)
	}
	if e2.State != Pending || e2.Digest == e.Digest {
		t.Fatalf("correction not stored: %+v", e2)
	}
	if b, _ := o.Signed(e.Key); string(b) != "v2" {
		t.Fatalf("stored bytes %q, want v2", b)
	}
}

func TestRetryBackoffAndDue(t *testing.T) {
	o, c := open(t)
	e, _ := o.Put("751000019", "000000003", []byte("x"))
	due, _ := o.Due()
	if len(due) != 1 {
		t.Fatalf("got %d due, want 1", len(due))
	}
	if err := o.Failed(e.Key, errors.New("connection refused")); err != nil {
		t.Fatal(err)
	}
	if due, _ := o.Due(); len(due) != 0 {
		t.Fatalf("due right after a failure: %d, want 0 (backoff)", len(due))
	}
	c.t = c.t.Add(Backoff(1))
	if due, _ := o.Due(); len(due) != 1 {
		t.Fatalf("due after the backoff: %d, want 1", len(due))
	}
	if err := o.Receipted(e.Key, []byte(`{"state":"queued"}`)); err != nil {
		t.Fatal(err)
	}
	got, _ := o.Get(e.Key)
	if got.State != Receipted || got.Attempts != 2 || got.LastError != "" {
		t.Fatalf("after receipt: %+v", got)
	}
	if due, _ := o.Due(); len(due) != 0 {
		t.Fatalf("receipted sheet still due")
	}
	if err := o.Resend(e.Key); err != nil {
		t.Fatal(err)
	}
	if due, _ := o.Due(); len(due) != 1 {
		t.Fatalf("a sheet the gateway forgot is not due again")
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	if Backoff(1) != 2*time.Second || Backoff(2) != 4*time.Second {
		t.Fatalf("backoff 1,2 = %s,%s; want 2s,4s", Backoff(1), Backoff(2))
	}
	if Backoff(50) != 5*time.Minute {
		t.Fatalf("backoff 50 = %s, want the 5m cap", Backoff(50))
	}
}

func TestPruneKeepsNinetyDays(t *testing.T) {
	o, c := open(t)
	a, _ := o.Put("751000019", "000000004", []byte("a"))
	b, _ := o.Put("751000019", "000000005", []byte("b"))
	_ = o.Receipted(b.Key, nil)
	_ = o.Finalize(a.Key, "paid")
	if _, err := o.Prune(30 * 24 * time.Hour); err == nil {
		t.Fatal("prune under 90 days accepted")
	}
	c.t = c.t.Add(89 * 24 * time.Hour)
	if rm, _ := o.Prune(90 * 24 * time.Hour); len(rm) != 0 {
		t.Fatalf("pruned %v before 90 days", rm)
	}
	c.t = c.t.Add(2 * 24 * time.Hour)
	rm, err := o.Prune(90 * 24 * time.Hour)
	if err != nil || len(rm) != 1 || rm[0] != a.Key {
		t.Fatalf("prune: %v %v, want [%s]", rm, err, a.Key)
	}
	if _, err := os.Stat(filepath.Join(o.Dir(), "sheets", a.Key+".xml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("pruned sheet file still there")
	}
	if _, err := o.Get(b.Key); err != nil {
		t.Fatalf("non-final sheet pruned: %v", err)
	}
}

func TestKeyRefusesPaths(t *testing.T) {
	if _, err := Key("../etc", "1"); err == nil {
		t.Fatal("a path in the billing number was accepted")
	}
}

// TestSameSheetSignedAgain: a sheet signed again (other signed bytes, the
// same content) is the sheet the outbox holds, not a second one under its
// number; other content under that number still conflicts.
func TestSameSheetSignedAgain(t *testing.T) {
	o, _ := open(t)
	e, err := o.PutSheet("751000019", "000000003", []byte("<signed at 10:00/>"), "", "content-a")
	if err != nil {
		t.Fatal(err)
	}
	again, err := o.PutSheet("751000019", "000000003", []byte("<signed at 11:00/>"), "", "content-a")
	if err != nil || again.Digest != e.Digest {
		t.Fatalf("the same sheet signed again: got %+v, %v; want the entry held", again, err)
	}
	if _, err := o.PutSheet("751000019", "000000003", []byte("<signed at 12:00/>"), "", "content-b"); !errors.Is(err, ErrConflict) {
		t.Fatalf("other content, same number: got %v, want ErrConflict", err)
	}
}

// TestFinalStaysFinal: the receipt of a re-send does not take a final
// sheet back to receipted (notices --until-final would wait for final
// notices given already).
func TestFinalStaysFinal(t *testing.T) {
	o, _ := open(t)
	e, err := o.Put("751000019", "000000004", []byte("<signed/>"))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Receipted(e.Key, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := o.Finalize(e.Key, "paid"); err != nil {
		t.Fatal(err)
	}
	if err := o.Receipted(e.Key, []byte(`{"again":true}`)); err != nil {
		t.Fatal(err)
	}
	got, err := o.Get(e.Key)
	if err != nil || got.State != Final || got.FinalState != "paid" {
		t.Fatalf("got %+v, %v; want final paid", got, err)
	}
}

// TestAdopt: an outbox moved to another directory keeps every entry, its
// state and its bytes; a sheet both hold with the same bytes is kept once;
// one with other bytes stays where it was; a locked old outbox moves
// nothing (#22: the outbox moved from ~/.config to the data directory).
func TestAdopt(t *testing.T) {
	oldDir := filepath.Join(t.TempDir(), "old")
	old, err := Open(oldDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"000000001", "000000002", "000000003", "000000004"} {
		if _, err := old.Put("751000019", n, []byte("<signed "+n+"/>")); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Receipted("751000019-000000002", []byte(`{"ok":true}`)); err != nil {
		t.Fatal(err)
	}
	o, _ := open(t)
	if _, err := o.Put("751000019", "000000003", []byte("<signed 000000003/>")); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Put("751000019", "000000004", []byte("<other/>")); err != nil {
		t.Fatal(err)
	}

	unlock, err := old.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := o.Adopt(oldDir); !errors.Is(err, ErrLocked) || n != 0 {
		t.Fatalf("old outbox in use: moved %d, %v; want 0, ErrLocked", n, err)
	}
	unlock()

	moved, left, err := o.Adopt(oldDir)
	if err != nil {
		t.Fatal(err)
	}
	if moved != 2 || len(left) != 1 || left[0] != "751000019-000000004" {
		t.Fatalf("moved %d, left %v; want 2, [751000019-000000004]", moved, left)
	}
	e, err := o.Get("751000019-000000002")
	if err != nil || e.State != Receipted || string(e.Receipt) != `{"ok":true}` {
		t.Fatalf("moved entry: %+v, %v", e, err)
	}
	if b, err := o.Signed("751000019-000000001"); err != nil || string(b) != "<signed 000000001/>" {
		t.Fatalf("moved bytes: %q, %v", b, err)
	}
	rest, err := old.List()
	if err != nil || len(rest) != 1 || rest[0].Key != "751000019-000000004" {
		t.Fatalf("left in the old outbox: %v, %v", rest, err)
	}
	// Once the conflict is gone, the next Adopt removes the old outbox.
	if err := os.Remove(old.statePath("751000019-000000004")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(old.sheetPath("751000019-000000004")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.Adopt(oldDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(oldDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old outbox still there: %v", err)
	}
	// Nothing there: nothing to do.
	if n, _, err := o.Adopt(oldDir); n != 0 || err != nil {
		t.Fatalf("missing old outbox: %d, %v", n, err)
	}
}
