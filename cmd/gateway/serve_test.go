package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/mock"
	"github.com/fsegate/fsegate/internal/cli"
)

// logBuffer captures the gateway's structured logs (the NIR test reads
// them).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startGateway runs the whole gateway on free ports with its embedded NATS
// in a temp dir, as 'make run' does, and stops it when the test ends.
// setup, when given, changes Main after the flags (test hooks).
func startGateway(t testing.TB, args ...string) *Main {
	t.Helper()
	return startGatewayWith(t, nil, args...)
}

func startGatewayWith(t testing.TB, setup func(*Main), args ...string) *Main {
	t.Helper()
	m := &Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	env := &cli.Env{Stderr: io.Discard, Stdout: io.Discard, Getenv: func(string) string { return "" }}
	base := []string{"--dev", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}
	if err := m.ParseFlags(env, append(base, args...)); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(m)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestServeReady(t *testing.T) {
	m := startGateway(t)
	resp, err := http.Get("http://" + m.AdminAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200", resp.StatusCode)
	}
	m.Close()
	if _, err := http.Get("http://" + m.AdminAddr() + "/readyz"); err == nil {
		t.Fatal("readyz still answers after Close")
	}
}

func TestServeWithoutDevNeedsCertificate(t *testing.T) {
	m := &Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	env := &cli.Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}
	if err := m.ParseFlags(env, []string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Run(context.Background()); err == nil {
		t.Fatal("serve without --dev and without a certificate started; want an error")
	}
}

// cardTLS is the TLS client certificate of a fixture card's
// authentication key.
func cardTLS(t testing.TB, card string) *tls.Certificate {
	t.Helper()
	c, err := fixtures.ReadFile("pki/cards/" + card + "-auth.crt")
	if err != nil {
		t.Fatal(err)
	}
	k, err := fixtures.ReadFile("pki/cards/" + card + "-auth.key")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return &cert
}

func fixtureRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	b, err := fixtures.ReadFile("pki/root.crt")
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b)
	return p
}

func newClient(t testing.TB, m *Main, card string) *client.Client {
	t.Helper()
	cfg := client.Config{URL: "https://" + m.APIAddr(), Roots: fixtureRoots(t)}
	if card != "" {
		cfg.Certificate = cardTLS(t, card)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type sheetMaker struct {
	t      testing.TB
	sheets *mock.Sheets
	dir    *insurers.Directory
}

func newSheetMaker(t testing.TB) *sheetMaker {
	t.Helper()
	s, err := dev.Sheets(time.Now())
	if err != nil {
		t.Fatalf("fixture sheets (insurers/mock): %v", err)
	}
	d, err := dev.Insurers()
	if err != nil {
		t.Fatal(err)
	}
	return &sheetMaker{t: t, sheets: s, dir: d}
}

// make signs sheet number for insurer id (the doctor of billing 751000019).
func (sm *sheetMaker) make(id string, number int, brk string, seed uint64) *mock.Made {
	sm.t.Helper()
	in, ok := sm.dir.Insurer(id)
	if !ok {
		sm.t.Fatalf("no insurer %s", id)
	}
	made, err := sm.sheets.Make(context.Background(), in, number, brk, seed)
	if err != nil {
		sm.t.Fatalf("make sheet %d: %v", number, err)
	}
	return made
}

func problemOf(t testing.TB, err error) *client.Problem {
	t.Helper()
	var p *client.Problem
	if !errors.As(err, &p) {
		t.Fatalf("got %v, want a refusal (problem+json)", err)
	}
	return p
}

// waitFinal polls until every sheet is in a final state.
func waitFinal(t testing.TB, c *client.Client, billing string, numbers []string, within time.Duration) map[string]*client.Status {
	t.Helper()
	final := map[string]bool{"accepted": true, "paid": true, "rejected": true, "delivery_failed": true, "returns_overdue": true}
	out := map[string]*client.Status{}
	deadline := time.Now().Add(within)
	for _, n := range numbers {
		for {
			st, err := c.Sheet(context.Background(), billing, n)
			if err == nil && final[st.State] && allFinal(st, final) {
				out[n] = st
				break
			}
			if time.Now().After(deadline) {
				if st != nil {
					t.Fatalf("sheet %s: state %s after %v, want a final state; %s", n, st.State, within, st.Raw)
				}
				t.Fatalf("sheet %s: %v after %v", n, err, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return out
}

func allFinal(st *client.Status, final map[string]bool) bool {
	for _, d := range st.Destinations {
		if !final[d.State] {
			return false
		}
	}
	return true
}

func TestEndToEnd(t *testing.T) {
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway logs:\n%s", tail(logs.String(), 60))
		}
	})
	scenario := &mock.Scenario{
		Name:        "e2e",
		NegativeARL: mock.NegativeARL{First: 1},
		Rejects:     []mock.RejectRule{{Rate: 0.2, Code: "RET_TEST", Label: "refus de test"}},
		Duplicates:  mock.Rate{Rate: 0.3},
	}
	m := startGatewayWith(t, func(m *Main) {
		m.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		m.Tick = 50 * time.Millisecond
		m.Scenario = scenario
	}, "--mock-insurers", "--lot-max-age", "300ms", "--lot-max-sheets", "4")
	t.Logf("gateway at %s", m.APIAddr())
	doctor := newClient(t, m, "doctor")
	sm := newSheetMaker(t)
	ctx := context.Background()
	const billing = "751000019"

	// Intake: 10 sheets to the CPAM de Paris, receipts name the lot.
	var numbers []string
	signed := map[string][]byte{}
	for i := 1; i <= 10; i++ {
		made := sm.make("cpam751", 1000+i, "", uint64(i))
		r, err := doctor.SendSheet(ctx, made.Signed)
		if err != nil {
			t.Fatalf("sheet %d: %v", i, err)
		}
		if r.State != "queued" || r.Billing != billing || len(r.Destinations) == 0 || r.Destinations[0].Insurer != "cpam751" || r.Destinations[0].LotKey != "cpam751."+billing || r.Destinations[0].CloseBy.IsZero() || r.RulesVersion == "" {
			t.Fatalf("receipt %d: %s", i, r.Raw)
		}
		numbers = append(numbers, r.Number)
		signed[r.Number] = made.Signed
	}

	// Duplicates: the same bytes → the same receipt; another sheet with
	// the same number → DUPLICATE_SHEET.
	again, err := doctor.SendSheet(ctx, signed[numbers[0]])
	if err != nil || !again.Again {
		t.Fatalf("same sheet again: %v, %+v", err, again)
	}
	other := sm.make("cpam751", 1001, "", 999)
	_, err = doctor.SendSheet(ctx, other.Signed)
	if p := problemOf(t, err); !p.Has("DUPLICATE_SHEET") || p.Status != http.StatusConflict {
		t.Fatalf("doublon: %v", p)
	}

	// Refusals.
	bad := sm.make("cpam751", 2001, "NIR_KEY", 1)
	_, err = doctor.SendSheet(ctx, bad.Signed)
	if p := problemOf(t, err); !p.Has("NIR_KEY") || p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("broken NIR: %v", p)
	}
	remplacant := newClient(t, m, "remplacant")
	_, err = remplacant.SendSheet(ctx, sm.make("cpam751", 2002, "", 1).Signed)
	if p := problemOf(t, err); !p.Has("SENDER_MISMATCH") {
		t.Fatalf("sent by another card than the signer: %v", p)
	}
	nobody := newClient(t, m, "")
	_, err = nobody.SendSheet(ctx, signed[numbers[0]])
	if p := problemOf(t, err); !p.Has("CLIENT_CERT_REQUIRED") || p.Status != http.StatusUnauthorized {
		t.Fatalf("no certificate: %v", p)
	}
	revoked := newClient(t, m, "revoked")
	_, err = revoked.SendSheet(ctx, signed[numbers[0]])
	if p := problemOf(t, err); !p.Has("CERT_REVOKED") {
		t.Fatalf("revoked certificate: %v", p)
	}
	dry, err := doctor.DryRun(ctx, sm.make("cpam751", 3001, "", 1).Signed)
	if err != nil || !dry.DryRun {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if _, err := doctor.Sheet(ctx, billing, "000003001"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("dry run queued something: %v", err)
	}

	// Lots, ARL− (first lot of each insurer refused, re-sent), ARL+,
	// returns: every sheet reaches a final state.
	sts := waitFinal(t, doctor, billing, numbers, 15*time.Second)
	lots := map[string]bool{}
	for n, st := range sts {
		if st.Destinations[0].Lot == "" {
			t.Errorf("sheet %s: no lot", n)
		}
		lots[st.Destinations[0].Lot] = true
	}
	if len(lots) < 3 {
		t.Errorf("10 sheets in lots of ≤ 4: got %d lots, want ≥ 3", len(lots))
	}

	// Notices: read, confirm, gone.
	ns, err := doctor.Notices(ctx, billing, 5*time.Second)
	if err != nil || len(ns) == 0 {
		t.Fatalf("notices: %v, %d", err, len(ns))
	}
	events := map[string]int{}
	var last uint64
	for _, n := range ns {
		events[n.Event]++
		last = n.Seq
	}
	if events["arl_negative"] == 0 || events["arl_positive"] == 0 {
		t.Errorf("notices %v: want ARL− and ARL+", events)
	}
	if err := doctor.Confirm(ctx, billing, last); err != nil {
		t.Fatal(err)
	}
	rest, err := doctor.Notices(ctx, billing, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range rest {
		if n.Seq <= last {
			t.Fatalf("notice %d delivered again after confirming %d", n.Seq, last)
		}
	}
	// Someone else's billing number: refused.
	if _, err := doctor.Notices(ctx, "751000027", 0); problemOf(t, err).Status != http.StatusForbidden {
		t.Fatalf("another practice's notices: %v", err)
	}

	// Metrics and audit.
	resp, err := http.Get("http://" + m.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"fsegate_sheets_received_total", `fsegate_sheets_refused_total{code="DUPLICATE_SHEET"}`, "fsegate_sheets_queued_total 10", "fsegate_sheets_final_total", `fsegate_lots_total{insurer="cpam751"}`, `fsegate_acks_total{level="arl_negative"}`, "fsegate_e2e_seconds_bucket", `fsegate_queue_depth{insurer="cpam751"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var out bytes.Buffer
	if code := program.Main(ctx, []string{"audit", "verify", "--admin", m.AdminAddr(), "--token-file", operatorTokenPath(m)}, &cli.Env{Stdout: &out, Stderr: &out}); code != 0 {
		t.Fatalf("audit verify: exit %d: %s", code, out.String())
	}

	// No NIR in the logs.
	checkNoPII(t, logs.String(), signed)

	// Each line names its insurer once, and a lot id names it once (#22:
	// "insurer=cpam751 insurer=cpam751", "cpam751-cpam751-751000019-…").
	if !strings.Contains(logs.String(), `"msg":"lot answered"`) {
		t.Error("no mock insurer's 'lot answered' line in the logs: the checks below see nothing")
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Count(line, `"insurer":`) > 1 {
			t.Errorf("a log line names its insurer twice: %s", line)
			break
		}
		if strings.Contains(line, `"lot":"cpam751-cpam751-`) {
			t.Errorf("a lot id names its insurer twice: %s", line)
			break
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
