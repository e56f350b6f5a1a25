package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/queue"
)

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// gatewayProc is 'gateway serve' as a separate process, killed with
// SIGKILL and restarted on the same data dir and ports.
type gatewayProc struct {
	t                 *testing.T
	bin, dir          string
	api, admin, natsL string
	cmd               *exec.Cmd
	log               *os.File
}

func (g *gatewayProc) start() {
	g.t.Helper()
	g.cmd = exec.Command(g.bin, "serve", "--dev", "--mock-insurers", "--data-dir", g.dir,
		"--listen", g.api, "--admin", g.admin, "--nats-listen", g.natsL, "--lot-max-age", "300ms")
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.t.Fatalf("gateway not ready after 30s (log %s)", g.log.Name())
}

func (g *gatewayProc) kill() {
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	_ = g.cmd.Wait()
}

// TestKill9 sends a few thousand sheets to a gateway process killed with
// SIGKILL three times on the way, resending what got no receipt, and
// checks every sheet ends in exactly one final state per destination and
// in exactly one lot.
func TestKill9(t *testing.T) {
	const n = 1500
	sheets := signedSheets(t, n)
	bin := filepath.Join(t.TempDir(), "gateway")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	g := &gatewayProc{t: t, bin: bin, dir: t.TempDir(), api: freePort(t), admin: freePort(t), natsL: freePort(t), log: logf}
	g.start()
	defer g.kill()

	c, err := client.New(client.Config{URL: "https://" + g.api, Roots: fixtureRoots(t), Certificate: cardTLS(t, "doctor"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var (
		next    atomic.Int64
		sent    atomic.Int64
		retries atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		numbers = map[string]bool{}
	)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				for try := 0; ; try++ {
					r, err := c.SendSheet(ctx, sheets[i])
					if err == nil {
						mu.Lock()
						numbers[r.Number] = true
						mu.Unlock()
						sent.Add(1)
						break
					}
					var p *client.Problem
					if errors.As(err, &p) && !p.Retryable() {
						t.Errorf("sheet %d refused: %v", i, p)
						return
					}
					retries.Add(1)
					if try > 200 {
						t.Errorf("sheet %d: no receipt after %d tries: %v", i, try, err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	// Three kills during the run, each followed by a restart.
	for k := 0; k < 3; k++ {
		target := int64(n * (k + 1) / 4)
		for sent.Load() < target && next.Load() < n {
			time.Sleep(10 * time.Millisecond)
		}
		g.kill()
		time.Sleep(100 * time.Millisecond)
		g.start()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d sheets receipted, %d retries over 3 kills", sent.Load(), retries.Load())

	// Every sheet final, exactly once per destination. The sheets are
	// polled by eight workers: one after the other, 1500 polls took a
	// minute of the suite under -race.
	final := map[string]bool{"accepted": true, "paid": true, "rejected": true, "delivery_failed": true, "returns_overdue": true}
	deadline := time.Now().Add(60 * time.Second)
	var dests atomic.Int64
	todo := make(chan string)
	var pollers sync.WaitGroup
	for range 8 {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			for num := range todo {
				for {
					st, err := c.Sheet(ctx, "751000019", num)
					if err == nil && allFinal(st, final) {
						for _, d := range st.Destinations {
							dests.Add(1)
							finals := 0
							for _, h := range st.History {
								if h.Insurer == d.Insurer && final[h.State] && (h.State != "accepted" || d.State == "accepted") {
									finals++
								}
							}
							if finals != 1 {
								t.Errorf("sheet %s at %s: %d final states in its history, want 1", num, d.Insurer, finals)
							}
							if d.Lot == "" {
								t.Errorf("sheet %s at %s: no lot", num, d.Insurer)
							}
						}
						break
					}
					if time.Now().After(deadline) {
						var raw string
						if st != nil {
							raw = string(st.Raw)
						}
						t.Errorf("sheet %s not final after the run: %v %s (log %s)", num, err, raw, logf.Name())
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	for num := range numbers {
		todo <- num
	}
	close(todo)
	pollers.Wait()
	if t.Failed() {
		return
	}
	// Each sheet in exactly one lot per destination, read from the lot
	// records.
	seed, err := dev.Seed("gateway")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := insurers.NATSAuth(seed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+g.natsL, auth)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctx, queue.BucketBatches)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeysFiltered(ctx, "lot.>")
	if err != nil {
		t.Fatal(err)
	}
	in := map[string][]string{}
	for k := range keys.Keys() {
		lotID := strings.TrimPrefix(k, "lot.")
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var rec queue.LotRecord
		if err := jsonUnmarshal(e.Value(), &rec); err != nil {
			t.Fatal(err)
		}
		for _, s := range rec.Sheets {
			in[s.Key+"@"+rec.Insurer] = append(in[s.Key+"@"+rec.Insurer], lotID)
		}
	}
	if len(in) != int(dests.Load()) {
		t.Errorf("%d sheet destinations in lots, want %d", len(in), dests.Load())
	}
	for k, lots := range in {
		if len(lots) != 1 {
			t.Errorf("%s in %d lots %v, want exactly one", k, len(lots), lots)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
