package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/gateway/dashboard"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/queue"
)

// TestUnauthorizedOverHTTP2: a request without a client certificate gets
// the problem+json body over HTTP/2 (curl's default) as over HTTP/1.1
// (#22: the HTTP/2 answer was a 401 with an empty body).
func TestUnauthorizedOverHTTP2(t *testing.T) {
	m := startGateway(t)
	for _, proto := range []string{"HTTP/2.0", "HTTP/1.1"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: fixtureRoots(t)}, ForceAttemptHTTP2: proto == "HTTP/2.0"}
		if proto == "HTTP/1.1" {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		// A large body still being sent when the refusal comes: the
		// answer must not be cut off by the connection's close.
		big := strings.Repeat("<FSE/>", 700000)
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/sheets", "<FSE/>"},
			{"GET", "/v1/sheets/000000001", ""},
			{"GET", "/v1/notices", ""},
			{"POST", "/v1/sheets", big},
			{"POST", "/v1/batches", big},
			{"POST", "/v1/sheets", big},
		} {
			r, _ := http.NewRequest(req.method, "https://"+m.APIAddr()+req.path, strings.NewReader(req.body))
			if req.body == "" {
				r.Body = nil
			}
			resp, err := c.Do(r)
			if err != nil {
				t.Fatalf("%s %s %s: %v", proto, req.method, req.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != proto {
				t.Fatalf("%s %s: answered over %s, want %s", req.method, req.path, resp.Proto, proto)
			}
			var p struct {
				Status int `json:"status"`
				Errors []struct {
					Code string `json:"code"`
				} `json:"errors"`
			}
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" ||
				json.Unmarshal(body, &p) != nil || len(p.Errors) == 0 || p.Errors[0].Code != "CLIENT_CERT_REQUIRED" {
				t.Errorf("%s %s %s: %d %q %q, want 401 application/problem+json CLIENT_CERT_REQUIRED", proto, req.method, req.path, resp.StatusCode, resp.Header.Get("Content-Type"), bytes.TrimSpace(body))
			}
		}
		tr.CloseIdleConnections()
	}
}

// TestConformanceWithoutConformanceMode: 'gateway conformance' against the
// --dev gateway's mock insurers (they serve the live wire only) says once
// that nothing answered and asks about --conformance, with no table of
// FAILs (#22).
func TestConformanceWithoutConformanceMode(t *testing.T) {
	m := startGateway(t, "--mock-insurers")
	var out, errb bytes.Buffer
	code := program.Main(context.Background(), []string{"conformance", "--dev", "--insurer", "cpam751", "--nats-url", m.NATSClientURL(), "--timeout", "3s"},
		&cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	if code != 1 || out.Len() != 0 || strings.Count(errb.String(), "answered nothing") != 1 ||
		!strings.Contains(errb.String(), "hint: is the insurer running with --conformance?") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}

// TestTotalsAfterRestart: a restarted gateway's totals (/metrics, hence
// the dashboard's overview) come from the store's recorded state, not from
// zero beside insurer pages full of lots (#22).
func TestTotalsAfterRestart(t *testing.T) {
	data := t.TempDir()
	args := []string{"--data-dir", data, "--mock-insurers", "--lot-max-age", "300ms"}
	m := startGateway(t, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sendDoctorAndNurse(t, ctx, m, 6, true)
	want := scrape(t, "http://"+m.AdminAddr())
	if want.get("fsegate_sheets_received_total") != 6 || want.get("fsegate_sheets_final_total") != 6 {
		t.Fatalf("before the restart: %s", want)
	}
	m.Close()

	m = startGateway(t, args...)
	var got *scraped
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got = scrape(t, "http://"+m.AdminAddr())
		if got.get("fsegate_sheets_received_total") == 6 || time.Now().After(deadline) {
			break
		}
	}
	for _, name := range []string{"fsegate_sheets_received_total", "fsegate_sheets_queued_total", "fsegate_sheets_final_total", "fsegate_lots_total", "fsegate_e2e_seconds_count"} {
		if got.get(name) != want.get(name) {
			t.Errorf("%s after the restart: %d, before: %d", name, got.get(name), want.get(name))
		}
	}
	for _, s := range want.series("fsegate_lots_total") {
		found := false
		for _, g := range got.series("fsegate_lots_total") {
			found = found || (g.label("insurer") == s.label("insurer") && g.value == s.value)
		}
		if !found {
			t.Errorf("lots of %s after the restart: not %d", s.label("insurer"), s.value)
		}
	}
}

// TestLatencyQuantilesNearTheMean: sheets all final in about 10.5 s show
// a p50 near 10.5 s (#22: 20 s beside a mean of 10 s, the histogram
// having no bucket between 10 and 30 s).
func TestLatencyQuantilesNearTheMean(t *testing.T) {
	m := newMetrics()
	for i := range 100 {
		m.SheetFinal(queue.Accepted, 10*time.Second+time.Duration(i)*10*time.Millisecond) // 10.00 to 10.99 s
	}
	s, err := dashboard.Read(m.reg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l := s.Latency
	if l.Count != 100 || l.Mean < 10.4 || l.Mean > 10.6 {
		t.Fatalf("latency %+v", l)
	}
	for name, q := range map[string]float64{"p50": l.P50, "p90": l.P90, "p99": l.P99} {
		if q < 10 || q > 15 {
			t.Errorf("%s %.1f s, want within the 10-15 s bucket that holds every sample (mean %.1f s)", name, q, l.Mean)
		}
	}
}
