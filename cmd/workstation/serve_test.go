package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/client/workstation"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// serveInProcess runs 'workstation serve' in this process until the test
// ends; it returns the local API's URL and token file.
func serveInProcess(t *testing.T, gatewayURL string, extra ...string) (url, tokenFile string) {
	t.Helper()
	return serveInProcessEnv(t, gatewayURL, map[string]string{"FSEGATE_DEV": "1", "FSEGATE_VIRTUAL_CARD": "doctor", "FSEGATE_PIN": "1234"}, extra...)
}

// serveInProcessAs is serveInProcess with the virtual card of profile.
func serveInProcessAs(t *testing.T, profile, gatewayURL string, extra ...string) (url, tokenFile string) {
	t.Helper()
	return serveInProcessEnv(t, gatewayURL, map[string]string{"FSEGATE_DEV": "1", "FSEGATE_VIRTUAL_CARD": profile, "FSEGATE_PIN": "1234"}, extra...)
}

// serveInProcessEnv is serveInProcess with the environment variables vars.
func serveInProcessEnv(t *testing.T, gatewayURL string, vars map[string]string, extra ...string) (url, tokenFile string) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	tokenFile = filepath.Join(dir, "token")
	var stdout, stderr bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--token-file", tokenFile,
		"--outbox", filepath.Join(dir, "ob"), "--gateway", gatewayURL, "--drain-every", "200ms"}, extra...)
	go func() { done <- program.Main(ctx, args, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop in 10 s")
		}
	})
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(tokenFile); err == nil {
			if resp, err := http.Get(url + "/v1/health"); err == nil {
				resp.Body.Close()
				return url, tokenFile
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve ended with %d:\n%s%s", code, stdout.String(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve not listening after 5 s:\n%s", stderr.String())
	return "", ""
}

func generated(t *testing.T, seed, count int, profession string) [][]byte {
	t.Helper()
	dir := t.TempDir()
	code := program.Main(context.Background(), []string{"generate", "--count", fmt.Sprint(count), "--seed", fmt.Sprint(seed), "--profession", profession, "--out-dir", dir},
		&cli.Env{Stdout: &bytes.Buffer{}, Stderr: os.Stderr, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("generate: exit %d", code)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestServe(t *testing.T) {
	g := newTestGateway(t)
	g.start()
	url, tokenFile := serveInProcess(t, g.URL)
	ctx := context.Background()

	st, err := os.Stat(tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	ws, err := workstation.FromTokenFile(url, tokenFile)
	if err != nil {
		t.Fatal(err)
	}

	// Post unsigned sheets: signed, kept, sent, receipted.
	sheets := generated(t, 51, 3, "doctor")
	for _, b := range sheets {
		res, err := ws.PostSheet(ctx, b, workstation.XML)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		if res.State != "receipted" || len(res.Receipt) == 0 {
			t.Errorf("post: state %q, receipt %s", res.State, res.Receipt)
		}
	}
	// The same sheet again: the same answer, not a doublon.
	res, err := ws.PostSheet(ctx, sheets[0], workstation.XML)
	if err != nil || res.State != "receipted" {
		t.Errorf("post again: %v %+v", err, res)
	}

	// An invalid sheet: every reason, nothing signed.
	bad := bytes.Replace(sheets[1], []byte("<Amount>"), []byte("<Amount>1"), 1)
	_, err = ws.PostSheet(ctx, bytes.Replace(bad, []byte("005100002"), []byte("005109999"), -1), workstation.XML)
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != http.StatusUnprocessableEntity || len(p.Errors) == 0 {
		t.Errorf("invalid sheet: %v", err)
	}
	// A sheet the gateway refuses: the doctor's, with another specialty
	// than the directory's for the billing number.
	other := bytes.Replace(generated(t, 52, 1, "doctor")[0], []byte("<Specialty>01<"), []byte("<Specialty>03<"), 1)
	_, err = ws.PostSheet(ctx, other, workstation.XML)
	if !errors.As(err, &p) || p.Status != http.StatusUnprocessableEntity || !p.Has("SPECIALTY_MISMATCH") {
		t.Errorf("refused sheet: %v", err)
	}

	// State, then the notices until every sheet is final.
	deadline := time.Now().Add(20 * time.Second)
	final := map[string]bool{}
	for len(final) < 3 && time.Now().Before(deadline) {
		ns, err := ws.Notices(ctx, "751000019", 2*time.Second)
		if err != nil {
			t.Fatalf("notices: %v", err)
		}
		var last uint64
		for _, n := range ns {
			last = max(last, n.Seq)
		}
		if last > 0 {
			if err := ws.Confirm(ctx, "751000019", last); err != nil {
				t.Fatalf("confirm: %v", err)
			}
		}
		for _, num := range []string{"005100001", "005100002", "005100003"} {
			s, err := ws.Sheet(ctx, "751000019", num)
			if err != nil {
				t.Fatalf("sheet %s: %v", num, err)
			}
			if s.State == "final" {
				final[num] = true
			}
		}
	}
	if len(final) < 3 {
		t.Errorf("final after 20 s: %v", final)
	}
	if _, err := ws.Sheet(ctx, "751000019", "005199999"); !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Errorf("unknown sheet: %v", err)
	}
	// The id the workstation prints names a sheet too, and so does the
	// gateway's dotted key (#22: the local API refused both).
	for _, id := range []string{"751000019-005100001", "751000019.005100001"} {
		s, err := ws.Sheet(ctx, "", id)
		if err != nil || s.Billing != "751000019" || s.Number != "005100001" || s.Gateway == nil {
			t.Errorf("sheet %s: %v %+v", id, err, s)
		}
	}
	if _, err := ws.Sheet(ctx, "", "751000019-00510x001"); !errors.As(err, &p) || p.Status != http.StatusBadRequest {
		t.Errorf("a bad sheet id: %v", err)
	}
	h, err := ws.Health(ctx)
	if err != nil || h.Card != "ok" {
		t.Errorf("health: %v %+v", err, h)
	}
}

// TestServeGuards: token, Host header, Origin; loopback only; token file
// mode.
func TestServeGuards(t *testing.T) {
	url, tokenFile := serveInProcess(t, "https://127.0.0.1:1")
	b, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(b))
	for _, tc := range []struct {
		name   string
		header map[string]string
		host   string
		want   int
	}{
		{"no token", nil, "", http.StatusUnauthorized},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, "", http.StatusUnauthorized},
		{"rebinding host", map[string]string{"Authorization": "Bearer " + token}, "evil.example:80", http.StatusMisdirectedRequest},
		{"web page", map[string]string{"Authorization": "Bearer " + token, "Origin": "https://evil.example"}, "", http.StatusForbidden},
		{"ok", map[string]string{"Authorization": "Bearer " + token}, "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, url+"/v1/outbox", nil)
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
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("a CORS header was sent")
			}
		})
	}

	// The gateway is down: a posted sheet is signed and waits (202).
	ws, _ := workstation.New(url, token)
	res, err := ws.PostSheet(context.Background(), generated(t, 53, 1, "doctor")[0], workstation.XML)
	if err != nil || res.State != "pending" {
		t.Errorf("gateway down: %v %+v", err, res)
	}
}

// TestServeOtherPractitioner: a sheet that names another practitioner
// than the card's holder is refused (403 SIGNER_MISMATCH) from the card's
// certificate, and one billed under a number outside the card's billing
// situations (403 SITUATION_UNKNOWN) from its situations, before the PIN:
// the PIN command never runs and nothing is kept. The holder's own sheet
// is then signed with the PIN asked once.
func TestServeOtherPractitioner(t *testing.T) {
	// The outbox holds a pending sheet the pharmacist signed (a copied
	// outbox): the drain does not send it with the doctor's card.
	dir := t.TempDir()
	in, ob := filepath.Join(dir, "in"), filepath.Join(dir, "ob")
	for _, args := range [][]string{
		{"generate", "--count", "1", "--seed", "57", "--profession", "pharmacist", "--out-dir", in},
		{"batch", "--offline", "--outbox", ob, in},
	} {
		vars := map[string]string{"FSEGATE_DEV": "1", "FSEGATE_VIRTUAL_CARD": "pharmacist", "FSEGATE_PIN": "1234"}
		if code, out, errs := run(context.Background(), t, vars, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", args[0], code, out, errs)
		}
	}
	asked := filepath.Join(dir, "asked")
	url, tokenFile := serveInProcess(t, "https://127.0.0.1:1", "--outbox", ob, "--pin-command", "echo asked >> "+asked+"; echo 1234")
	ws, err := workstation.FromTokenFile(url, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	time.Sleep(time.Second) // the drain looks every 200 ms
	if sheets, err := ws.Outbox(ctx); err != nil || len(sheets) != 1 || sheets[0].State != "pending" || sheets[0].Attempts != 0 {
		t.Fatalf("got outbox %+v, %v; want the pharmacist's sheet pending, never tried", sheets, err)
	}
	outside := bytes.Replace(generated(t, 58, 1, "doctor")[0], []byte("<Billing>751000019<"), []byte("<Billing>751000027<"), 1)
	for _, tc := range []struct {
		sheet []byte
		code  string
	}{
		{generated(t, 54, 1, "pharmacist")[0], "SIGNER_MISMATCH"},
		{generated(t, 56, 1, "nurse")[0], "SIGNER_MISMATCH"},
		{outside, "SITUATION_UNKNOWN"},
	} {
		_, err = ws.PostSheet(ctx, tc.sheet, workstation.XML)
		var p *client.Problem
		if !errors.As(err, &p) || p.Status != http.StatusForbidden || !p.Has(tc.code) {
			t.Fatalf("got %v, want 403 %s", err, tc.code)
		}
	}
	if b, err := os.ReadFile(asked); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the PIN command ran (%q): the PIN was asked for another practitioner's sheet", b)
	}
	if sheets, err := ws.Outbox(ctx); err != nil || len(sheets) != 1 {
		t.Errorf("got outbox %+v, %v; want the pharmacist's sheet only", sheets, err)
	}

	res, err := ws.PostSheet(ctx, generated(t, 55, 1, "doctor")[0], workstation.XML)
	if err != nil || res.State != "pending" {
		t.Fatalf("the holder's sheet (gateway down): got %+v, %v; want pending", res, err)
	}
	if b, err := os.ReadFile(asked); err != nil || string(b) != "asked\n" {
		t.Errorf("PIN command runs: got %q, %v; want one", b, err)
	}
}

// TestServeOpenAPI: every route of the local API is in the committed
// OpenAPI document, and every path of the document is served.
func TestServeOpenAPI(t *testing.T) {
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
	for _, r := range serveRoutes {
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

// TestServeSlowClient: a client that sends its headers and then holds its
// body back is cut at --read-timeout (it held the connection forever).
func TestServeSlowClient(t *testing.T) {
	url, _ := serveInProcess(t, "https://127.0.0.1:1", "--read-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /v1/sheets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n<a")); err != nil {
		t.Fatal(err)
	}
	// A bound, not a timing: the server closes long before it.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still holds the connection of a client that never sends its body")
	}
}

// TestServeCardResetByAnotherProcess: a CLI command that used the card
// (and reset it when it closed) leaves serve's session on a reset card;
// serve opens it again and asks the PIN again through its prompt, and the
// sheet is signed (#22: it answered CARD_UNAVAILABLE "card removed from
// the reader", a retry working). Through the real pcscd and a vpcd reader.
func TestServeCardResetByAnotherProcess(t *testing.T) {
	g := newTestGateway(t)
	g.start()
	v, err := virtual.Open("doctor", virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.InsertCard(t, v)
	pins := filepath.Join(t.TempDir(), "pins")
	url, tokenFile := serveInProcessEnv(t, g.URL, map[string]string{"FSEGATE_DEV": "1"},
		"--reader", r.Name, "--pin-command", "echo asked >> "+pins+"; echo 1234")
	ws, err := workstation.FromTokenFile(url, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const resets = 4 // more than a session's budget of reopens in a row
	sheets := generated(t, 53, resets+1, "doctor")
	others := generated(t, 54, resets, "doctor")
	if res, err := ws.PostSheet(ctx, sheets[0], workstation.XML); err != nil || res.State != "receipted" {
		t.Fatalf("first sheet: %v %+v", err, res)
	}
	for i := range resets {
		// Another process signs with the card, then closes it: a reset.
		var out bytes.Buffer
		in := filepath.Join(t.TempDir(), "other.xml")
		if err := os.WriteFile(in, others[i], 0o600); err != nil {
			t.Fatal(err)
		}
		signEnv := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(k string) string {
			return map[string]string{"FSEGATE_DEV": "1", "FSEGATE_PIN": "1234"}[k]
		}}
		if code := program.Main(ctx, []string{"sign", "--reader", r.Name, "--out-dir", t.TempDir(), in}, signEnv); code != 0 {
			t.Fatalf("sign in another session: exit %d: %s", code, out.String())
		}
		res, err := ws.PostSheet(ctx, sheets[i+1], workstation.XML)
		if err != nil || res.State != "receipted" {
			t.Fatalf("after the card was reset by another program (%d): %v %+v", i+1, err, res)
		}
	}
	b, err := os.ReadFile(pins)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "asked"); n != resets+1 {
		t.Errorf("PIN asked %d times, want %d (once, then once after each reset)", n, resets+1)
	}
}
