package mock

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/insurers/lot"
)

func runKit(t *testing.T, e *env, id string) *Report {
	t.Helper()
	sh := fixtureSheets(t, time.Now())
	seed := fixtureSeed(t, "gateway")
	r, err := Conformance(context.Background(), KitConfig{NATSURL: e.url, NKeySeed: seed, Insurer: e.insurer(id), Sheets: sh, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	r.WriteTable(&b)
	t.Logf("\n%s", b.String())
	return r
}

func TestConformancePassesAgainstOurMock(t *testing.T) {
	e := newEnv(t)
	e.start("cpam751", nil, lot.Conformance)
	r := runKit(t, e, "cpam751")
	if r.Failed() {
		t.Fatalf("our mock insurer fails conformance: %+v", r.Failures())
	}
	if len(r.Results) < 20 {
		t.Fatalf("only %d checks ran", len(r.Results))
	}
	// A second run against the same endpoint passes too (fresh numbers).
	if r := runKit(t, e, "cpam751"); r.Failed() {
		t.Fatalf("second run: %+v", r.Failures())
	}
}

func TestConformanceNamesBrokenRules(t *testing.T) {
	tests := []struct {
		name      string
		misbehave Misbehave
		rule      string
		detail    string
	}{
		{"duplicate ARL", Misbehave{DuplicateARL: true}, RuleOneARL, "2 ARLs with different ids"},
		{"missing return", Misbehave{MissingReturn: true}, RuleOneFinal, "no final return for sheet"},
		{"wrong amount", Misbehave{AmountDelta: 1}, RuleAmount, "want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.start("cpam931", &Scenario{Misbehave: tt.misbehave}, lot.Conformance)
			r := runKit(t, e, "cpam931")
			if !r.Failed() {
				t.Fatal("a misbehaving insurer passed conformance")
			}
			found := false
			for _, f := range r.Failures() {
				if f.Rule == tt.rule && strings.Contains(f.Detail, tt.detail) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no failure of rule %s mentioning %q; failures: %+v", tt.rule, tt.detail, r.Failures())
			}
		})
	}
}

// TestConformanceNoAnswer: against an insurer that serves only the live
// wire, the kit says once that nothing answered (#22: 11 FAILs next to
// vacuous passes).
func TestConformanceNoAnswer(t *testing.T) {
	e := newEnv(t)
	e.start("cpam751", nil, lot.Live)
	sh := fixtureSheets(t, time.Now())
	seed := fixtureSeed(t, "gateway")
	r, err := Conformance(context.Background(), KitConfig{NATSURL: e.url, NKeySeed: seed, Insurer: e.insurer("cpam751"), Sheets: sh, Timeout: 3 * time.Second})
	if !errors.Is(err, ErrNoAnswer) || r != nil {
		t.Fatalf("got %v, %v; want ErrNoAnswer and no report", r, err)
	}
	if !strings.Contains(err.Error(), "none was taken from fse.conformance.lots.cpam751") {
		t.Errorf("the error does not say no lot was taken: %v", err)
	}
}
