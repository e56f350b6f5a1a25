package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/loadgen"
	"github.com/fsegate/fsegate/internal/secretfile"
)

// chromiumPath is Debian's chromium, which 'make deps' installs.
const chromiumPath = "/usr/bin/chromium"

// TestDashboardInBrowser runs the gateway with mock insurers, sends a
// load and a tampered sheet, waits until the pipeline is idle, opens the
// dashboard in headless Chromium and checks that the figures it shows
// (after its live updates) equal the gateway's /metrics. It saves a
// screenshot to $FSEGATE_DASHBOARD_SCREENSHOT, or to the test's temp dir.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("no Chromium at %s (%v): 'make deps' installs it (Debian package chromium)", chromiumPath, err)
	}
	m := startGateway(t, "--mock-insurers", "--lot-max-age", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	ps, err := dev.Practitioners(0)
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := loadgen.Prepare(ctx, ps, devTariffs(t), 30, 7, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := fixtures.ReadFile("pki/root.crt")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	rep, err := loadgen.Run(ctx, loadgen.Config{URL: "https://" + m.APIAddr(), Roots: roots, Follow: true, FollowFor: 2 * time.Minute}, ps, corpus)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Receipted != 30 || rep.Final != 30 {
		t.Fatalf("load: %d receipted, %d final; want 30 and 30\n%s", rep.Receipted, rep.Final, rep)
	}

	// A tampered sheet: its number changed after signing.
	var tampered []byte
	var profile string
	for _, s := range corpus.Sheets {
		old := []byte(">" + s.Number + "<")
		if bytes.Contains(s.Signed, old) {
			tampered = bytes.Replace(s.Signed, old, []byte(">999999999<"), 1)
			profile = ps[s.P].Profile
			break
		}
	}
	if tampered == nil {
		t.Fatal("no sheet number found in the signed corpus to tamper with")
	}
	c := newClient(t, m, profile)
	_, err = c.SendSheet(ctx, tampered)
	var prob *client.Problem
	if !errors.As(err, &prob) {
		t.Fatalf("tampered sheet: got %v, want a refusal", err)
	}

	admin := "http://" + m.AdminAddr()
	metrics := waitIdle(t, ctx, admin)
	if metrics.get(`fsegate_sheets_refused_total`) == 0 {
		t.Fatalf("no refusal counted after the tampered sheet: %v", metrics)
	}

	// Sign in as an operator the way a user does: the dashboard's sign-in
	// page, the content of the gateway's operator token file.
	bctx := browser(t)
	signInWithToken(t, bctx, admin, operatorToken(t, m))
	// Two Server-Sent Event updates applied: the figures are live ones.
	wctx, wcancel := context.WithTimeout(bctx, 30*time.Second)
	_, err = chromedp.Run(wctx, chromedp.Poll[bool](`Number(document.body.dataset.updates || 0) >= 3`, chromedp.WithPollingInterval(100*time.Millisecond)))
	wcancel()
	if err != nil {
		t.Fatalf("the dashboard got no live updates: %v", err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]int64](shownJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) == 0 {
		t.Fatal("the dashboard shows no figures")
	}
	// What /metrics says now (the pipeline is idle, nothing moves).
	metrics = scrape(t, admin)
	want := map[string]int64{
		"received": metrics.get("fsegate_sheets_received_total"),
		"refused":  metrics.get("fsegate_sheets_refused_total"),
		"queued":   metrics.get("fsegate_sheets_queued_total"),
		"final":    metrics.get("fsegate_sheets_final_total"),
	}
	for _, s := range metrics.series("fsegate_sheets_refused_total") {
		want["refused:"+s.label("code")] = s.value
	}
	for _, s := range metrics.series("fsegate_sheets_final_total") {
		want["final:"+s.label("state")] = s.value
	}
	for _, s := range metrics.series("fsegate_lots_total") {
		want["lots:"+s.label("insurer")] = s.value
	}
	for _, s := range metrics.series("fsegate_acks_total") {
		want["acks:"+s.label("level")] = s.value
	}
	if want["received"] != 31 || want["queued"] != 30 || want["final"] != 30 {
		t.Errorf("metrics: received %d, queued %d, final %d; want 31, 30, 30", want["received"], want["queued"], want["final"])
	}
	for k, v := range want {
		if shown[k] != v {
			t.Errorf("%s: the dashboard shows %d, /metrics says %d", k, shown[k], v)
		}
	}
	for k, v := range shown {
		if _, ok := want[k]; !ok && v != 0 && k != "in-flight" {
			t.Errorf("%s: the dashboard shows %d, /metrics has no such series", k, v)
		}
	}
	if shown["in-flight"] != 0 {
		t.Errorf("in flight: shown %d, want 0 once idle", shown["in-flight"])
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("FSEGATE_DASHBOARD_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "dashboard.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))

	// One sheet's page shows the state the queue has.
	s := corpus.Sheets[0]
	st, err := m.Queue().Status(ctx, s.Billing, s.Number)
	if err != nil {
		t.Fatal(err)
	}
	// Found the way a user does: the id the workstation prints, typed in
	// the header's "Find sheet" box (#22: it wanted BILLING.NUMBER).
	if err := chromedp.Do(bctx, chromedp.Navigate(admin+"/dashboard/")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS("#find-sheet"), fse.SheetID(s.Billing, s.Number)),
		chromedp.Submit(chromedp.CSS("#find-sheet")),
		chromedp.WaitVisible(chromedp.CSS("#sheet-state"))); err != nil {
		t.Fatalf("find sheet %s: %v", fse.SheetID(s.Billing, s.Number), err)
	}
	state, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("sheet-state").dataset.state`))
	if err != nil {
		t.Fatal(err)
	}
	if state != string(st.State) {
		t.Errorf("sheet %s.%s: the dashboard shows %q, the queue says %q", s.Billing, s.Number, state, st.State)
	}
	// Its history tells the lot-level steps too, final as it is (#22).
	steps, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#history .state")).map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"received", "queued", "batched", "arl_positive"} {
		if !slices.Contains(steps, want) {
			t.Errorf("sheet %s: the history shows %v, without %s", fse.SheetID(s.Billing, s.Number), steps, want)
		}
	}
	// An insurer the directory does not hold: no page (#22: 200 and zeros).
	req, _ := http.NewRequest("GET", admin+"/dashboard/insurers/nobody", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken(t, m))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown insurer's page: %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}
	// An insurer's lots page lists as many lots as were published to it
	// (each once: the mock insurers answer every first attempt).
	for _, ls := range metrics.series("fsegate_lots_total") {
		ins := ls.label("insurer")
		if err := chromedp.Do(bctx, chromedp.Navigate(admin+"/dashboard/insurers/"+ins)); err != nil {
			t.Fatal(err)
		}
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int64](`document.querySelectorAll("#lots-table tr[data-lot]").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n != ls.value {
			t.Errorf("lots of %s: the page lists %d, /metrics counts %d attempts", ins, n, ls.value)
		}
	}
	// The rejects of every practice, as CSV: one row per sheet rejected.
	var rejects int64
	for _, p := range ps {
		req, _ := http.NewRequest("GET", admin+"/dashboard/practices/"+p.Prac.Billing+"/rejects?format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+operatorToken(t, m))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		if err != nil || len(rows) == 0 || rows[0][0] != "billing" {
			t.Fatalf("rejects CSV of %s: %v %v", p.Prac.Billing, rows, err)
		}
		rejects += int64(len(rows) - 1)
	}
	if rejects != want["final:rejected"] {
		t.Errorf("rejects listed: %d, /metrics final rejected: %d", rejects, want["final:rejected"])
	}
}

// shownJS reads the figures the pipeline page shows, by their stable ids
// and data attributes, from the text on screen.
const shownJS = `(() => {
  const o = {};
  const num = el => Number(el.textContent.trim());
  o.received = num(document.getElementById("received"));
  o.refused = num(document.getElementById("refused-total"));
  o.queued = num(document.getElementById("queued"));
  o.final = num(document.getElementById("final-total"));
  o["in-flight"] = num(document.getElementById("in-flight"));
  document.querySelectorAll("tr[data-refused-code]").forEach(tr => o["refused:" + tr.dataset.refusedCode] = num(tr.querySelector("td.num")));
  document.querySelectorAll("tr[data-final-state]").forEach(tr => o["final:" + tr.dataset.finalState] = num(tr.querySelector("td.num")));
  document.querySelectorAll("td[data-lots-insurer]").forEach(td => o["lots:" + td.dataset.lotsInsurer] = num(td));
  document.querySelectorAll("tr[data-acks-level]").forEach(tr => o["acks:" + tr.dataset.acksLevel] = num(tr.querySelector("td.num")));
  return o;
})()`

// signInWithToken opens the dashboard, which answers its sign-in page,
// types the operator token in its form and lands on the pipeline.
func signInWithToken(t *testing.T, bctx context.Context, admin, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(admin+"/"),
		chromedp.WaitVisible(chromedp.CSS("#operator-token")),
		chromedp.SendKeys(chromedp.CSS("#operator-token"), token),
		chromedp.Click(chromedp.CSS("#token-submit")),
		chromedp.WaitVisible(chromedp.CSS("#received")),
	); err != nil {
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		t.Fatalf("sign in with the operator token: %v (at %s)", err, loc)
	}
	if who, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#who"))); !strings.Contains(who, "operator (token)") {
		t.Fatalf("signed in as %q, want the operator (token)", who)
	}
}

// operatorTokenPath is where the gateway of startGateway keeps its
// operator token ('gateway serve --dev' creates it in its data dir).
func operatorTokenPath(m *Main) string { return filepath.Join(m.DataDir, operatorTokenFile) }

// operatorToken reads it as 'gateway resubmit --token-file' does.
func operatorToken(t *testing.T, m *Main) string {
	t.Helper()
	tok, err := secretfile.Read(operatorTokenPath(m))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// browser starts headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserWith(t)
}

// browserWith starts headless Chromium with extra options (for example
// host-resolver-rules, to give a name to a test server).
func browserWith(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	opts = append(opts, extra...)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v ('make deps' installs it)", err)
	}
	return bctx
}

// waitIdle polls /metrics until every queued sheet is final, no lot waits
// for an insurer, and two scrapes a second apart agree.
func waitIdle(t *testing.T, ctx context.Context, admin string) *scraped {
	t.Helper()
	var prev string
	for {
		s := scrape(t, admin)
		var waiting int64
		for _, d := range s.series("fsegate_queue_depth") {
			waiting += d.value
		}
		idle := s.get("fsegate_sheets_queued_total") == s.get("fsegate_sheets_final_total") && waiting == 0
		if idle && s.raw == prev {
			return s
		}
		if idle {
			prev = s.raw
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the pipeline never went idle: %s", s.raw)
		case <-time.After(time.Second):
		}
	}
}

type sample struct {
	name   string
	labels map[string]string
	value  int64
}

func (s sample) label(k string) string { return s.labels[k] }

type scraped struct {
	samples []sample
	raw     string // the fsegate_ lines but the CRLs' age (to tell whether anything moved)
}

func (s *scraped) series(name string) []sample {
	var out []sample
	for _, x := range s.samples {
		if x.name == name {
			out = append(out, x)
		}
	}
	return out
}

// get sums a series over its labels.
func (s *scraped) get(name string) int64 {
	var n int64
	for _, x := range s.series(name) {
		n += x.value
	}
	return n
}

func (s *scraped) String() string { return s.raw }

// scrape reads /metrics in the Prometheus text format (the fsegate_
// series; histogram sample lines are skipped).
func scrape(t *testing.T, admin string) *scraped {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &scraped{}
	var raw strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "fsegate_") || strings.Contains(line, "_bucket{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		key, val := line[:i], line[i+1:]
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		name, labels, _ := strings.Cut(key, "{")
		smp := sample{name: name, labels: map[string]string{}, value: int64(f)}
		for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				smp.labels[k] = strings.Trim(v, `"`)
			}
		}
		out.samples = append(out.samples, smp)
		if name != "fsegate_crl_age_seconds" { // an age moves with the clock, not the pipeline
			raw.WriteString(line + "\n")
		}
	}
	out.raw = raw.String()
	return out
}
