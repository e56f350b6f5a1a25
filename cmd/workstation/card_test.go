package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

func run(ctx context.Context, t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := program.Main(ctx, args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// TestCardCommandsThroughPCSCD runs 'workstation virtual-card' on a leased
// vpcd reader and the card commands against it through pcscd.
func TestCardCommandsThroughPCSCD(t *testing.T) {
	r := testenv.LeaseReader(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		code, _, _ := run(ctx, t, nil, "virtual-card", "--profile", "pharmacist", "--reader-port", strconv.Itoa(r.Port), "--state", t.TempDir()+"/state.json")
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("virtual-card exited %d, want 0", code)
		}
		testenv.WaitAbsent(t, r.Name)
	})
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, out, _ = run(context.Background(), t, nil, "card", "list")
		if strings.Contains(out, r.Name) && strings.Contains(out, "yes") && lineOf(out, r.Name) != "" && strings.Contains(lineOf(out, r.Name), "CPS3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("card list never showed a CPS3 in %q:\n%s", r.Name, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, out, errs := run(context.Background(), t, nil, "card", "info", "--reader", r.Name)
	if code != 0 || !strings.Contains(out, "RPPS:") || !strings.Contains(out, "99700075122") || !strings.Contains(out, "Pharmacien") || !strings.Contains(out, "3 tries left") ||
		!strings.HasSuffix(lineOf(out, "situation:"), " 751000027 liberal, specialty 00, convention 1, zone 10; may sign invoices and lots") {
		t.Fatalf("card info: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = run(context.Background(), t, map[string]string{"FSEGATE_PIN": "9999"}, "card", "verify-pin", "--reader", r.Name)
	if code != 1 || !strings.Contains(errs, "wrong PIN: 2 tries left") {
		t.Fatalf("wrong PIN: exit %d, %s", code, errs)
	}
	code, out, errs = run(context.Background(), t, map[string]string{"FSEGATE_PIN": "1234"}, "card", "verify-pin", "--reader", r.Name)
	if code != 0 || !strings.Contains(out, "PIN correct") {
		t.Fatalf("verify-pin: exit %d, %s%s", code, out, errs)
	}
	code, _, errs = run(context.Background(), t, nil, "card", "info", "--reader", "no such reader")
	if code != 1 || !strings.Contains(errs, "no card reader") || !strings.Contains(errs, "hint:") {
		t.Fatalf("no reader: exit %d, %s", code, errs)
	}
}

func lineOf(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestTwoCardsHint: with cards in two readers and none named, the error
// says so and the hint names --reader, not "insert the card" (#22).
func TestTwoCardsHint(t *testing.T) {
	for _, p := range []string{"doctor", "pharmacist"} {
		v, err := dev.Card(p, virtual.Options{})
		if err != nil {
			t.Fatal(err)
		}
		testenv.InsertCard(t, v)
	}
	in := filepath.Join(t.TempDir(), "sheet.xml")
	if err := os.WriteFile(in, generated(t, 55, 1, "doctor")[0], 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(context.Background(), t, map[string]string{"FSEGATE_DEV": "1", "FSEGATE_PIN": "1234"}, "sign", "--out-dir", t.TempDir(), in)
	if code != 1 || !strings.Contains(stderr, "cards in several readers") || !strings.Contains(stderr, "hint: name the reader of the card to use with --reader") || strings.Contains(stderr, "insert") {
		t.Errorf("sign with two cards and no --reader: exit %d\n%s", code, stderr)
	}
}
