package workstation

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// testNow is the day of the sheets of testdata (generated with
// 'workstation generate --now 2026-03-18T10:30:00Z').
var testNow = time.Date(2026, 3, 18, 10, 30, 0, 0, time.UTC)

// testRules are the caisse's rules at testNow with the fixtures' tables.
func testRules(t *testing.T) fse.Options {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "fixtures", name))
		if err != nil {
			t.Fatalf("%v (the tables live in fixtures/)", err)
		}
		return b
	}
	tar, err := fse.ParseTariffs(bytes.NewReader(read("tariffs/ngap.csv")))
	if err != nil {
		t.Fatal(err)
	}
	hol, err := fse.ParseHolidays(bytes.NewReader(read("holidays.csv")))
	if err != nil {
		t.Fatal(err)
	}
	return fse.Options{Now: func() time.Time { return testNow }, Tariffs: tar, Holidays: hol}
}

// testSheet reads testdata/name.
func testSheet(t *testing.T, name string) *Sheet {
	t.Helper()
	sh, err := ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// testSession opens a session on an in-process virtual card of profile;
// asked counts the PIN entries the session's prompt was called for.
func testSession(t *testing.T, profile string) (s *Session, asked *atomic.Int32) {
	t.Helper()
	p, err := dev.Profile(profile)
	if err != nil {
		t.Fatal(err)
	}
	return testSessionOf(t, p)
}

// testSessionOf is testSession on a card made from the profile p (a
// fixture's, changed by the test).
func testSessionOf(t *testing.T, p *virtual.Profile) (s *Session, asked *atomic.Int32) {
	t.Helper()
	v, err := virtual.New(p, virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	asked = &atomic.Int32{}
	s, err = OpenSession(context.Background(), SessionConfig{
		Open: func(ctx context.Context) (card.Token, error) { return card.Open(ctx, card.Loopback(v), card.Options{}) },
		PIN: func(context.Context, card.PINRequest) ([]byte, error) {
			asked.Add(1)
			return []byte("1234"), nil
		},
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, asked
}

// signedBy signs testdata/name with a card of profile and returns the
// signed bytes.
func signedBy(t *testing.T, profile, name string) []byte {
	t.Helper()
	s, _ := testSession(t, profile)
	b, err := s.Sign(context.Background(), testSheet(t, name))
	if err != nil {
		t.Fatalf("sign %s with %s's card: %v", name, profile, err)
	}
	return b
}

// editedSheet reads testdata/name, changes it with edit and encodes it
// again (an unsigned sheet).
func editedSheet(t *testing.T, name string, edit func(*fse.Sheet)) *Sheet {
	t.Helper()
	sh := testSheet(t, name)
	edit(sh.Sheet)
	out, err := Decode(sh.Name, sh.Sheet.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// billedUnder sets a sheet's billing number.
func billedUnder(billing string) func(*fse.Sheet) {
	return func(s *fse.Sheet) { s.Practitioner.Billing = billing }
}

// replacedBy names the holder of national id natID (an RPPS one) as the
// sheet's remplaçant.
func replacedBy(natID string) func(*fse.Sheet) {
	return func(s *fse.Sheet) {
		s.Practitioner.Remplacant = &fse.Remplacant{IDType: fse.IDTypeRPPS, ID: natID[1:], NationalID: natID}
	}
}

// practitioner names the holder of national id natID (an RPPS one) as the
// sheet's practitioner, billing under billing.
func practitioner(natID, billing string) func(*fse.Sheet) {
	return func(s *fse.Sheet) {
		s.Practitioner.IDType, s.Practitioner.ID, s.Practitioner.NationalID = fse.IDTypeRPPS, natID[1:], natID
		s.Practitioner.Billing = billing
	}
}

// testOutbox is an empty outbox in a temporary directory.
func testOutbox(t *testing.T) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.Open(t.TempDir(), func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

// signOwnSheets signs the doctor's test sheets, XML and JSON, in session s
// and checks each comes back signed.
func signOwnSheets(ctx context.Context, t *testing.T, s *Session) {
	t.Helper()
	for _, name := range []string{"doctor.xml", "doctor.json"} {
		b, err := s.Sign(ctx, testSheet(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !IsSigned(b) {
			t.Errorf("%s: not signed", name)
		}
	}
}
