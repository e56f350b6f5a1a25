package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"

	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// The tests of this file run the real gateway (cmd/gateway) as a
// subprocess: package main of cmd/gateway cannot be imported.

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds the gateway and the workstation once per test binary.
func binaries(t testing.TB) (gateway, workstation string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "fsegate-ws-e2e-")
		if buildErr != nil {
			return
		}
		root := moduleRoot()
		for _, b := range []string{"gateway", "workstation"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, b), "./cmd/"+b)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./cmd/%s: %v\n%s", b, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binaries: %v", buildErr)
	}
	return filepath.Join(buildDir, "gateway"), filepath.Join(buildDir, "workstation")
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// testGateway is a gateway subprocess on fixed ports, so it can be killed
// and started again on the same data directory and address.
type testGateway struct {
	t                     testing.TB
	bin, dataDir          string
	port, admin, natsPort int
	URL                   string
	cmd                   *exec.Cmd
	log                   *os.File
	extra                 []string
}

func newTestGateway(t testing.TB, extra ...string) *testGateway {
	bin, _ := binaries(t)
	g := &testGateway{t: t, bin: bin, dataDir: t.TempDir(), port: freePort(t), admin: freePort(t), natsPort: freePort(t), extra: extra}
	g.URL = fmt.Sprintf("https://127.0.0.1:%d", g.port)
	t.Cleanup(func() {
		g.kill()
		if t.Failed() {
			g.dumpLogs()
		}
	})
	return g
}

// dumpLogs prints the end of every log of this gateway (one per start): a
// failure on CI leaves nothing else to read once the temporary directory
// is gone.
func (g *testGateway) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(g.dataDir, "..", "gateway-*.log"))
	for _, name := range logs {
		b, _ := os.ReadFile(name)
		if len(b) > 64<<10 {
			b = b[len(b)-64<<10:]
		}
		g.t.Logf("gateway log %s (end):\n%s", filepath.Base(name), b)
	}
}

func (g *testGateway) start() {
	g.t.Helper()
	args := append([]string{"serve", "--dev", "--mock-insurers", "--data-dir", g.dataDir,
		"--listen", fmt.Sprintf("127.0.0.1:%d", g.port), "--admin", fmt.Sprintf("127.0.0.1:%d", g.admin),
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", g.natsPort), "--lot-max-age", "1s"}, g.extra...)
	g.cmd = exec.Command(g.bin, args...)
	var err error
	g.log, err = os.OpenFile(filepath.Join(g.dataDir, "..", fmt.Sprintf("gateway-%d.log", time.Now().UnixNano())), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		g.t.Fatal(err)
	}
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		g.t.Fatalf("start gateway: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", g.admin))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.kill()
	b, _ := os.ReadFile(g.log.Name())
	g.t.Fatalf("the gateway did not become ready in 30 s; its log:\n%s", b)
}

// kill stops the gateway with SIGKILL (no clean shutdown).
func (g *testGateway) kill() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
	g.log.Close()
	g.cmd = nil
}

// cardClient is a gateway client authenticated with an in-process virtual
// card of profile.
func cardClient(t testing.TB, url, profile string) *client.Client {
	t.Helper()
	v, err := dev.Card(profile, virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := card.Open(ctx, card.Loopback(v), card.Options{PIN: func(context.Context, card.PINRequest) ([]byte, error) { return []byte("1234"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cert, err := c.TLSCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fixtures.ReadFile("pki/root.crt")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(b)
	cl, err := client.New(client.Config{URL: url, Certificate: &cert, Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestGatewayScripts runs testdata/gateway/*.txt against one real gateway
// ($GATEWAY). Each script uses its own sheet numbers (generate --seed).
func TestGatewayScripts(t *testing.T) {
	g := newTestGateway(t)
	g.start()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/gateway",
		Setup: func(e *testscript.Env) error {
			e.Setenv("GATEWAY", g.URL)
			e.Setenv("FSEGATE_DEV", "1")
			e.Setenv("FSEGATE_VIRTUAL_CARD", "doctor")
			e.Setenv("FSEGATE_PIN", "1234")
			return nil
		},
	})
}

// TestGatewayScriptsPKCS11 runs testdata/pkcs11/*.txt against a real
// gateway ($GATEWAY) with the doctor's keys in a SoftHSM2 token ($PKCS11,
// the module; SOFTHSM2_CONF points at the token).
func TestGatewayScriptsPKCS11(t *testing.T) {
	mod := testenv.SoftHSM(t, "doctor", "1234")
	g := newTestGateway(t)
	g.start()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/pkcs11",
		Setup: func(e *testscript.Env) error {
			e.Setenv("GATEWAY", g.URL)
			e.Setenv("FSEGATE_DEV", "1")
			e.Setenv("PKCS11", mod)
			e.Setenv("SOFTHSM2_CONF", os.Getenv("SOFTHSM2_CONF"))
			return nil
		},
	})
}

// workstationProc runs the workstation binary; lines of its standard error
// come on the returned channel.
func workstationProc(t *testing.T, dir string, args ...string) (*exec.Cmd, <-chan string, *strings.Builder) {
	t.Helper()
	_, bin := binaries(t)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FSEGATE_DEV=1", "FSEGATE_VIRTUAL_CARD=doctor", "FSEGATE_PIN=1234")
	stdout := &strings.Builder{}
	cmd.Stdout = stdout
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines, stdout
}

// runWorkstation runs the workstation binary to its end.
func runWorkstation(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd, lines, out := workstationProc(t, dir, args...)
	var sb strings.Builder
	for l := range lines {
		sb.WriteString(l + "\n")
	}
	err = cmd.Wait()
	return out.String(), sb.String(), err
}

// killAfter kills cmd with SIGKILL once it has printed n "signed" lines.
func killAfter(t *testing.T, cmd *exec.Cmd, lines <-chan string, n int) string {
	t.Helper()
	var seen strings.Builder
	signed := 0
	timeout := time.After(30 * time.Second)
	for signed < n {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the workstation ended before %d signatures:\n%s", n, seen.String())
			}
			seen.WriteString(l + "\n")
			if strings.HasPrefix(l, "signed ") {
				signed++
			}
		case <-timeout:
			t.Fatalf("no %d signatures in 30 s:\n%s", n, seen.String())
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return seen.String()
}

// TestKillMidBatch kills the workstation in the middle of a batch while the
// gateway is down, then again while it sends, kills the gateway too,
// restarts both, and finds every sheet receipted exactly once: the outbox
// and the gateway agree, no DUPLICATE_SHEET, nothing signed twice.
func TestKillMidBatch(t *testing.T) {
	const count = 60
	dir := t.TempDir()
	g := newTestGateway(t)
	if _, stderr, err := runWorkstation(t, dir, "generate", "--count", fmt.Sprint(count), "--seed", "31", "--profession", "doctor", "--out-dir", "in"); err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	batch := []string{"batch", "--progress", "lines", "--gateway", g.URL, "--outbox", "ob", "in"}

	// 1. Gateway down: kill the workstation after 10 signatures.
	cmd, lines, _ := workstationProc(t, dir, batch...)
	killAfter(t, cmd, lines, 10)
	signedBefore := outboxDigests(t, filepath.Join(dir, "ob"))
	if len(signedBefore) < 10 {
		t.Fatalf("outbox holds %d sheets after 10 signatures were reported", len(signedBefore))
	}

	// 2. Gateway up: run again, kill it after 5 more signatures (sending
	// runs meanwhile), and kill the gateway too.
	g.start()
	cmd, lines, _ = workstationProc(t, dir, batch...)
	killAfter(t, cmd, lines, 5)
	g.kill()

	// Nothing signed before was signed again.
	for k, d := range signedBefore {
		if now := outboxDigests(t, filepath.Join(dir, "ob"))[k]; now != d {
			t.Errorf("%s was signed again after the kill", k)
		}
	}

	// 3. Restart both: the batch completes.
	g.start()
	stdout, stderr, err := runWorkstation(t, dir, batch...)
	if err != nil {
		t.Fatalf("batch after restart: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "refused 0, invalid 0, queued offline 0") {
		t.Errorf("batch after restart:\n%s", stdout)
	}
	// 4. Once more: nothing to do.
	stdout, stderr, err = runWorkstation(t, dir, batch...)
	if err != nil || !strings.Contains(stdout, fmt.Sprintf("already sent %d", count)) || !strings.Contains(stdout, "signed 0, sent 0") {
		t.Errorf("a third run sent or signed something (%v):\n%s\n%s", err, stdout, stderr)
	}

	// Every sheet: receipted in the outbox, known once to the gateway.
	cl := cardClient(t, g.URL, "doctor")
	states := outboxStates(t, filepath.Join(dir, "ob"))
	if len(states) != count {
		t.Fatalf("outbox holds %d sheets, want %d", len(states), count)
	}
	for key, st := range states {
		if st != "receipted" && st != "final" {
			t.Errorf("%s is %s in the outbox", key, st)
			continue
		}
		billing, number, _ := strings.Cut(key, "-")
		s, err := cl.Sheet(context.Background(), billing, number)
		if err != nil {
			t.Errorf("gateway: %s: %v", key, err)
			continue
		}
		received := 0
		for _, h := range s.History {
			if h.State == "received" {
				received++
			}
		}
		if received != 1 {
			t.Errorf("gateway: %s received %d times: %+v", key, received, s.History)
		}
	}
}

func outboxDigests(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	names, _ := filepath.Glob(filepath.Join(dir, "sheets", "*.xml"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(n), ".xml")] = string(b)
	}
	return out
}

func outboxStates(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	names, _ := filepath.Glob(filepath.Join(dir, "state", "*.json"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i := strings.Index(s, `"state": "`)
		if i < 0 {
			t.Fatalf("%s: no state", n)
		}
		s = s[i+len(`"state": "`):]
		out[strings.TrimSuffix(filepath.Base(n), ".json")] = s[:strings.IndexByte(s, '"')]
	}
	return out
}

var execCommand = exec.Command

// TestResendForgotten: a receipted sheet the gateway no longer knows (its
// store was lost) is put back by 'status' and sent again.
func TestResendForgotten(t *testing.T) {
	dir := t.TempDir()
	g := newTestGateway(t)
	g.start()
	if _, stderr, err := runWorkstation(t, dir, "generate", "--count", "1", "--seed", "71", "--profession", "doctor", "--out-dir", "in"); err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr)
	}
	if out, stderr, err := runWorkstation(t, dir, "batch", "--gateway", g.URL, "--outbox", "ob", "in"); err != nil {
		t.Fatalf("batch: %v\n%s%s", err, out, stderr)
	}
	// The gateway loses everything.
	g.kill()
	if err := os.RemoveAll(g.dataDir); err != nil {
		t.Fatal(err)
	}
	g.start()
	out, _, err := runWorkstation(t, dir, "status", "--gateway", g.URL, "--outbox", "ob", "007100001")
	if err == nil || !strings.Contains(out, "put back in the outbox") {
		t.Fatalf("status of a forgotten sheet (%v):\n%s", err, out)
	}
	if st := outboxStates(t, filepath.Join(dir, "ob"))["751000019-007100001"]; st != "pending" {
		t.Fatalf("outbox state %s, want pending", st)
	}
	out, stderr, err := runWorkstation(t, dir, "outbox", "--send", "--gateway", g.URL, "--outbox", "ob")
	if err != nil || !strings.Contains(out, "751000019-007100001: queued") {
		t.Fatalf("outbox --send (%v):\n%s%s", err, out, stderr)
	}
	if _, err := cardClient(t, g.URL, "doctor").Sheet(context.Background(), "751000019", "007100001"); err != nil {
		t.Errorf("the gateway does not know the sheet sent again: %v", err)
	}
}
