package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// TestDemoWithLeftoverVirtualCard: a doctor's virtual card left running in
// the first vpcd reader does not take over a pharmacist's demo: the demo
// plugs its card into the next reader and signs as the pharmacist (#22:
// 'PROFILE=pharmacist make demo' announced a pharmacist card and signed as
// the doctor). Through the real pcscd and vpcd.
func TestDemoWithLeftoverVirtualCard(t *testing.T) {
	// Two readers side by side: the leftover card's and the next one.
	first := testenv.LeaseReader(t)
	for {
		r := testenv.LeaseReader(t)
		if r.Port == first.Port+1 {
			break
		}
		if r.Port > first.Port+1 {
			first = r // held until the test ends; try from there
		}
	}
	doctor, err := dev.Card("doctor", virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = virtual.Serve(ctx, first.Addr, doctor, nil) }()
	t.Cleanup(func() { cancel(); <-done; testenv.WaitAbsent(t, first.Name) })
	waitPresent(t, first.Name)

	g := newTestGateway(t)
	g.start()
	code, stdout, stderr := run(context.Background(), t, map[string]string{"FSEGATE_DEV": "1", "FSEGATE_PIN": "1234"},
		"demo", "--gateway", g.URL, "--virtual-card", "pharmacist", "--count", "2", "--wait", "2m", "--reader-port", strconv.Itoa(first.Port))
	if code != 0 {
		// A pharmacy sheet names a prescription the gateway never
		// received: refused PRESCRIPTION_UNKNOWN at the intake, after the
		// signature and its signer were checked (the SCOR path of #20 is
		// another issue's). Anything else fails the test.
		for _, l := range strings.Split(stdout, "\n") {
			if strings.Contains(l, "refused:") && !strings.Contains(l, "[PRESCRIPTION_UNKNOWN]") {
				t.Fatalf("demo: exit %d\n%s\n%s", code, stdout, stderr)
			}
		}
		if !strings.Contains(stderr, "refused at the intake") || strings.Contains(stderr, "is the gateway running") {
			t.Fatalf("demo: exit %d\n%s\n%s", code, stdout, stderr)
		}
	}
	if !strings.Contains(stdout, "plugged into the vpcd reader on port "+strconv.Itoa(first.Port+1)) ||
		!strings.Contains(stdout, "billing number 751000027") || strings.Contains(stdout, "751000019") {
		t.Errorf("the demo did not sign as the pharmacist in the next reader:\n%s", stdout)
	}
}

// waitPresent waits until pcscd sees a card in reader.
func waitPresent(t *testing.T, reader string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rs, _ := card.Readers(context.Background())
		for _, r := range rs {
			if r.Name == reader && r.CardPresent {
				return
			}
		}
	}
	t.Fatalf("no card seen in %q after 10 s", reader)
}
