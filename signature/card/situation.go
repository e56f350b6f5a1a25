package card

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// The card's billing situations (domain.md §11): up to 16, one per file
// 3F00/0001/D120 to D12F, read without the PIN. A file holds one record in
// fsegate's own layout (docs/card.md), not the ANS one, which is not
// public: a real CPS's files do not parse.
const (
	// FirstSituationFile is the file id of the first situation; the
	// others follow, MaxSituations in all.
	FirstSituationFile = 0xD120
	// MaxSituations is how many situation files a card has.
	MaxSituations = 16
)

// The record's tags and its one layout version.
const (
	tagSituation       = 0xE1
	tagSituationLayout = 0x80
	tagBilling         = 0x81
	tagMode            = 0x82
	tagConvention      = 0x83
	tagSpecialty       = 0x84
	tagZone            = 0x85
	tagFlags           = 0x86

	situationLayout = 0x01
	flagInvoice     = 0x01
	flagLot         = 0x02
)

// ErrSituationMalformed: a situation file of the card is not a record of
// fsegate's layout (docs/card.md). The error that wraps it names the file
// and what is wrong.
var ErrSituationMalformed = errors.New("billing situation malformed")

// Mode is a situation's mode of practice. Its values are fsegate's own
// codes (docs/card.md).
type Mode byte

const (
	ModeLiberal    Mode = 0x01 // libéral: the holder's own practice
	ModeSalaried   Mode = 0x02 // salarié: employed by the billing structure
	ModeRemplacant Mode = 0x03 // remplaçant: replaces a titulaire of the billing number
)

var modeNames = map[Mode]string{ModeLiberal: "liberal", ModeSalaried: "salaried", ModeRemplacant: "remplacant"}

// String is the mode's name: liberal, salaried or remplacant.
func (m Mode) String() string {
	if n, ok := modeNames[m]; ok {
		return n
	}
	return fmt.Sprintf("mode %#02x", byte(m))
}

// MarshalText gives the mode's name.
func (m Mode) MarshalText() ([]byte, error) {
	if _, ok := modeNames[m]; !ok {
		return nil, fmt.Errorf("card: unknown mode of practice %#02x", byte(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText reads a mode's name: liberal, salaried or remplacant.
func (m *Mode) UnmarshalText(b []byte) error {
	for k, n := range modeNames {
		if n == string(b) {
			*m = k
			return nil
		}
	}
	return fmt.Errorf("card: mode of practice %q is not liberal, salaried or remplacant", b)
}

// Situation is one billing situation the card holds: a billing number and
// how its holder practises under it. A remplaçant situation names the
// billing number its holder may replace a titulaire on.
type Situation struct {
	Billing        string // numéro AM of the practice, 9 digits
	Mode           Mode
	Convention     string // convention code, 1 digit
	Specialty      string // specialty code, 2 digits ("01" general medicine)
	Zone           string // tariff zone, 2 digits
	MaySignInvoice bool   // may sign care sheets (invoices) under it
	MaySignLot     bool   // may sign lots of them
}

// MarshalBinary encodes the situation as one record of fsegate's layout
// (docs/card.md); an invalid field is an error wrapping
// ErrSituationMalformed.
func (s Situation) MarshalBinary() ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	var flags byte
	if s.MaySignInvoice {
		flags |= flagInvoice
	}
	if s.MaySignLot {
		flags |= flagLot
	}
	var body []byte
	for _, f := range []struct {
		tag byte
		v   []byte
	}{
		{tagSituationLayout, []byte{situationLayout}},
		{tagBilling, []byte(s.Billing)},
		{tagMode, []byte{byte(s.Mode)}},
		{tagConvention, []byte(s.Convention)},
		{tagSpecialty, []byte(s.Specialty)},
		{tagZone, []byte(s.Zone)},
		{tagFlags, []byte{flags}},
	} {
		body = append(body, f.tag, byte(len(f.v)))
		body = append(body, f.v...)
	}
	return append([]byte{tagSituation, byte(len(body))}, body...), nil
}

// UnmarshalBinary decodes one record of fsegate's layout. The record may
// be followed by padding (00 or FF bytes); anything else is an error
// wrapping ErrSituationMalformed, as is an empty slot (see
// SituationEmpty).
func (s *Situation) UnmarshalBinary(b []byte) error {
	if len(b) < 2 || b[0] != tagSituation {
		return malformed("not a record of fsegate's layout (tag %02X, want E1)", first(b))
	}
	n := int(b[1])
	if n > 0x7F || len(b) < 2+n {
		return malformed("record length %d does not fit the %d bytes of the file", n, len(b))
	}
	if !padding(b[2+n:]) {
		return malformed("bytes after the record are not padding")
	}
	body := b[2 : 2+n]
	field := func(tag byte, size int, what string) ([]byte, error) {
		if len(body) < 2 || body[0] != tag {
			return nil, malformed("%s: tag %02X expected", what, tag)
		}
		if int(body[1]) != size || len(body) < 2+size {
			return nil, malformed("%s: %d bytes, want %d", what, body[1], size)
		}
		v := body[2 : 2+size]
		body = body[2+size:]
		return v, nil
	}
	var v [7][]byte
	var err error
	for i, f := range []struct {
		tag  byte
		size int
		what string
	}{
		{tagSituationLayout, 1, "layout version"},
		{tagBilling, 9, "billing number"},
		{tagMode, 1, "mode of practice"},
		{tagConvention, 1, "convention"},
		{tagSpecialty, 2, "specialty"},
		{tagZone, 2, "tariff zone"},
		{tagFlags, 1, "flags"},
	} {
		if v[i], err = field(f.tag, f.size, f.what); err != nil {
			return err
		}
	}
	if len(body) > 0 {
		return malformed("%d bytes after the flags", len(body))
	}
	if v[0][0] != situationLayout {
		return malformed("layout version %d unknown (this client reads version %d)", v[0][0], situationLayout)
	}
	if v[6][0]&^(flagInvoice|flagLot) != 0 {
		return malformed("flags %02X: unknown bits", v[6][0])
	}
	got := Situation{
		Billing:        string(v[1]),
		Mode:           Mode(v[2][0]),
		Convention:     string(v[3]),
		Specialty:      string(v[4]),
		Zone:           string(v[5]),
		MaySignInvoice: v[6][0]&flagInvoice != 0,
		MaySignLot:     v[6][0]&flagLot != 0,
	}
	if err := got.validate(); err != nil {
		return err
	}
	*s = got
	return nil
}

// SituationEmpty reports whether the content of a situation file is an
// empty slot: no bytes, or a first byte 00 or FF.
func SituationEmpty(b []byte) bool {
	return len(b) == 0 || b[0] == 0x00 || b[0] == 0xFF
}

func (s Situation) validate() error {
	switch {
	case !digits(s.Billing, 9):
		return malformed("billing number %q is not 9 digits", s.Billing)
	case modeNames[s.Mode] == "":
		return malformed("mode of practice %#02x unknown", byte(s.Mode))
	case !digits(s.Convention, 1):
		return malformed("convention %q is not 1 digit", s.Convention)
	case !digits(s.Specialty, 2):
		return malformed("specialty %q is not 2 digits", s.Specialty)
	case !digits(s.Zone, 2):
		return malformed("tariff zone %q is not 2 digits", s.Zone)
	}
	return nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSituationMalformed}, args...)...)
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func padding(b []byte) bool {
	return len(bytes.Trim(b, "\x00")) == 0 || len(bytes.Trim(b, "\xff")) == 0
}

func first(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// Situations reads the card's billing situations (no PIN needed), once per
// Card: files D120 to D12F of the IAS application, in that order; a file
// absent or empty is an unused slot. A file that is not a record of
// fsegate's layout is an error wrapping ErrSituationMalformed that names
// it. A card with no situation gives an empty list.
func (c *Card) Situations(ctx context.Context) ([]Situation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.situations != nil {
		return append([]Situation{}, c.situations...), nil
	}
	out := []Situation{}
	for i := range MaxSituations {
		fid := uint16(FirstSituationFile + i)
		b, err := c.readEF(ctx, fid)
		if errors.Is(err, ErrFileNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("card: read billing situation file %04X: %w", fid, err)
		}
		if SituationEmpty(b) {
			continue
		}
		var s Situation
		if err := s.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("card: billing situation file %04X: %w", fid, err)
		}
		out = append(out, s)
	}
	c.situations = out
	return append([]Situation{}, out...), nil
}
