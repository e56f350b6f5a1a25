package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsegate/fsegate/chaos"
	"github.com/fsegate/fsegate/insurers"
)

// Config is one campaign.
type Config struct {
	// Duration is how long sheets are sent and faults injected; the drain
	// follows (bounded by DrainMax).
	Duration time.Duration
	DrainMax time.Duration
	Seed     uint64
	// Rate is sheets per second offered.
	Rate float64
	// Nodes and Gateways: 3 NATS nodes (R3) and 2 or 3 gateways.
	Nodes, Gateways int
	// Out is where logs, the history, the snapshot and the report go.
	Out string
	// Bin holds nats-server, gateway-chaos (the gateway built with -tags
	// chaos) and chaos.
	Bin string
	// Gateway names the gateway binary in Bin (default gateway-chaos;
	// gateway-broken: the deliberately broken build, -tags chaos,chaosbroken).
	Gateway string
	// Faults restricts the fault kinds (nil: all).
	Faults []string
	// MaxHold, when set, caps how long a fault lasts (a short campaign
	// fits more of them); pauses still outlast the ack wait.
	MaxHold time.Duration
	// StoreMB is the size of each node's own filesystem.
	StoreMB int
	// Stdout gets the progress.
	Stdout io.Writer `json:"-"`
	// Insurers is the insurer directory the gateways and the mock
	// insurers run with ('--dev': fixtures/insurers.yaml), which gives the
	// cluster's NATS users; GatewaySeed is the gateway's nkey seed, the
	// runner's own NATS user. Inner needs both ('chaos inner' loads them
	// with fixtures/dev).
	Insurers    *insurers.Directory `json:"-"`
	GatewaySeed []byte              `json:"-"`
}

func (c *Config) defaults() {
	if c.Duration == 0 {
		c.Duration = 10 * time.Minute
	}
	if c.DrainMax == 0 {
		c.DrainMax = 10 * time.Minute
	}
	if c.Rate == 0 {
		c.Rate = 8
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Gateways == 0 {
		c.Gateways = 3
	}
	if c.StoreMB == 0 {
		c.StoreMB = 1280
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Gateway == "" {
		c.Gateway = "gateway-chaos"
	}
}

// Run is the outer runner: it removes what an interrupted campaign left,
// makes the namespaces and filesystems, runs the campaign inside the hub
// namespace (Inner, through 'chaos inner'), then removes everything, also
// when interrupted.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	if err := Preflight(); err != nil {
		return err
	}
	for _, b := range []string{"nats-server", cfg.Gateway, "chaos"} {
		if _, err := os.Stat(filepath.Join(cfg.Bin, b)); err != nil {
			return fmt.Errorf("%s missing in %s (make chaos builds it): %w", b, cfg.Bin, err)
		}
	}
	unlock, err := Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := Cleanup(); err != nil {
		return fmt.Errorf("left-overs of an earlier run: %w", err)
	}
	defer func() {
		if err := Cleanup(); err != nil {
			fmt.Fprintf(cfg.Stdout, "chaos: %v\n", err)
		}
	}()
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	if err := Setup(cfg.Nodes, cfg.Gateways, cfg.StoreMB); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Stdout, "chaos: network namespaces %shub, n1..n%d, g1..g%d; results in %s\n", nsPrefix, cfg.Nodes, cfg.Gateways, cfg.Out)
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(cfg.Out, "config.json"), b, 0o644); err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", hubNS, filepath.Join(cfg.Bin, "chaos"), "inner", "--config", filepath.Join(cfg.Out, "config.json"))
	cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// Interrupted: the inner runner stops its processes and the
		// deferred cleanup removes the rest.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return ctx.Err()
	}
}

// ReadConfig reads the config the outer runner wrote.
func ReadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	err = json.Unmarshal(b, &c)
	c.Stdout = os.Stdout
	return c, err
}

// campaign is the inner runner's state.
type campaign struct {
	cfg      Config
	rnd      *rand.Rand
	rec      *chaos.Recorder
	nodes    []*proc
	gateways []*proc
	insurers []*proc
	load     *proc
	natsURLs string
	maxStore int64
	logf     func(format string, args ...any)
	mu       sync.Mutex
	clocks   []time.Duration
	http     *http.Client
}

// Inner runs the campaign inside the hub namespace: the cluster, the
// gateways, the mock insurers, the load generator, the faults; then the
// drain, the snapshot and the check. It returns an error when a check
// failed.
func Inner(ctx context.Context, cfg Config) error {
	cfg.defaults()
	if cfg.Insurers == nil || cfg.GatewaySeed == nil {
		return errors.New("campaign: no insurer directory or no gateway nkey seed")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rec, err := chaos.NewRecorder(filepath.Join(cfg.Out, "runner.jsonl"))
	if err != nil {
		return err
	}
	c := &campaign{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Seed, 24)), rec: rec, http: &http.Client{Timeout: 3 * time.Second}}
	start := time.Now()
	c.logf = func(format string, args ...any) {
		fmt.Fprintf(cfg.Stdout, "chaos %6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	defer c.stopAll()
	if err := c.startCluster(ctx); err != nil {
		rec.Close()
		return err
	}
	if err := c.startGateways(ctx); err != nil {
		rec.Close()
		return err
	}
	if err := c.startInsurers(); err != nil {
		rec.Close()
		return err
	}
	if err := c.startLoad(); err != nil {
		rec.Close()
		return err
	}
	c.logf("load started: %.0f sheets/s for %s to %d gateways", cfg.Rate, cfg.Duration, cfg.Gateways)
	auditDone := make(chan struct{})
	auditCtx, stopAudit := context.WithCancel(ctx)
	go func() { defer close(auditDone); c.sampleAudit(auditCtx) }()
	c.faults(ctx, time.Now().Add(cfg.Duration))
	c.healAll()
	c.logf("faults over; draining (at most %s)", cfg.DrainMax)
	loadDone := make(chan struct{})
	go func() { c.load.wait(); close(loadDone) }()
	select {
	case <-loadDone:
	case <-ctx.Done():
		c.load.stop(5 * time.Second)
	case <-time.After(cfg.DrainMax + 2*time.Minute):
		c.logf("the load generator did not end: stopping it")
		c.load.stop(5 * time.Second)
	}
	stopAudit()
	<-auditDone
	if ctx.Err() != nil {
		rec.Close()
		return ctx.Err()
	}
	c.logf("load generator ended (exit %d); reading the cluster", c.load.exitCode())
	snap, err := c.collect(ctx, time.Now().Add(cfg.DrainMax))
	rec.Close()
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := chaos.WriteSnapshot(filepath.Join(cfg.Out, "snapshot.json"), snap); err != nil {
		return err
	}
	ops, err := chaos.ReadHistoryFiles(filepath.Join(cfg.Out, "runner.jsonl"), filepath.Join(cfg.Out, "load.jsonl"))
	if err != nil {
		return err
	}
	rep := chaos.Check(ops, snap)
	return c.report(rep, start)
}

func (c *campaign) report(rep *chaos.Report, start time.Time) error {
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(c.cfg.Out, "report.json"), b, 0o644); err != nil {
		return err
	}
	w := c.cfg.Stdout
	fmt.Fprintf(w, "\nchaos: seed %d, %s of faults, %s in all\n", c.cfg.Seed, c.cfg.Duration, time.Since(start).Round(time.Second))
	fmt.Fprintf(w, "chaos: faults %s\n", faultCounts(rep.Faults))
	fmt.Fprintf(w, "chaos: %s\n", rep.Summary())
	fmt.Fprintf(w, "chaos: row | %s | %d | %s | %d | %d | %d | %d | %s | %s |\n", c.cfg.Duration, c.cfg.Seed, faultCounts(rep.Faults), rep.Sent, rep.Receipted, rep.Lost, rep.Duplicated,
		rep.LongestUnavailable.Round(100*time.Millisecond), rep.Drain.Round(100*time.Millisecond))
	if rep.OK() {
		fmt.Fprintln(w, "chaos: every check held")
		return nil
	}
	for i, v := range rep.Violations {
		if i == 50 {
			fmt.Fprintf(w, "… %d violations in all (report.json)\n", len(rep.Violations))
			break
		}
		fmt.Fprintf(w, "VIOLATION %s\n", v)
	}
	for _, s := range rep.Stories {
		fmt.Fprintln(w, s)
	}
	return fmt.Errorf("%d violations (%s)", len(rep.Violations), filepath.Join(c.cfg.Out, "report.json"))
}

func faultCounts(m map[string]int) string {
	var parts []string
	for _, k := range FaultKinds {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (c *campaign) bin(name string) string { return filepath.Join(c.cfg.Bin, name) }

// startCluster writes each node's configuration and starts the three
// nodes, then waits until JetStream answers on each.
func (c *campaign) startCluster(ctx context.Context) error {
	users, err := insurers.NATSUsers(c.cfg.Insurers)
	if err != nil {
		return err
	}
	var urls []string
	for i := 1; i <= c.cfg.Nodes; i++ {
		urls = append(urls, fmt.Sprintf("nats://%s:4222", nodeIP(i)))
	}
	c.natsURLs = strings.Join(urls, ",")
	// Streams get a budget well below each node's filesystem: the
	// disk-full fault fills the rest.
	// (FSE_LOTS gets 14 % of the streams' budget: 10 minutes at 8
	// sheets/s need about 60 MB of it.)
	fileStore := int64(c.cfg.StoreMB) << 20 * 3 / 4
	c.maxStore = fileStore * 3 / 4
	for i := 1; i <= c.cfg.Nodes; i++ {
		var routes []string
		for k := 1; k <= c.cfg.Nodes; k++ {
			if k != i {
				routes = append(routes, fmt.Sprintf("nats://%s:6222", nodeIP(k)))
			}
		}
		conf := map[string]any{
			"server_name": fmt.Sprintf("n%d", i),
			"listen":      nodeIP(i) + ":4222",
			"http":        nodeIP(i) + ":8222",
			"jetstream":   map[string]any{"store_dir": storeDir(i), "max_file_store": fileStore, "max_memory_store": 64 << 20},
			"cluster":     map[string]any{"name": "fsechaos", "listen": nodeIP(i) + ":6222", "routes": routes},
			"authorization": map[string]any{
				"users": natsUsers(users),
			},
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // '>' stays '>': the server's parser knows no \u escapes
		enc.SetIndent("", "  ")
		if err := enc.Encode(conf); err != nil {
			return err
		}
		b := buf.Bytes()
		path := filepath.Join(c.cfg.Out, fmt.Sprintf("n%d.conf", i))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		p := &proc{name: fmt.Sprintf("n%d", i), ns: nodeNS(i), argv: []string{c.bin("nats-server"), "-c", path}, log: filepath.Join(c.cfg.Out, fmt.Sprintf("n%d.log", i))}
		if err := p.start(); err != nil {
			return err
		}
		c.nodes = append(c.nodes, p)
	}
	for i := 1; i <= c.cfg.Nodes; i++ {
		if err := c.waitHTTP(ctx, fmt.Sprintf("http://%s:8222/healthz", nodeIP(i)), 60*time.Second); err != nil {
			return fmt.Errorf("node n%d: %w", i, err)
		}
	}
	c.logf("NATS cluster up: %s", c.natsURLs)
	return nil
}

// natsUsers writes the directory's nkey users in the server's
// configuration format (JSON is a subset of it).
func natsUsers(users []*natsUser) []map[string]any {
	var out []map[string]any
	for _, u := range users {
		m := map[string]any{"nkey": u.Nkey}
		if p := u.Permissions; p != nil {
			perm := map[string]any{}
			if p.Publish != nil {
				perm["publish"] = map[string]any{"allow": p.Publish.Allow}
			}
			if p.Subscribe != nil {
				perm["subscribe"] = map[string]any{"allow": p.Subscribe.Allow}
			}
			m["permissions"] = perm
		}
		out = append(out, m)
	}
	return out
}

func (c *campaign) waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	var last error
	for until := time.Now().Add(timeout); time.Now().Before(until); {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := c.http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s: %v", timeout, last)
}

func (c *campaign) gwData(j int) string { return filepath.Join(c.cfg.Out, fmt.Sprintf("g%d", j)) }
func (c *campaign) gwClock(j int) string {
	return filepath.Join(c.cfg.Out, fmt.Sprintf("g%d.clock", j))
}
func gwURL(j int) string   { return fmt.Sprintf("https://%s:8443", gwClientIP(j)) }
func gwAdmin(j int) string { return fmt.Sprintf("%s:8080", gwClientIP(j)) }

func (c *campaign) startGateways(ctx context.Context) error {
	c.clocks = make([]time.Duration, c.cfg.Gateways+1)
	cert, key, err := serverCert(c.cfg.Out, c.cfg.Gateways)
	if err != nil {
		return err
	}
	for j := 1; j <= c.cfg.Gateways; j++ {
		if err := os.WriteFile(c.gwClock(j), []byte("0\n"), 0o644); err != nil {
			return err
		}
		p := &proc{
			name: fmt.Sprintf("g%d", j), ns: gatewayNS(j),
			argv: []string{c.bin(c.cfg.Gateway), "serve", "--dev", "--data-dir", c.gwData(j),
				"--listen", gwClientIP(j) + ":8443", "--admin", gwAdmin(j),
				"--nats-url", c.natsURLs, "--replicas", "3", "--max-store", strconv.FormatInt(c.maxStore, 10),
				"--lot-max-age", "2s", "--crl-refresh", "0", "--tls-cert", cert, "--tls-key", key},
			env: []string{"FSEGATE_CHAOS_CLOCK=" + c.gwClock(j)},
			log: filepath.Join(c.cfg.Out, fmt.Sprintf("g%d.log", j)),
		}
		if err := p.start(); err != nil {
			return err
		}
		c.gateways = append(c.gateways, p)
		// The first creates the streams; the others open them.
		if err := c.waitHTTP(ctx, "http://"+gwAdmin(j)+"/readyz", 90*time.Second); err != nil {
			return fmt.Errorf("gateway g%d: %w (log %s)", j, err, p.log)
		}
	}
	c.logf("%d gateways ready", c.cfg.Gateways)
	return nil
}

func (c *campaign) startInsurers() error {
	for _, in := range c.cfg.Insurers.Insurers {
		p := &proc{name: in.ID, argv: []string{c.bin(c.cfg.Gateway), "insurer", "--dev", "--id", in.ID, "--nats-url", c.natsURLs},
			log: filepath.Join(c.cfg.Out, "insurer-"+in.ID+".log")}
		if err := p.start(); err != nil {
			return err
		}
		c.insurers = append(c.insurers, p)
	}
	c.logf("%d mock insurers started", len(c.insurers))
	return nil
}

func (c *campaign) startLoad() error {
	var urls []string
	for j := 1; j <= c.cfg.Gateways; j++ {
		urls = append(urls, gwURL(j))
	}
	c.load = &proc{name: "load", argv: []string{c.bin("chaos"), "load",
		"--gateways", strings.Join(urls, ","), "--seed", strconv.FormatUint(c.cfg.Seed, 10),
		"--rate", strconv.FormatFloat(c.cfg.Rate, 'f', -1, 64), "--duration", c.cfg.Duration.String(),
		"--drain", c.cfg.DrainMax.String(), "--roots", filepath.Join(c.cfg.Out, "server.crt"), "--history", filepath.Join(c.cfg.Out, "load.jsonl")},
		log: filepath.Join(c.cfg.Out, "load.log")}
	return c.load.start()
}

func (c *campaign) stopAll() {
	var wg sync.WaitGroup
	for _, group := range [][]*proc{{c.load}, c.insurers, c.gateways, c.nodes} {
		for _, p := range group {
			if p == nil {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.stop(10 * time.Second) }()
		}
		wg.Wait()
	}
}

// errSkip: a fault that does not apply now.
var errSkip = errors.New("skip")
