package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/fse/tables"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// testNow is the day of the sheets of workstation/testdata.
var testNow = time.Date(2026, 3, 18, 10, 30, 0, 0, time.UTC)

const testToken = "0123456789abcdef0123456789abcdef"

// downGateway is an address where no gateway answers.
const downGateway = "https://127.0.0.1:1"

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// testRules are the caisse's rules at testNow with the fixtures' tables.
func testRules(t *testing.T) fse.Options {
	t.Helper()
	set, err := tables.Load(os.DirFS(filepath.Join(moduleRoot(), "fixtures", "tariffs")))
	if err != nil {
		t.Fatal(err)
	}
	var o fse.Options
	set.Apply(&o)
	b, err := os.ReadFile(filepath.Join(moduleRoot(), "fixtures", "holidays.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Holidays, err = fse.ParseHolidays(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	o.Now = func() time.Time { return testNow }
	return o
}

// testSheet reads workstation/testdata/name, with each edit's old bytes
// replaced by its new ones.
func testSheet(t *testing.T, name string, edits ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(), "workstation", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(edits); i += 2 {
		if !bytes.Contains(b, []byte(edits[i])) {
			t.Fatalf("%s holds no %q", name, edits[i])
		}
		b = bytes.ReplaceAll(b, []byte(edits[i]), []byte(edits[i+1]))
	}
	return b
}

// syncBuffer is a bytes.Buffer the drain's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a Server on an httptest server, with the in-process
// virtual card of profile, the gateway at gatewayURL and the outbox of
// dir; asked counts the PIN entries.
type testServer struct {
	*Server
	URL   string
	asked *atomic.Int32
	log   *syncBuffer
}

func newTestServer(t *testing.T, profile, gatewayURL, dir string) *testServer {
	t.Helper()
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dev.Card(profile, virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{asked: &atomic.Int32{}, log: &syncBuffer{}}
	pin := func(context.Context, card.PINRequest) ([]byte, error) {
		ts.asked.Add(1)
		return []byte("1234"), nil
	}
	ts.Server = &Server{
		Flow:    &workstation.Flow{Rules: testRules(t), AcceptSigned: true, Outbox: ob},
		Token:   testToken,
		Gateway: gatewayURL,
		OpenCard: func(ctx context.Context) (card.Token, error) {
			return card.Open(ctx, card.Loopback(v), card.Options{PIN: pin})
		},
		PIN: pin,
		Connect: func(ctx context.Context, c card.Token) (*client.Client, error) {
			cert, err := c.TLSCertificate(ctx)
			if err != nil {
				return nil, err
			}
			return client.New(client.Config{URL: gatewayURL, Certificate: &cert})
		},
	}
	ts.Server.Log = newLogger(ts.log)
	hs := httptest.NewUnstartedServer(ts.Handler())
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(ts.Close)
	u, _ := url.Parse(hs.URL)
	ts.Port, _ = strconv.Atoi(u.Port())
	ts.URL = hs.URL
	return ts
}

// do sends a request with the token and returns the status and the body.
func (ts *testServer) do(t *testing.T, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// problemOf decodes a problem+json body.
func problemOf(t *testing.T, b []byte) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem: %s", b)
	}
	return p
}

func hasCode(p api.Problem, code problem.Code) bool {
	for _, e := range p.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

// TestGuards: token, Host header, Origin; no CORS header. Once admitted,
// a sheet posted while the gateway is down is signed and waits (202).
func TestGuards(t *testing.T) {
	ts := newTestServer(t, "doctor", downGateway, t.TempDir())
	for _, tc := range []struct {
		name     string
		header   map[string]string
		host     string
		want     int
		wantCode problem.Code
	}{
		{"no token", nil, "", http.StatusUnauthorized, CodeTokenInvalid},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, "", http.StatusUnauthorized, CodeTokenInvalid},
		{"rebinding host", map[string]string{"Authorization": "Bearer " + testToken}, "evil.example:80", http.StatusMisdirectedRequest, CodeHostRefused},
		{"another port", map[string]string{"Authorization": "Bearer " + testToken}, "127.0.0.1:1", http.StatusMisdirectedRequest, CodeHostRefused},
		{"web page", map[string]string{"Authorization": "Bearer " + testToken, "Origin": "https://evil.example"}, "", http.StatusForbidden, CodeOriginRefused},
		{"ok", map[string]string{"Authorization": "Bearer " + testToken}, "", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/outbox", nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("got status %d, want %d", resp.StatusCode, tc.want)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("a CORS header was sent")
			}
			if tc.wantCode != "" {
				if p := problemOf(t, b); !hasCode(p, tc.wantCode) || p.Status != tc.want {
					t.Errorf("got %+v, want %d %s", p, tc.want, tc.wantCode)
				}
			}
			if got := resp.Header.Get("WWW-Authenticate"); (tc.want == http.StatusUnauthorized) != (got != "") {
				t.Errorf("got WWW-Authenticate %q with status %d", got, resp.StatusCode)
			}
		})
	}

	// The gateway is down: a posted sheet is signed and waits (202).
	status, b := ts.do(t, http.MethodPost, "/v1/sheets", testSheet(t, "doctor.xml"))
	var res SheetResult
	if err := json.Unmarshal(b, &res); err != nil || status != http.StatusAccepted || res.State != outbox.Pending || res.Key != "751000019-000100001" {
		t.Errorf("gateway down: got %d %s, want 202 pending", status, b)
	}
	// Posted again (the caller lost the answer): the same answer.
	if status, again := ts.do(t, http.MethodPost, "/v1/sheets", testSheet(t, "doctor.xml")); status != http.StatusAccepted || !bytes.Equal(again, b) {
		t.Errorf("posted again: got %d %s, want the first answer %s", status, again, b)
	}
	if n := ts.asked.Load(); n != 1 {
		t.Errorf("PIN asked %d times, want 1", n)
	}
}

// TestOtherPractitioner: a sheet that names another practitioner than the
// card's holder is refused (403 SIGNER_MISMATCH) from the card's
// certificate, and one billed under a number outside the card's billing
// situations (403 SITUATION_UNKNOWN) from its situations, before the PIN:
// nothing is kept. A pending sheet of another practitioner in the outbox
// is kept by the drain, not sent with this card.
func TestOtherPractitioner(t *testing.T) {
	dir := t.TempDir()
	// The outbox holds a pending sheet the pharmacist signed (a copied
	// outbox).
	{
		ob, err := outbox.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := dev.Profile("pharmacist")
		if err != nil {
			t.Fatal(err)
		}
		v, err := virtual.New(p, virtual.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := workstation.OpenSession(context.Background(), workstation.SessionConfig{
			Open: func(ctx context.Context) (card.Token, error) { return card.Open(ctx, card.Loopback(v), card.Options{}) },
			PIN:  func(context.Context, card.PINRequest) ([]byte, error) { return []byte("1234"), nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		sh, err := workstation.Decode("pharmacist.xml", testSheet(t, "pharmacist.xml"))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := sess.Sign(context.Background(), sh)
		sess.Close()
		if err != nil {
			t.Fatal(err)
		}
		flow := &workstation.Flow{Outbox: ob}
		if _, _, err := flow.Plan(sh); err != nil {
			t.Fatal(err)
		}
		if _, err := flow.Put(sh, doc); err != nil {
			t.Fatal(err)
		}
	}
	ts := newTestServer(t, "doctor", downGateway, dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ts.Drain(ctx, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(ts.log.String(), "not sent with this card"); {
		if time.Now().After(deadline) {
			t.Fatalf("the drain did not hold the pharmacist's sheet in 10 s: %s", ts.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	for _, tc := range []struct {
		name  string
		sheet []byte
		code  problem.Code
	}{
		{"pharmacist's", testSheet(t, "pharmacist.xml", "000200001", "000200002"), "SIGNER_MISMATCH"},
		{"outside the situations", testSheet(t, "doctor.xml", "<Billing>751000019<", "<Billing>751000027<"), "SITUATION_UNKNOWN"},
	} {
		status, b := ts.do(t, http.MethodPost, "/v1/sheets", tc.sheet)
		if p := problemOf(t, b); status != http.StatusForbidden || p.Status != http.StatusForbidden || !hasCode(p, tc.code) {
			t.Errorf("%s: got %d %s, want 403 %s", tc.name, status, b, tc.code)
		}
	}
	if n := ts.asked.Load(); n != 0 {
		t.Errorf("the PIN was asked %d times for other practitioners' sheets, want 0", n)
	}
	status, b := ts.do(t, http.MethodGet, "/v1/outbox", nil)
	var out struct{ Sheets []SheetResult }
	if err := json.Unmarshal(b, &out); err != nil || status != http.StatusOK || len(out.Sheets) != 1 ||
		out.Sheets[0].Key != "751000027-000200001" || out.Sheets[0].State != outbox.Pending || out.Sheets[0].Attempts != 0 {
		t.Errorf("got outbox %d %s; want the pharmacist's sheet only, pending, never tried", status, b)
	}
}

// TestRequests: what is not a request of the documented form is refused
// with its code and status, before the card or the gateway.
func TestRequests(t *testing.T) {
	ts := newTestServer(t, "doctor", downGateway, t.TempDir())
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		status             int
		code               problem.Code
	}{
		{"not a sheet", "POST", "/v1/sheets", []byte("<a/>"), 422, "SHEET_UNKNOWN_ELEMENT"},
		{"a sheet over 1 MiB", "POST", "/v1/sheets", bytes.Repeat([]byte(" "), 1<<20+1), 413, CodeBodyTooLarge},
		{"the rules refuse", "POST", "/v1/sheets", testSheet(t, "doctor.xml", "<NIR>", "<NIR>1"), 422, ""},
		{"a bad sheet id", "GET", "/v1/sheets/751000019-00010x001", nil, 400, CodeRequestInvalid},
		{"billing numbers differ", "GET", "/v1/sheets/751000019-000100001?billing=751000027", nil, 400, CodeRequestInvalid},
		{"a bad wait", "GET", "/v1/notices?wait=soon", nil, 400, CodeRequestInvalid},
		{"a bad ack", "POST", "/v1/notices/ack", []byte(`{"seq": 0}`), 400, CodeRequestInvalid},
		{"a bad date", "GET", "/v1/payments?from=18/03/2026", nil, 400, CodeRequestInvalid},
		{"a bad tolerance", "POST", "/v1/payments/reconcile?tolerance=400", []byte("date,amount\n"), 400, CodeRequestInvalid},
		{"a statement without amounts", "POST", "/v1/payments/reconcile", []byte("date;montant\n2026-03-18;1\n"), 400, "BANK_CSV_INVALID"},
		{"a statement without lines", "POST", "/v1/payments/reconcile", []byte("date,amount\n"), 400, "BANK_CSV_INVALID"},
		{"a prescription over 8 MiB", "POST", "/v1/prescriptions", bytes.Repeat([]byte("x"), 8<<20+1), 413, CodeBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, b := ts.do(t, tc.method, tc.path, tc.body)
			p := problemOf(t, b)
			if status != tc.status || p.Status != tc.status || (tc.code != "" && !hasCode(p, tc.code)) || len(p.Errors) == 0 {
				t.Errorf("got %d %s, want %d %s", status, b, tc.status, tc.code)
			}
		})
	}
	if n := ts.asked.Load(); n != 0 {
		t.Errorf("the PIN was asked %d times, want 0", n)
	}
}

// TestUnknownSheet: a sheet neither the outbox nor the gateway knows is
// 404 SHEET_UNKNOWN.
func TestUnknownSheet(t *testing.T) {
	ts := newTestServer(t, "doctor", downGateway, t.TempDir())
	status, b := ts.do(t, http.MethodGet, "/v1/sheets/751000019-000199999", nil)
	if p := problemOf(t, b); status != http.StatusNotFound || !hasCode(p, CodeSheetUnknown) {
		t.Errorf("got %d %s, want 404 %s", status, b, CodeSheetUnknown)
	}
}

// TestErrorStatus: the status of each kind of refusal.
func TestErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{&Error{Kind: KindOutbox}, 500},
		{errors.New("disk full"), 500},
		{&Error{Kind: KindRequest}, 400},
		{&Error{Kind: KindToken}, 401},
		{&Error{Kind: KindOrigin}, 403},
		{&Error{Kind: KindUnknown}, 404},
		{&Error{Kind: KindConflict}, 409},
		{&Error{Kind: KindTooLarge}, 413},
		{&Error{Kind: KindHost}, 421},
		{&Error{Kind: KindSheet, Status: 403}, 422},
		{&Error{Kind: KindSigner, Errors: []api.Error{{Code: "SIGNER_MISMATCH"}}}, 403},
		{&Error{Kind: KindSigner, Errors: []api.Error{{Code: "SITUATION_MAY_NOT_SIGN"}}}, 403},
		{&Error{Kind: KindGateway}, 502},
		{&Error{Kind: KindCard}, 503},
		{&Error{Kind: KindRelayed, Status: 409}, 409},
	} {
		if got := ErrorStatus(tc.err); got != tc.want {
			t.Errorf("ErrorStatus(%#v): got %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestOpenAPI: every route of the local API is in the committed OpenAPI
// document, and every path of the document is served.
func TestOpenAPI(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot(), "docs", "workstation-openapi.yaml"))
	if err != nil {
		t.Fatalf("docs/workstation-openapi.yaml: %v", err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, r := range Routes() {
		method, path, _ := strings.Cut(r, " ")
		routes[strings.ToLower(method)+" "+path] = true
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is served but not documented", r)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !routes[method+" "+path] {
				t.Errorf("%s %s is documented but not served", method, path)
			}
		}
	}
}

func newLogger(w io.Writer) *log.Logger { return log.New(w, "serve: ", 0) }

// TestErrorStatusRegistry: the status each kind gives its code is the one
// the code is registered with (docs/errors.md), so the local API and the
// registry do not drift.
func TestErrorStatusRegistry(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		code problem.Code
	}{
		{KindToken, CodeTokenInvalid}, {KindHost, CodeHostRefused}, {KindOrigin, CodeOriginRefused},
		{KindCard, CodeCardUnavailable}, {KindConflict, CodeOutboxConflict}, {KindOutbox, CodeOutboxUnavailable},
		{KindGateway, CodeGatewayUnreachable}, {KindUnknown, CodeSheetUnknown}, {KindRequest, CodeRequestInvalid},
		{KindTooLarge, CodeBodyTooLarge}, {KindRequest, "BANK_CSV_INVALID"},
		{KindSigner, "SIGNER_MISMATCH"}, {KindSigner, "CARD_TYPE_FORBIDDEN"}, {KindSigner, "SITUATION_UNKNOWN"}, {KindSigner, "SITUATION_MAY_NOT_SIGN"},
	} {
		c, ok := api.Lookup(tc.code)
		if !ok {
			t.Errorf("%s is not registered", tc.code)
			continue
		}
		if got := ErrorStatus(refuse(tc.kind, "", tc.code, "", "", "")); got != c.Status {
			t.Errorf("%s: got status %d, registered with %d", tc.code, got, c.Status)
		}
	}
}

func TestCheckAddress(t *testing.T) {
	for addr, want := range map[string]error{
		"127.0.0.1:7600": nil, "[::1]:7600": nil, "localhost:7600": nil, "127.0.0.2:0": nil,
		"0.0.0.0:7600": ErrNotLoopback, "192.168.1.2:7600": ErrNotLoopback, "example.org:7600": ErrNotLoopback,
	} {
		if err := CheckAddress(addr); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckAddress(%s): got %v, want %v", addr, err, want)
		}
	}
	if err := CheckAddress("127.0.0.1"); err == nil || errors.Is(err, ErrNotLoopback) {
		t.Errorf("no port: got %v, want host:port asked", err)
	}
}
