package intake

import (
	"context"
	"testing"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/insurers/mock"
	"github.com/fsegate/fsegate/signature"
)

const doctor = "899700218896" // the fixtures' doctor, billing 751000019

// newService is an intake with the fixtures' trust, practices, insurers and
// rules, and no queue: enough for Check.
func newService(t *testing.T) *Service {
	t.Helper()
	trust, err := dev.Trust()
	if err != nil {
		t.Fatal(err)
	}
	pd, err := dev.Practices()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := dev.Insurers()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := dev.Options(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Service{Verifier: &signature.Verifier{Trust: trust}, Practices: &Practices{Directory: pd}, Directory: dir, Rules: rules}
}

func signed(t *testing.T, insurer string, number int) *mock.Made {
	t.Helper()
	sheets, err := dev.Sheets(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := dev.Insurers()
	if err != nil {
		t.Fatal(err)
	}
	in, ok := dir.Insurer(insurer)
	if !ok {
		t.Fatalf("no insurer %s", insurer)
	}
	m, err := sheets.Make(context.Background(), in, number, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func codes(errs []api.Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, string(e.Code))
	}
	return out
}

func has(errs []api.Error, code string) bool {
	for _, e := range errs {
		if string(e.Code) == code {
			return true
		}
	}
	return false
}

// TestCheck: a sheet signed by the doctor and sent with the doctor's card
// passes and is routed; the same bytes sent by another card, altered, or
// not XML at all are refused with their codes, every reason at once.
func TestCheck(t *testing.T) {
	s := newService(t)
	m := signed(t, "cpam751", 100001)
	ctx := context.Background()

	out, res := s.Check(ctx, m.Signed, doctor)
	if len(res.Errors) > 0 {
		t.Fatalf("got %v, want the sheet accepted", codes(res.Errors))
	}
	if out.Billing != "751000019" || out.Number != m.Sheet.Number || out.Digest == "" || out.RulesVersion == "" {
		t.Errorf("queued sheet %+v", out)
	}
	if len(out.Destinations) == 0 || out.Destinations[0].Insurer != "cpam751" || out.Destinations[0].Kind != "AMO" {
		t.Errorf("destinations %+v, want cpam751 (AMO) first", out.Destinations)
	}

	_, res = s.Check(ctx, m.Signed, "899700075122") // the pharmacist's card
	if !has(res.Errors, "SENDER_MISMATCH") {
		t.Errorf("sent by another card: got %v, want SENDER_MISMATCH", codes(res.Errors))
	}

	altered := []byte(string(m.Signed))
	i := len(altered) / 3
	for altered[i] < '0' || altered[i] > '8' {
		i++
	}
	altered[i]++
	if _, res = s.Check(ctx, altered, doctor); len(res.Errors) == 0 {
		t.Errorf("an altered sheet passed")
	}

	_, res = s.Check(ctx, []byte("not a care sheet"), doctor)
	if len(res.Errors) == 0 || res.Receipt != nil {
		t.Errorf("not XML: got %v", codes(res.Errors))
	}
}
