package virtual_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// TestLoadProfile loads each fixtures' card by name (fixtures/dev.Profile:
// embedded, LoadProfileFS) and from its file (LoadProfile).
func TestLoadProfile(t *testing.T) {
	for _, name := range dev.ProfileNames() {
		byName, err := dev.Profile(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		byFile, err := virtual.LoadProfile(filepath.Join(fixtures.Dir(), "cards", name+".yaml"))
		if err != nil {
			t.Fatalf("%s from disk: %v", name, err)
		}
		if !byName.SignatureCertificate().Equal(byFile.SignatureCertificate()) || byName.PIN != "1234" || byName.UnblockCode != "12345678" {
			t.Fatalf("%s: embedded and on-disk profiles differ", name)
		}
	}
	if _, err := dev.Profile("nosuch"); err == nil || !strings.Contains(err.Error(), "doctor") {
		t.Fatalf("unknown profile: got %v, want an error listing the known ones", err)
	}
}

func TestBlockedStartsBlocked(t *testing.T) {
	v, err := dev.Card("blocked", virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.PINTriesLeft() != 0 {
		t.Fatalf("blocked profile: %d tries, want 0", v.PINTriesLeft())
	}
	if r := v.APDU([]byte{0x00, 0x20, 0x00, 0x01, 0x04, '1', '2', '3', '4'}); string(r) != "\x69\x83" {
		t.Fatalf("VERIFY on a blocked card: % X, want 69 83", r)
	}
}
