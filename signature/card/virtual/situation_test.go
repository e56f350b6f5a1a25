package virtual_test

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// apdu sends cmd to v and returns the data and the status word in hex.
func apdu(t *testing.T, v *virtual.CPS, cmd []byte) ([]byte, string) {
	t.Helper()
	r := v.APDU(cmd)
	if len(r) < 2 {
		t.Fatalf("% X: reply % X has no status word", cmd, r)
	}
	return r[:len(r)-2], fmt.Sprintf("%X", r[len(r)-2:])
}

// TestSituationFiles: the 16 situation files D120..D12F of the IAS
// application, readable without the PIN by SELECT (FCP with the size) and
// READ BINARY: the profile's situations in order in fsegate's layout, the
// other files empty.
func TestSituationFiles(t *testing.T) {
	v, err := dev.Card("remplacant", virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	selectApp := append([]byte{0x00, 0xA4, 0x04, 0x0C, byte(len(virtual.AIDIAS))}, virtual.AIDIAS...)
	if _, sw := apdu(t, v, selectApp); sw != "9000" {
		t.Fatalf("SELECT IAS: %s", sw)
	}
	for i := range card.MaxSituations {
		fid := card.FirstSituationFile + i
		fcp, sw := apdu(t, v, []byte{0x00, 0xA4, 0x02, 0x04, 0x02, byte(fid >> 8), byte(fid)})
		if sw != "9000" || len(fcp) < 6 || fcp[0] != 0x62 || fcp[2] != 0x80 {
			t.Fatalf("SELECT %04X: % X %s, want an FCP with its size", fid, fcp, sw)
		}
		size := int(fcp[4])<<8 | int(fcp[5])
		if i > 0 {
			if size != 0 {
				t.Errorf("file %04X: %d bytes, want an empty slot", fid, size)
			}
			continue
		}
		data, sw := apdu(t, v, []byte{0x00, 0xB0, 0x00, 0x00, byte(size)})
		if sw != "9000" || len(data) != size {
			t.Fatalf("READ BINARY %04X: %d bytes, %s; want %d, 9000", fid, len(data), sw, size)
		}
		var s card.Situation
		if err := s.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		want := card.Situation{Billing: "751000019", Mode: card.ModeRemplacant, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true, MaySignLot: true}
		if s != want {
			t.Errorf("file %04X: got %+v, want %+v", fid, s, want)
		}
	}
	if _, sw := apdu(t, v, []byte{0x00, 0xA4, 0x02, 0x04, 0x02, 0xD1, 0x30}); sw != "6A82" {
		t.Errorf("SELECT D130: %s, want 6A82 (16 files only)", sw)
	}
}

// TestProfileSituations: a profile's situations are checked when its card
// is made: 16 at most, each one a valid record.
func TestProfileSituations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(p *virtual.Profile)
		wantErr string
	}{
		{"17 situations", func(p *virtual.Profile) {
			for len(p.Situations) < 17 {
				p.Situations = append(p.Situations, p.Situations[0])
			}
		}, "a card holds 16 at most"},
		{"billing of 8 digits", func(p *virtual.Profile) { p.Situations[0].Billing = "75100001" }, "situation 1: billing situation malformed: billing number"},
		{"no mode", func(p *virtual.Profile) { p.Situations[0].Mode = 0 }, "mode of practice"},
		{"no specialty", func(p *virtual.Profile) { p.Situations[0].Specialty = "" }, "specialty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := dev.Profile("doctor")
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(p)
			_, err = virtual.New(p, virtual.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func TestSituationYAML(t *testing.T) {
	var s virtual.Situation
	doc := "billing: \"751000019\"\nmode: remplacant\nconvention: \"1\"\nspecialty: \"01\"\nzone: \"10\"\nmay_sign_invoice: true\n"
	if err := yaml.Unmarshal([]byte(doc), &s); err != nil {
		t.Fatal(err)
	}
	want := card.Situation{Billing: "751000019", Mode: card.ModeRemplacant, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true}
	if s.Card() != want {
		t.Fatalf("got %+v, want %+v", s.Card(), want)
	}
	err := yaml.Unmarshal([]byte("mode: libéral\n"), &s)
	if err == nil || !strings.Contains(err.Error(), "not liberal, salaried or remplacant") {
		t.Fatalf("got %v, want the mode refused", err)
	}
}
