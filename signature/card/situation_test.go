package card_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

var doctorSituation = card.Situation{Billing: "751000019", Mode: card.ModeLiberal, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true, MaySignLot: true}

// doctorRecord is doctorSituation in fsegate's layout (docs/card.md).
const doctorRecord = "E11F" + "800101" + "8109373531303030303139" + "820101" + "830131" + "84023031" + "85023130" + "860103"

func TestSituationEncoding(t *testing.T) {
	b, err := doctorSituation.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(b)); got != doctorRecord {
		t.Fatalf("got %s, want %s", got, doctorRecord)
	}
	for _, s := range []card.Situation{
		doctorSituation,
		{Billing: "751000019", Mode: card.ModeRemplacant, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true},
		{Billing: "751000118", Mode: card.ModeSalaried, Convention: "0", Specialty: "00", Zone: "99", MaySignLot: true},
	} {
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got card.Situation
		if err := got.UnmarshalBinary(b); err != nil || got != s {
			t.Errorf("round trip: got %+v, %v; want %+v", got, err, s)
		}
	}
}

func TestSituationMarshalRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*card.Situation)
	}{
		{"billing of 8 digits", func(s *card.Situation) { s.Billing = "75100001" }},
		{"billing with a letter", func(s *card.Situation) { s.Billing = "75100001A" }},
		{"no mode", func(s *card.Situation) { s.Mode = 0 }},
		{"unknown mode", func(s *card.Situation) { s.Mode = 9 }},
		{"convention of 2 digits", func(s *card.Situation) { s.Convention = "10" }},
		{"specialty of 1 digit", func(s *card.Situation) { s.Specialty = "1" }},
		{"zone empty", func(s *card.Situation) { s.Zone = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := doctorSituation
			tc.edit(&s)
			if _, err := s.MarshalBinary(); !errors.Is(err, card.ErrSituationMalformed) {
				t.Fatalf("got %v, want ErrSituationMalformed", err)
			}
		})
	}
}

func TestSituationParse(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		wantErr   string // in the message; empty: doctorSituation
	}{
		{name: "record", hex: doctorRecord},
		{name: "padded with 00", hex: doctorRecord + "000000"},
		{name: "padded with FF", hex: doctorRecord + "FFFF"},
		{name: "other tag", hex: "E2" + doctorRecord[2:], wantErr: "not a record of fsegate's layout"},
		{name: "garbage after", hex: doctorRecord + "00FF", wantErr: "not padding"},
		{name: "length beyond the file", hex: "E120" + doctorRecord[4:], wantErr: "does not fit"},
		{name: "long length form", hex: "E181" + doctorRecord[4:], wantErr: "does not fit"},
		{name: "layout version 2", hex: strings.Replace(doctorRecord, "800101", "800102", 1), wantErr: "layout version 2 unknown"},
		{name: "no version", hex: "E11C" + doctorRecord[10:], wantErr: "layout version: tag 80 expected"},
		{name: "billing of 8 digits", hex: "E11E" + "800101" + "81083735313030303031" + doctorRecord[32:], wantErr: "billing number: 8 bytes, want 9"},
		{name: "billing with a letter", hex: strings.Replace(doctorRecord, "8109373531303030303139", "810937353130303030314A", 1), wantErr: "is not 9 digits"},
		{name: "unknown mode", hex: strings.Replace(doctorRecord, "820101", "820107", 1), wantErr: "mode of practice 0x07 unknown"},
		{name: "fields out of order", hex: strings.Replace(doctorRecord, "830131"+"84023031", "84023031"+"830131", 1), wantErr: "convention: tag 83 expected"},
		{name: "unknown flag", hex: strings.Replace(doctorRecord, "860103", "860107", 1), wantErr: "unknown bits"},
		{name: "extra field", hex: "E122" + doctorRecord[4:] + "870100", wantErr: "bytes after the flags"},
		{name: "truncated", hex: doctorRecord[:40], wantErr: "does not fit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got card.Situation
			err := got.UnmarshalBinary(mustHex(t, tc.hex))
			if tc.wantErr == "" {
				if err != nil || got != doctorSituation {
					t.Fatalf("got %+v, %v; want %+v", got, err, doctorSituation)
				}
				return
			}
			if !errors.Is(err, card.ErrSituationMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want ErrSituationMalformed with %q", err, tc.wantErr)
			}
			if got != (card.Situation{}) {
				t.Errorf("a refused record filled the situation: %+v", got)
			}
		})
	}
	for _, b := range [][]byte{nil, {0x00, 0x42}, bytes.Repeat([]byte{0xFF}, 40)} {
		if !card.SituationEmpty(b) {
			t.Errorf("% X: not an empty slot", b)
		}
	}
	if card.SituationEmpty(mustHex(t, doctorRecord)) {
		t.Error("a record is an empty slot")
	}
}

func TestModeText(t *testing.T) {
	for _, m := range []card.Mode{card.ModeLiberal, card.ModeSalaried, card.ModeRemplacant} {
		b, err := m.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got card.Mode
		if err := got.UnmarshalText(b); err != nil || got != m {
			t.Errorf("%s: got %v, %v", b, got, err)
		}
	}
	var m card.Mode
	if err := m.UnmarshalText([]byte("libéral")); err == nil {
		t.Error("an unknown name was read")
	}
	if _, err := card.Mode(7).MarshalText(); err == nil {
		t.Error("an unknown mode was written")
	}
}

// FuzzSituation: a record UnmarshalBinary accepts is written back by
// MarshalBinary to the same bytes, less the padding.
func FuzzSituation(f *testing.F) {
	f.Add(fromHex(doctorRecord))
	f.Add(fromHex(doctorRecord + "0000"))
	f.Add(fromHex(strings.Replace(doctorRecord, "820101", "820103", 1)))
	f.Add([]byte{0xE1, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s card.Situation
		if err := s.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, card.ErrSituationMalformed) {
				t.Fatalf("error %v does not wrap ErrSituationMalformed", err)
			}
			return
		}
		out, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted %+v, then refused to write it: %v", s, err)
		}
		if !bytes.HasPrefix(b, out) || len(bytes.Trim(b[len(out):], "\x00\xff")) != 0 {
			t.Fatalf("read % X, wrote % X", b, out)
		}
	})
}

// fromHex is mustHex for the fuzz seeds (no *testing.T).
func fromHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestSituations: the client reads every profile's situations, in order,
// without the PIN; an unused slot is skipped, a malformed file named.
func TestSituations(t *testing.T) {
	ctx := context.Background()
	for _, name := range dev.ProfileNames() {
		t.Run(name, func(t *testing.T) {
			c, v := openVirtual(t, name, virtual.Options{}, card.Options{})
			got, err := c.Situations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := v.Profile().Situations
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("got %d situations, want %d (at least one)", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i].Card() {
					t.Errorf("situation %d: got %+v, want %+v", i+1, got[i], want[i].Card())
				}
			}
		})
	}

	p, err := dev.Profile("doctor")
	if err != nil {
		t.Fatal(err)
	}
	rempl := doctorSituation
	rempl.Mode, rempl.Billing = card.ModeRemplacant, "751000043"
	p.Situations = make([]virtual.Situation, card.MaxSituations)
	for i := range p.Situations {
		p.Situations[i] = virtual.Situation{Billing: "751000019", Mode: card.ModeLiberal, Convention: "1", Specialty: "01", Zone: "10"}
	}
	p.Situations[15] = virtual.Situation{Billing: rempl.Billing, Mode: rempl.Mode, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true, MaySignLot: true}
	v, err := virtual.New(p, virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := card.Open(ctx, card.Loopback(v), card.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Situations(ctx)
	if err != nil || len(got) != card.MaxSituations || got[15] != rempl {
		t.Fatalf("16 situations: got %d, %v; want 16, the last %+v", len(got), err, rempl)
	}

	v, err = dev.Card("doctor", virtual.Options{Files: map[uint16][]byte{0xD121: []byte("garbage")}})
	if err != nil {
		t.Fatal(err)
	}
	c, err = card.Open(ctx, card.Loopback(v), card.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Situations(ctx); !errors.Is(err, card.ErrSituationMalformed) || !strings.Contains(err.Error(), "file D121") {
		t.Fatalf("got %v, want ErrSituationMalformed naming file D121", err)
	}
}
