package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// levels is the report's findings as "LEVEL what" lines.
func levels(r *Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%s %s; ", f.Level, f.What)
	}
	return b.String()
}

func TestReaders(t *testing.T) {
	one := []card.ReaderStatus{{Name: "r0", CardPresent: true}, {Name: "r1"}}
	two := []card.ReaderStatus{{Name: "r0", CardPresent: true}, {Name: "r1", CardPresent: true}}
	for _, tc := range []struct {
		name   string
		rs     []card.ReaderStatus
		err    error
		reader string
		ok     bool
		want   string
	}{
		{"no pcscd", nil, card.ErrNoPCSC, "", false, "FAIL pcscd; "},
		{"no reader", nil, card.ErrNoReader, "", false, "OK pcscd; FAIL card reader; "},
		{"one card", one, nil, "", true, "OK pcscd; OK card reader; "},
		{"no card", []card.ReaderStatus{{Name: "r0"}}, nil, "", false, "OK pcscd; OK card reader; FAIL card; "},
		{"two cards", two, nil, "", false, "OK pcscd; OK card reader; FAIL card; "},
		{"two cards, one named", two, nil, "r1", true, "OK pcscd; OK card reader; "},
		{"the reader named is empty", one, nil, "r1", false, "OK pcscd; OK card reader; FAIL card; "},
		{"no such reader", one, nil, "r9", false, "OK pcscd; FAIL card reader; "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{}
			if ok := r.Readers(tc.rs, tc.err, tc.reader); ok != tc.ok || levels(r) != tc.want {
				t.Errorf("got %v %q, want %v %q", ok, levels(r), tc.ok, tc.want)
			}
		})
	}
}

func TestCard(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		from, to  time.Time
		pin       card.PINStatus
		wantLines string
		fails     int
	}{
		{"valid", now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0), card.PINStatus{MaxTries: 3, TriesLeft: 3}, "OK card; OK certificates; OK PIN; ", 0},
		{"expires soon, a wrong PIN", now.AddDate(-1, 0, 0), now.AddDate(0, 1, 0), card.PINStatus{MaxTries: 3, TriesLeft: 2}, "OK card; WARN certificates; WARN PIN; ", 0},
		{"expired, blocked", now.AddDate(-3, 0, 0), now.AddDate(0, 0, -1), card.PINStatus{MaxTries: 3, TriesLeft: 0}, "OK card; FAIL certificates; FAIL PIN; ", 2},
		{"not yet valid, a module's flags", now.AddDate(0, 0, 1), now.AddDate(3, 0, 0), card.PINStatus{TriesLeft: -1}, "OK card; FAIL certificates; OK PIN; ", 1},
		{"a module's final try", now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0), card.PINStatus{TriesLeft: 1}, "OK card; OK certificates; WARN PIN; ", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{}
			r.Card(&card.Info{NotBefore: tc.from, NotAfter: tc.to, PIN: tc.pin}, "the card", now)
			r.PIN(tc.pin)
			if levels(r) != tc.wantLines || r.Fails != tc.fails {
				t.Errorf("got %q (%d fails), want %q (%d)", levels(r), r.Fails, tc.wantLines, tc.fails)
			}
		})
	}
}

func TestClock(t *testing.T) {
	for _, tc := range []struct {
		skew time.Duration
		want Level
	}{
		{0, OK}, {-29 * time.Second, OK}, {31 * time.Second, Warn}, {-6 * time.Minute, Fail},
	} {
		r := &Report{}
		if r.Clock(tc.skew); r.Findings[0].Level != tc.want {
			t.Errorf("skew %s: got %s, want %s", tc.skew, r.Findings[0].Level, tc.want)
		}
	}
}

func TestOutbox(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ob")
	r := &Report{}
	if r.Outbox(dir); r.Findings[0].Level != OK || !strings.Contains(r.Findings[0].Detail, "not created yet") {
		t.Errorf("no outbox: got %+v", r.Findings)
	}
	ob, err := outbox.Open(dir, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ob.Put("751000019", "000100001", []byte("<signed/>")); err != nil {
		t.Fatal(err)
	}
	r = &Report{}
	if r.Outbox(dir); r.Findings[0].Level != Warn || !strings.Contains(r.Findings[0].Todo, "the oldest waits since") {
		t.Errorf("a sheet waiting for 2 hours: got %+v", r.Findings)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r = &Report{}
	if r.Outbox(dir); r.Findings[0].Level != Warn || r.Findings[0].Todo != "chmod 700 "+dir {
		t.Errorf("an outbox others may read: got %+v", r.Findings)
	}
}
