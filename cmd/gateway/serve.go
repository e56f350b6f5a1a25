package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/queue"
)

func init() {
	program.Add(&cli.Command{Name: "serve", Summary: "run the gateway (intake API, queue, batcher, ack router)", Run: runServe})
}

const serveUsage = `Usage: gateway serve [flags]

Runs the gateway: the HTTPS intake (client certificates of CPS cards), the
NATS JetStream queue (an embedded nats-server by default), the batcher and
the ack router, and an admin listener with /healthz, /readyz and /metrics.

Examples:
  gateway serve --dev --mock-insurers                  # development, what 'make run' does
  gateway serve --config /etc/fsegate/gateway.yaml
  gateway serve --nats-url nats://n1:4222,nats://n2:4222 --replicas 3
`

// Main is the gateway daemon: ParseFlags, Run, Close, so end-to-end tests
// start the whole gateway on :0.
type Main struct {
	Config     string
	DataDir    string
	Listen     string
	Admin      string
	NATSListen string
	NATSURL    string
	Replicas   int
	Mock       bool
	Dev        bool

	Logger *slog.Logger

	nats    *queue.Embedded
	nc      *nats.Conn
	api     *http.Server
	admin   *http.Server
	apiLn   net.Listener
	adminLn net.Listener
	ready   atomic.Bool
}

// ParseFlags fills m from the command line.
func (m *Main) ParseFlags(env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "serve", serveUsage)
	fs.StringVar(&m.Config, "config", "", "YAML configuration `file` (flags override it)")
	fs.StringVar(&m.DataDir, "data-dir", "./data", "data `directory` (JetStream files, state)")
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:8443", "HTTPS intake `address`")
	fs.StringVar(&m.Admin, "admin", "127.0.0.1:8080", "admin `address` (/healthz, /readyz, /metrics, dashboard)")
	fs.StringVar(&m.NATSListen, "nats-listen", "127.0.0.1:4222", "embedded NATS listen `address` (for insurers)")
	fs.StringVar(&m.NATSURL, "nats-url", "", "use an existing NATS deployment at `URL` instead of the embedded server")
	fs.IntVar(&m.Replicas, "replicas", 1, "JetStream replicas of streams and KV (3 on a cluster)")
	fs.BoolVar(&m.Mock, "mock-insurers", false, "run the mock insurers of the directory in-process")
	fs.BoolVar(&m.Dev, "dev", env.Dev(), "development mode: trust the fixtures' test PKI")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("serve takes no arguments, got %q", fs.Args())
	}
	return nil
}

func runServe(ctx context.Context, env *cli.Env, args []string) error {
	m := &Main{Logger: slog.New(slog.NewTextHandler(env.Stderr, nil))}
	if err := m.ParseFlags(env, args); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	m.Logger.Info("stopping")
	return m.Close()
}

// Run starts everything and returns once the gateway serves.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	log := m.Logger
	if err := os.MkdirAll(m.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	url := m.NATSURL
	if url == "" {
		e, err := queue.StartEmbedded(queue.EmbeddedConfig{Listen: m.NATSListen, StoreDir: filepath.Join(m.DataDir, "jetstream")})
		if err != nil {
			return err
		}
		m.nats = e
		url = e.ClientURL()
		log.Info("embedded NATS JetStream started", "url", url, "store", filepath.Join(m.DataDir, "jetstream"))
	}
	nc, err := nats.Connect(url, nats.Name("fsegate-gateway"))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	m.nc = nc

	tlsCfg, err := m.serverTLS()
	if err != nil {
		return err
	}
	m.apiLn, err = net.Listen("tcp", m.Listen)
	if err != nil {
		return fmt.Errorf("intake listener: %w", err)
	}
	m.adminLn, err = net.Listen("tcp", m.Admin)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	apiMux := http.NewServeMux()
	m.api = &http.Server{Handler: apiMux, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.api.ServeTLS(m.apiLn, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("intake listener stopped", "err", err)
		}
	}()
	adminMux := http.NewServeMux()
	adminMux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	adminMux.HandleFunc("GET /readyz", m.readyz)
	m.admin = &http.Server{Handler: adminMux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.admin.Serve(m.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	m.ready.Store(true)
	log.Info("gateway ready", "intake", "https://"+m.apiLn.Addr().String(), "admin", "http://"+m.adminLn.Addr().String(), "nats", url, "dev", m.Dev)
	return nil
}

func (m *Main) readyz(w http.ResponseWriter, r *http.Request) {
	if !m.ready.Load() || m.nc == nil || !m.nc.IsConnected() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// APIAddr and AdminAddr are the bound addresses (useful with :0).
func (m *Main) APIAddr() string   { return m.apiLn.Addr().String() }
func (m *Main) AdminAddr() string { return m.adminLn.Addr().String() }

func (m *Main) serverTLS() (*tls.Config, error) {
	if !m.Dev {
		return nil, cli.WithHint(errors.New("no server certificate configured"), "use --dev for the test PKI, or set tls.cert and tls.key in --config")
	}
	certPEM, err := fixtures.ReadFile("pki/server.crt")
	if err != nil {
		return nil, err
	}
	keyPEM, err := fixtures.ReadFile("pki/server.key")
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Close stops intake first, then the queue.
func (m *Main) Close() error {
	m.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m.api != nil {
		_ = m.api.Shutdown(ctx)
	}
	if m.admin != nil {
		_ = m.admin.Shutdown(ctx)
	}
	if m.nc != nil {
		_ = m.nc.Drain()
	}
	if m.nats != nil {
		m.nats.Close()
	}
	return nil
}
