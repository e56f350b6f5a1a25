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

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/client/workstation"
	"github.com/fsegate/fsegate/fixtures/dev"
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

// The tests of this file run 'workstation serve' whole (flags, listener,
// card, drain) against a real gateway; the local API's handlers are tested
// in package workstation/localapi (guards, refusals, the card holder, the
// OpenAPI document).

// TestServe: sheets posted are signed, kept, sent and followed to their
// final state through the local API.
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
	v, err := dev.Card("doctor", virtual.Options{})
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
