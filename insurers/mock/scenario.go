package mock

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario scripts how a mock insurer behaves (docs/insurers.md). The zero
// value is a well-behaved insurer: it takes every lot at once, checks it,
// answers ARL, returns and payments without delay, exactly once, in order.
// Every random choice is drawn from Seed and the id of the lot or sheet it
// is about, so the same scenario and seed replay the same run.
type Scenario struct {
	Name string `yaml:"name"`
	// Seed of every random choice; 0 is a valid seed.
	Seed uint64 `yaml:"seed"`
	// Rejects reject sheets that pass the checks (first matching rule wins).
	Rejects []RejectRule `yaml:"rejects"`
	// Signalements add a remark (not a state change) to a share of sheets.
	Signalements Rate `yaml:"signalements"`
	// NegativeARL refuses whole lots.
	NegativeARL NegativeARL `yaml:"negative_arl"`
	// Delays before each level of answer, counted from the previous one.
	Delays Delays `yaml:"delays"`
	// Outages are periods when the insurer takes no lots.
	Outages []Outage `yaml:"outages"`
	// NoAnswer takes lots (acks them) and stops answering at some level.
	NoAnswer NoAnswer `yaml:"no_answer"`
	// Duplicates publishes a share of answers twice (same ids).
	Duplicates Rate `yaml:"duplicates"`
	// OutOfOrder publishes payments, then returns, then the ARL.
	OutOfOrder bool `yaml:"out_of_order"`
	// SlowConsumer waits this long before taking each lot.
	SlowConsumer time.Duration `yaml:"slow_consumer"`
	// Payments scripts the bank transfers that pay tiers-payant sheets.
	Payments Payments `yaml:"payments"`
	// Misbehave breaks the protocol on purpose, for the conformance kit's
	// own tests: a conforming insurer never does these.
	Misbehave Misbehave `yaml:"misbehave"`
}

// Payments: how the insurer pays in transfers (docs/insurers.md). The zero
// value pays each lot's sheets in one transfer per practice, at once after
// the returns (Delays.Payments).
type Payments struct {
	// Group gathers the sheets payable within this window, lot after lot,
	// into one transfer per practice (grouped); 0 pays each lot's sheets
	// in a transfer of their own.
	Group time.Duration `yaml:"group"`
	// Late pays a share of the sheets Delay after the others, in a later
	// transfer (late).
	Late struct {
		Rate  float64       `yaml:"rate"`
		Delay time.Duration `yaml:"delay"`
	} `yaml:"late"`
	// Partial withholds the share Withhold (0 < w < 1) of the amount due of
	// a share Rate of the sheets, with a code and a label (partial).
	Partial struct {
		Rate     float64 `yaml:"rate"`
		Withhold float64 `yaml:"withhold"`
		Code     string  `yaml:"code"`  // default W_PARTIAL
		Label    string  `yaml:"label"` // default "montant partiellement retenu (scénario)"
	} `yaml:"partial"`
	// Reversed takes back a share Rate of the payments, Delay after them
	// (at least the group window), in a following transfer (reversed).
	Reversed struct {
		Rate  float64       `yaml:"rate"`
		Delay time.Duration `yaml:"delay"`
		Code  string        `yaml:"code"`  // default X_REVERSAL
		Label string        `yaml:"label"` // default "paiement annulé (scénario)"
	} `yaml:"reversed"`
}

// RejectRule rejects the sheets it matches with its code and label. One of
// Field (with Value), Line or Rate selects; Rate also thins the others
// (Field + Rate 0.5: half of the sheets whose field has that value).
type RejectRule struct {
	Field string  `yaml:"field"` // a path of the sheet, e.g. patient/regime (see docs/insurers.md)
	Value string  `yaml:"value"` // the value the field must have
	Line  string  `yaml:"line"`  // a line code: NGAP key, CCAM code or CIP13
	Rate  float64 `yaml:"rate"`  // share of the matching sheets, 0 < rate ≤ 1; 0 means all
	Code  string  `yaml:"code"`  // rejection code, [A-Z0-9_]
	Label string  `yaml:"label"` // rejection label
}

// Rate is a share of lots or sheets.
type Rate struct {
	Rate float64 `yaml:"rate"`
}

// NegativeARL refuses lots: the first First deliveries, then a share Rate
// of the others.
type NegativeARL struct {
	First int     `yaml:"first"`
	Rate  float64 `yaml:"rate"`
	Code  string  `yaml:"code"`  // default LOT_REFUSED
	Label string  `yaml:"label"` // default "lot refusé (scénario)"
}

// Delays before each level of answer.
type Delays struct {
	ARL      time.Duration `yaml:"arl"`      // after taking the lot
	Returns  time.Duration `yaml:"returns"`  // after the ARL
	Payments time.Duration `yaml:"payments"` // after the returns
}

// Outage: either a time window relative to the insurer's start (Start,
// Duration), during which it fetches nothing, or the next Lots deliveries,
// which it takes and leaves unacknowledged (they come back after the
// consumer's AckWait).
type Outage struct {
	Start    time.Duration `yaml:"start"`
	Duration time.Duration `yaml:"duration"`
	Lots     int           `yaml:"lots"`
}

// NoAnswer: lots taken (acknowledged on NATS) but answered only up to
// After: "" (nothing at all), "arl" (the ARL, no returns) or "returns" (no
// payments). First lots, then a share Rate.
type NoAnswer struct {
	First int     `yaml:"first"`
	Rate  float64 `yaml:"rate"`
	After string  `yaml:"after"`
}

// Misbehave lists protocol violations the conformance kit must catch.
type Misbehave struct {
	DuplicateARL  bool  `yaml:"duplicate_arl"`  // a second ARL, with another id, for each lot
	MissingReturn bool  `yaml:"missing_return"` // no return at all for the first sheet of each lot
	AmountDelta   int64 `yaml:"amount_delta"`   // cents added to every payment
}

// LoadScenario reads a scenario (strict: unknown fields are errors).
func LoadScenario(b []byte) (*Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return &s, nil
}

// LoadScenarioFile reads a scenario file.
func LoadScenarioFile(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return LoadScenario(b)
}

func (s *Scenario) check() error {
	rates := []float64{s.Signalements.Rate, s.NegativeARL.Rate, s.NoAnswer.Rate, s.Duplicates.Rate, s.Payments.Late.Rate, s.Payments.Partial.Rate, s.Payments.Reversed.Rate}
	p := &s.Payments
	if p.Group < 0 || p.Late.Delay < 0 || p.Reversed.Delay < 0 {
		return fmt.Errorf("payments: durations must not be negative")
	}
	if p.Partial.Rate > 0 && (p.Partial.Withhold <= 0 || p.Partial.Withhold >= 1) {
		return fmt.Errorf("payments.partial.withhold %v, want a share strictly between 0 and 1", p.Partial.Withhold)
	}
	for _, c := range []string{p.Partial.Code, p.Reversed.Code} {
		if c != "" && !validCode(c) {
			return fmt.Errorf("payments: code %q must be [A-Z0-9_]", c)
		}
	}
	for _, r := range s.Rejects {
		rates = append(rates, r.Rate)
		n := 0
		for _, set := range []bool{r.Field != "", r.Line != "", r.Rate > 0} {
			if set {
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("reject rule %+v selects nothing: give field and value, line, or rate", r)
		}
		if (r.Field == "") != (r.Value == "") {
			return fmt.Errorf("reject rule %+v: field and value go together", r)
		}
		if !validCode(r.Code) {
			return fmt.Errorf("reject rule %+v: code must be [A-Z0-9_], 1 to 32 characters", r)
		}
	}
	for _, r := range rates {
		if r < 0 || r > 1 {
			return fmt.Errorf("rate %v out of [0, 1]", r)
		}
	}
	if s.NegativeARL.Code != "" && !validCode(s.NegativeARL.Code) {
		return fmt.Errorf("negative_arl.code %q must be [A-Z0-9_]", s.NegativeARL.Code)
	}
	switch s.NoAnswer.After {
	case "", "arl", "returns":
	default:
		return fmt.Errorf("no_answer.after %q, want empty, arl or returns", s.NoAnswer.After)
	}
	for _, o := range s.Outages {
		if (o.Lots > 0) == (o.Duration > 0) {
			return fmt.Errorf("outage %+v: give either lots or start and duration", o)
		}
	}
	if s.Delays.ARL < 0 || s.Delays.Returns < 0 || s.Delays.Payments < 0 || s.SlowConsumer < 0 {
		return fmt.Errorf("delays must not be negative")
	}
	return nil
}

func validCode(c string) bool {
	if len(c) == 0 || len(c) > 32 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !(c[i] >= 'A' && c[i] <= 'Z' || c[i] >= '0' && c[i] <= '9' || c[i] == '_') {
			return false
		}
	}
	return true
}

// draw gives a number in [0, 1) determined by the seed, a purpose and an
// id: the same choice about the same lot or sheet in every replay.
func (s *Scenario) draw(purpose, id string) float64 {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], s.Seed)
	h.Write(b[:])
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(id))
	sum := h.Sum(nil)
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

func (s *Scenario) hit(rate float64, purpose, id string) bool {
	return rate > 0 && s.draw(purpose, id) < rate
}
