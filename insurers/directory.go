package insurers

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/insurers/lot"
)

// Kind says whether an insurer is a compulsory (AMO) or complementary (AMC)
// insurer.
type Kind string

const (
	AMO Kind = "AMO" // assurance maladie obligatoire: a caisse of a régime
	AMC Kind = "AMC" // assurance maladie complémentaire: a mutuelle, identified by its AMC number
)

// Insurer is one entry of the directory.
type Insurer struct {
	ID        string    `yaml:"id"`   // NATS subject token: lots on fse.lots.<id>, consumer <id>
	Name      string    `yaml:"name"` // for people
	Kind      Kind      `yaml:"kind"`
	Serves    []Serve   `yaml:"serves"` // what it serves; at least one
	Lots      LotLimits `yaml:"lots"`
	Deadlines Deadlines `yaml:"deadlines"`
	Retry     Retry     `yaml:"retry"`
	NKey      string    `yaml:"nkey"` // public key of its NATS user ("U…")
	// Holidays is the insurer's public holiday calendar (a CSV file read by
	// fse.ParseHolidays; relative to the directory file), for its working
	// days; empty: the gateway's calendar (--holidays).
	Holidays string `yaml:"holidays,omitempty"`
}

// Serve is one routing pattern. For an AMO: Regime (2 digits) and Caisse (3
// digits) exact, Centre exact (4 digits), a prefix ending in "*" ("00*"),
// or empty/"*" for any centre. For an AMC: AMC (9 digits) only.
type Serve struct {
	Regime string `yaml:"regime,omitempty"`
	Caisse string `yaml:"caisse,omitempty"`
	Centre string `yaml:"centre,omitempty"`
	AMC    string `yaml:"amc,omitempty"`
}

// LotLimits close a lot: at MaxSheets sheets, at MaxBytes encoded bytes
// (below the NATS max payload, 1 MiB by default), or MaxAge after its first
// sheet, whichever comes first.
type LotLimits struct {
	MaxSheets int           `yaml:"max_sheets"`
	MaxBytes  int           `yaml:"max_bytes"`
	MaxAge    time.Duration `yaml:"max_age"`
}

// Deadlines the gateway holds the insurer to, counted from the lot's
// publication (Delivery: taken and acknowledged by its consumer; ARL:
// answered by an ARL) or from the positive ARL (Returns: every sheet has a
// final return). Past them the lot is re-sent, then the sheets are
// delivery_failed or returns_overdue.
//
// ReturnsWorkingDays, when set, replaces Returns: the returns are due by
// the end of that many working days after the day of the positive ARL, in
// the insurer's holiday calendar (7: the tiers-payant payment deadline,
// fse.PaymentDays). An insurer that sets its own Returns and no
// ReturnsWorkingDays keeps its duration.
type Deadlines struct {
	Delivery           time.Duration `yaml:"delivery"`
	ARL                time.Duration `yaml:"arl"`
	Returns            time.Duration `yaml:"returns"`
	ReturnsWorkingDays int           `yaml:"returns_working_days"`
}

// Retry is the budget of attempts per lot (the first send included) and the
// back-off between them (doubling from Backoff up to MaxBackoff).
type Retry struct {
	Attempts   int           `yaml:"attempts"`
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Directory is the list of insurers and the routing table built from it.
type Directory struct {
	// Gateway is the public nkey of the gateway's own NATS user (full
	// access); empty if the directory names none.
	Gateway  string
	Insurers []*Insurer
	byID     map[string]*Insurer
}

// Destination is where a care sheet goes, in plain strings: the same fields
// as fse.Destination, so a value of that type converts with
// insurers.Destination(d).
type Destination struct {
	Kind   string // "AMO" or "AMC"
	Regime string
	Caisse string
	Centre string
	AMC    string
}

func (d Destination) String() string {
	if d.Kind == string(AMC) {
		return "AMC " + d.AMC
	}
	return "AMO régime " + d.Regime + " caisse " + d.Caisse + " centre " + d.Centre
}

// ErrUnknown is wrapped by the error of a lookup that finds no insurer;
// the gateway refuses such a sheet with INSURER_UNKNOWN.
var ErrUnknown = errors.New("no insurer of the directory serves this destination")

// UnknownError says which destination has no insurer.
type UnknownError struct{ Dest Destination }

func (e *UnknownError) Error() string { return "route " + e.Dest.String() + ": " + ErrUnknown.Error() }
func (e *UnknownError) Unwrap() error { return ErrUnknown }

type file struct {
	Gateway  string     `yaml:"gateway_nkey"`
	Defaults defaults   `yaml:"defaults"`
	Insurers []*Insurer `yaml:"insurers"`
}

type defaults struct {
	Lots      LotLimits `yaml:"lots"`
	Deadlines Deadlines `yaml:"deadlines"`
	Retry     Retry     `yaml:"retry"`
}

// Built-in defaults for what neither an insurer nor the file's defaults set.
var builtin = defaults{
	Lots:      LotLimits{MaxSheets: 500, MaxBytes: 900_000, MaxAge: 10 * time.Second},
	Deadlines: Deadlines{Delivery: 10 * time.Minute, ARL: 30 * time.Minute, Returns: 72 * time.Hour, ReturnsWorkingDays: 7},
	Retry:     Retry{Attempts: 5, Backoff: time.Second, MaxBackoff: 5 * time.Minute},
}

// Load reads a directory (docs/insurers.md). Unknown fields, duplicate ids
// or patterns, and malformed values are errors.
func Load(b []byte) (*Directory, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("insurer directory: %w", err)
	}
	d := &Directory{Gateway: f.Gateway, Insurers: f.Insurers, byID: map[string]*Insurer{}}
	if d.Gateway != "" && !validUserKey(d.Gateway) {
		return nil, fmt.Errorf("insurer directory: gateway_nkey %q is not a public user nkey", d.Gateway)
	}
	if len(d.Insurers) == 0 {
		return nil, fmt.Errorf("insurer directory: no insurers")
	}
	patterns := map[Serve]string{}
	for i, in := range d.Insurers {
		if in == nil {
			return nil, fmt.Errorf("insurer directory: entry %d is empty", i+1)
		}
		if !lot.ValidID(in.ID) {
			return nil, fmt.Errorf("insurer directory: entry %d: id %q is not a lowercase subject token", i+1, in.ID)
		}
		if d.byID[in.ID] != nil {
			return nil, fmt.Errorf("insurer directory: id %s listed twice", in.ID)
		}
		d.byID[in.ID] = in
		in.fill(f.Defaults)
		if err := in.check(); err != nil {
			return nil, fmt.Errorf("insurer directory: %s: %w", in.ID, err)
		}
		for _, s := range in.Serves {
			s.Centre = strings.TrimSuffix(s.Centre, "*") // "", "00" and "0001" as keys
			if other, dup := patterns[s]; dup {
				return nil, fmt.Errorf("insurer directory: %s and %s serve the same destinations %+v", other, in.ID, s)
			}
			patterns[s] = in.ID
		}
	}
	return d, nil
}

// LoadFile reads a directory from a file.
func LoadFile(path string) (*Directory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("insurer directory: %w", err)
	}
	return Load(b)
}

func (in *Insurer) fill(def defaults) {
	ownDuration := in.Deadlines.Returns > 0 && in.Deadlines.ReturnsWorkingDays == 0
	for _, d := range []defaults{def, builtin} {
		if !ownDuration {
			setInt(&in.Deadlines.ReturnsWorkingDays, d.Deadlines.ReturnsWorkingDays)
		}
		setInt(&in.Lots.MaxSheets, d.Lots.MaxSheets)
		setInt(&in.Lots.MaxBytes, d.Lots.MaxBytes)
		setDur(&in.Lots.MaxAge, d.Lots.MaxAge)
		setDur(&in.Deadlines.Delivery, d.Deadlines.Delivery)
		setDur(&in.Deadlines.ARL, d.Deadlines.ARL)
		setDur(&in.Deadlines.Returns, d.Deadlines.Returns)
		setInt(&in.Retry.Attempts, d.Retry.Attempts)
		setDur(&in.Retry.Backoff, d.Retry.Backoff)
		setDur(&in.Retry.MaxBackoff, d.Retry.MaxBackoff)
	}
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func setDur(v *time.Duration, def time.Duration) {
	if *v == 0 {
		*v = def
	}
}

func (in *Insurer) check() error {
	if in.Name == "" {
		return fmt.Errorf("no name")
	}
	if in.Kind != AMO && in.Kind != AMC {
		return fmt.Errorf("kind %q, want AMO or AMC", in.Kind)
	}
	if len(in.Serves) == 0 {
		return fmt.Errorf("serves nothing")
	}
	for _, s := range in.Serves {
		if in.Kind == AMC {
			if !digits(s.AMC, 9) || s.Regime != "" || s.Caisse != "" || s.Centre != "" {
				return fmt.Errorf("AMC pattern %+v: want only amc, 9 digits", s)
			}
			continue
		}
		c := strings.TrimSuffix(s.Centre, "*")
		if !digits(s.Regime, 2) || !digits(s.Caisse, 3) || s.AMC != "" ||
			len(c) > 4 || !digits(c, len(c)) || (len(c) < 4 && s.Centre != "" && !strings.HasSuffix(s.Centre, "*")) {
			return fmt.Errorf("AMO pattern %+v: want regime (2 digits), caisse (3 digits), centre (4 digits, a prefix ending in *, or none)", s)
		}
	}
	switch {
	case in.Lots.MaxSheets < 1 || in.Lots.MaxSheets > lot.MaxSheets:
		return fmt.Errorf("lots.max_sheets %d, want 1 to %d", in.Lots.MaxSheets, lot.MaxSheets)
	case in.Lots.MaxBytes < 4096:
		return fmt.Errorf("lots.max_bytes %d, want at least 4096", in.Lots.MaxBytes)
	case in.Lots.MaxAge < 0 || in.Deadlines.Delivery < 0 || in.Deadlines.ARL < 0 || in.Deadlines.Returns < 0 || in.Deadlines.ReturnsWorkingDays < 0 ||
		in.Retry.Backoff < 0 || in.Retry.MaxBackoff < in.Retry.Backoff:
		return fmt.Errorf("durations must be positive and max_backoff ≥ backoff")
	case in.Retry.Attempts < 1:
		return fmt.Errorf("retry.attempts %d, want ≥ 1", in.Retry.Attempts)
	case !validUserKey(in.NKey):
		return fmt.Errorf("nkey %q is not a public user nkey", in.NKey)
	}
	return nil
}

// Insurer returns the insurer with this id.
func (d *Directory) Insurer(id string) (*Insurer, bool) {
	in, ok := d.byID[id]
	return in, ok
}

// Route finds the insurer serving a destination. For an AMO the most
// specific pattern wins (an exact centre over a prefix over any centre). No
// insurer: an *UnknownError wrapping ErrUnknown.
func (d *Directory) Route(dest Destination) (*Insurer, error) {
	var best *Insurer
	bestLen := -1
	for _, in := range d.Insurers {
		if string(in.Kind) != dest.Kind {
			continue
		}
		for _, s := range in.Serves {
			if in.Kind == AMC {
				if s.AMC == dest.AMC {
					return in, nil
				}
				continue
			}
			if s.Regime != dest.Regime || s.Caisse != dest.Caisse {
				continue
			}
			c := strings.TrimSuffix(s.Centre, "*")
			if !strings.HasPrefix(dest.Centre, c) || (s.Centre == c && c != "" && c != dest.Centre) {
				continue
			}
			if len(c) > bestLen {
				best, bestLen = in, len(c)
			}
		}
	}
	if best == nil {
		return nil, &UnknownError{Dest: dest}
	}
	return best, nil
}

// AMO is Route for a compulsory insurer.
func (d *Directory) AMO(regime, caisse, centre string) (*Insurer, error) {
	return d.Route(Destination{Kind: string(AMO), Regime: regime, Caisse: caisse, Centre: centre})
}

// AMCNumber is Route for a complementary insurer.
func (d *Directory) AMCNumber(number string) (*Insurer, error) {
	return d.Route(Destination{Kind: string(AMC), AMC: number})
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
