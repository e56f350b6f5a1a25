package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/fse/tables"
	"github.com/fsegate/fsegate/gateway/httpapi"
	"github.com/fsegate/fsegate/gateway/intake"
	"github.com/fsegate/fsegate/gateway/practices"
	"github.com/fsegate/fsegate/gateway/revocation"
	"github.com/fsegate/fsegate/gateway/rx"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/mock"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

func init() {
	program.Add(&cli.Command{Name: "serve", Summary: "run the gateway (intake API, queue, batcher, ack router)", Run: runServe})
}

const serveUsage = `Usage: gateway serve [flags]

Runs the gateway: the HTTPS intake (client certificates of CPS cards), the
NATS JetStream queue (an embedded nats-server by default), the batcher and
the ack router, and an admin listener: /healthz, /readyz and /metrics for
anyone whose Host header it answers to (--admin-hosts); the dashboard,
/admin/* and /debug/pprof/ (--pprof) for operators, by the operator token
(--operator-token-file, which --dev creates in the data dir) or e-CPS
(--operators). Flags override the --config file (documented in
fixtures/gateway.yaml).

Examples:
  gateway serve --dev --mock-insurers                  # development, what 'make run' does
  gateway serve --config /etc/fsegate/gateway.yaml
  gateway serve --nats-url nats://n1:4222,nats://n2:4222 --nats-seed gw.nk --replicas 3
  gateway serve --dev --sync always                    # fsync every write before the receipt
  gateway serve --dev --pprof --operators 899700218896 # profiles; the doctor is an e-CPS operator
`

// Main is the gateway daemon: ParseFlags, Run, Close, so end-to-end tests
// start the whole gateway on :0. It wires the parts (gateway/intake,
// gateway/httpapi, queue, insurers/mock …) from its Settings; it holds no
// rule and no handler.
type Main struct {
	Settings
	Logger *slog.Logger
	// Getenv reads the environment ($FSEGATE_STORE_KEY); nil: os.Getenv.
	Getenv func(string) string
	// Hooks for tests: FailPoint (queue.Config.FailPoint), Now, Tick.
	FailPoint func(step string) error
	Now       func() time.Time
	Tick      time.Duration
	// Scenario of the mock insurers (nil: well-behaved, or MockScenario).
	Scenario *mock.Scenario

	mockTLS    *tls.Config // the mock insurers' NATS TLS, with --nats-tls-cert
	dir        *insurers.Directory
	calendars  map[string]*fse.Holidays // per insurer id: its holiday calendar (the gateway's when it names none)
	practices  *intake.Practices
	trust      *signature.TrustStore
	revocation *revocation.Refresher // the CRL refresh (--crl-refresh)
	intake     *intake.Service
	queue      *queue.Queue
	metrics    *metrics
	mocks      []*mock.Insurer
	nats       *queue.Embedded
	nc         *nats.Conn
	api        *http.Server
	admin      *http.Server
	apiLn      net.Listener
	adminLn    net.Listener
	ready      atomic.Bool
	stop       context.CancelFunc
	closed     atomic.Bool
}

// Settings are the gateway's flags and configuration file (docs/operations.md).
type Settings struct {
	Config     string
	DataDir    string
	Listen     string
	Admin      string
	NATSListen string
	NATSURL    string
	NATSSeed   string // nkey seed file of the gateway's NATS user
	Replicas   int
	Sync       string // "interval" (default) or "always"
	MaxStore   int64  // JetStream byte budget (0: 80 % of the free disk)
	// The embedded store's encryption at rest (keys.go): the key's file
	// (else $FSEGATE_STORE_KEY; --dev makes one in the data dir), the old
	// key's during a rotation, the cipher ("none" only with --dev).
	StoreKeyFile, StoreOldKeyFile, StoreCipher string
	// TLS of the embedded NATS listener that insurers reach; with a CA,
	// insurers authenticate with a certificate too.
	NATSTLSCert, NATSTLSKey, NATSTLSCA string
	Mock                               bool
	Dev                                bool
	TLSCert                            string
	TLSKey                             string
	TrustDir                           string
	CRLRefresh                         time.Duration // 0: never (gateway/revocation)
	CRLURLs                            []string      // fetched at each refresh besides the distribution points
	Practices                          string
	Insurers                           string
	Tariffs                            string
	Tables                             string   // tables directory (docs/amounts.md); --dev: the fixtures'
	PricesWarn                         []string // tables whose price differences are warnings: ngap, ccam, drugs
	Holidays                           string
	Generics                           string
	LotKey                             string
	LotMaxAge                          time.Duration // overrides the directory's lot age limit when > 0
	LotMaxSize                         int           // overrides the directory's lot size limit when > 0
	MaxBody                            int64
	MaxBatch                           int
	// MaxBatchBytes caps one batch's body; MaxBatchesPerClient the batches
	// one national id has in progress at once.
	MaxBatchBytes       int64
	MaxBatchesPerClient int
	GCPercent           int
	DrainYield          int             // sheets in the intake at which the batcher slows down (0: never)
	YieldRate           int             // sheets per second the batcher takes while it yields
	PSC                 PSCConfig       // e-CPS sign-in through Pro Santé Connect (psc.go)
	AdminAuth           AdminAuthConfig // who may do what on the admin listener (adminauth.go)

	// MockScenario names the mock insurers' scenario: a file, or a name of
	// fixtures/scenarios (--mock-scenario).
	MockScenario string
	// Intake timeouts (a slow client cannot hold a connection): headers
	// within ReadHeaderTimeout (10 s), the whole request, body included,
	// within ReadTimeout (2 min: more than a notices long poll, whose
	// handler context the server would cancel at that deadline), an idle
	// keep-alive connection closed after IdleTimeout (2 min).
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
}

// ParseFlags fills m from the command line (and the --config file).
func (m *Main) ParseFlags(env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "serve", serveUsage)
	m.Getenv = env.Getenv
	fs.StringVar(&m.Config, "config", "", "YAML configuration `file` (flags override it)")
	fs.StringVar(&m.DataDir, "data-dir", "./data", "data `directory` (JetStream files, state)")
	fs.StringVar(&m.Listen, "listen", "127.0.0.1:8443", "HTTPS intake `address`")
	fs.StringVar(&m.Admin, "admin", "127.0.0.1:8080", "admin `address` (/healthz, /readyz, /metrics open; the dashboard and /admin/* for operators)")
	fs.StringVar(&m.NATSListen, "nats-listen", "127.0.0.1:4222", "embedded NATS listen `address` (for insurers)")
	fs.StringVar(&m.NATSURL, "nats-url", "", "use an existing NATS deployment at `URL` instead of the embedded server")
	fs.StringVar(&m.NATSSeed, "nats-seed", "", "nkey seed `file` of the gateway's NATS user (--dev: the fixtures' one)")
	fs.IntVar(&m.Replicas, "replicas", 1, "JetStream replicas of streams and KV (3 on a cluster)")
	fs.StringVar(&m.Sync, "sync", "interval", "when JetStream fsyncs: 'interval' (the server's, default) or 'always' (before every receipt)")
	fs.Int64Var(&m.MaxStore, "max-store", 0, "JetStream byte `budget` (0: 80% of the data dir's free disk)")
	fs.StringVar(&m.StoreKeyFile, "store-key-file", "", "`file` holding the key that encrypts the embedded store at rest (else $FSEGATE_STORE_KEY; --dev: data-dir/store.key, made once)")
	fs.StringVar(&m.StoreOldKeyFile, "store-old-key-file", "", "`file` holding the previous store key, to re-encrypt the store with the new one (rotation)")
	fs.StringVar(&m.StoreCipher, "store-cipher", "aes", "cipher of the store at rest: aes, chacha, or none (--dev only)")
	fs.StringVar(&m.NATSTLSCert, "nats-tls-cert", "", "certificate `file` (PEM) of the embedded NATS listener: insurers then connect with TLS")
	fs.StringVar(&m.NATSTLSKey, "nats-tls-key", "", "key `file` (PEM) of --nats-tls-cert")
	fs.StringVar(&m.NATSTLSCA, "nats-tls-ca", "", "CA `file` (PEM) insurers' client certificates must chain to (mutual TLS)")
	fs.BoolVar(&m.Mock, "mock-insurers", false, "run the mock insurers of the directory in-process")
	fs.StringVar(&m.MockScenario, "mock-scenario", "", "the mock insurers' scenario: a YAML `file`, or a name of fixtures/scenarios (payments, realistic, …)")
	fs.BoolVar(&m.Dev, "dev", env.Dev(), "development mode: trust the fixtures' test PKI, fixture directories")
	fs.StringVar(&m.TLSCert, "tls-cert", "", "server certificate `file` (PEM)")
	fs.StringVar(&m.TLSKey, "tls-key", "", "server key `file` (PEM)")
	fs.StringVar(&m.TrustDir, "trust-dir", "", "`directory` of trusted roots, intermediates and CRLs (--dev: the fixtures')")
	fs.DurationVar(&m.CRLRefresh, "crl-refresh", time.Hour, "how often the trust directory is read again and CRLs fetched from their distribution points (0: never)")
	fs.Func("crl-url", "a CRL `URL` fetched at each refresh besides the distribution points (repeatable)", func(u string) error {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("%q is not an http(s) URL", u)
		}
		m.CRLURLs = append(m.CRLURLs, u)
		return nil
	})
	fs.StringVar(&m.Practices, "practices", "", "practices directory `file` (--dev: fixtures/practices.yaml)")
	fs.StringVar(&m.Insurers, "insurers", "", "insurer directory `file` (--dev: fixtures/insurers.yaml)")
	fs.StringVar(&m.Tariffs, "tariffs", "", "NGAP tariff table `file`, over the tables directory's ngap.csv (--dev: the fixtures')")
	fs.StringVar(&m.Tables, "tables", "", "tariff tables `directory`: ngap.csv, ccam.csv, ccam-modifiers.csv, drugs.csv, fees.csv (--dev: the fixtures')")
	fs.Var((*tables.WarnList)(&m.PricesWarn), "prices-warn", "tables whose price differences are warnings, not refusals: `list` of ngap, ccam, drugs")
	fs.StringVar(&m.Holidays, "holidays", "", "public holidays `file` (--dev: the fixtures')")
	fs.StringVar(&m.Generics, "generics", "", "generic groups `file`, CSV cip13,group, for substitution on carried prescriptions (--dev: the fixtures')")
	fs.StringVar(&m.LotKey, "lot-key", string(queue.LotPerInsurerBilling), "what makes a lot: 'insurer+billing' or 'insurer'")
	fs.DurationVar(&m.LotMaxAge, "lot-max-age", 0, "close lots at this age, for every insurer (0: the directory's)")
	fs.IntVar(&m.LotMaxSize, "lot-max-sheets", 0, "close lots at this many sheets, for every insurer (0: the directory's)")
	fs.Int64Var(&m.MaxBody, "max-body", 1<<20, "size limit of one sheet in `bytes`")
	fs.IntVar(&m.MaxBatch, "max-batch", 1000, "most sheets in one batch")
	fs.Int64Var(&m.MaxBatchBytes, "max-batch-bytes", 64<<20, "size limit of one batch's body in `bytes`")
	fs.IntVar(&m.MaxBatchesPerClient, "max-batches-per-client", 4, "batches one card may have in progress at once")
	fs.IntVar(&m.DrainYield, "drain-yield", 0, "sheets in the intake at once from which lots are built at a slower pace, so that a burst is receipted first (0: never)")
	fs.IntVar(&m.YieldRate, "drain-yield-rate", 400, "sheets per second batched while the batcher yields to the intake (--drain-yield)")
	fs.IntVar(&m.GCPercent, "gc-percent", 400, "GOGC of the process unless GOGC is set (verification allocates a lot)")
	m.PSC.flags(fs)
	m.AdminAuth.flags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("serve takes no arguments, got %q", fs.Args())
	}
	if m.Config != "" {
		if err := m.applyConfigFile(fs); err != nil {
			return err
		}
	}
	if m.Sync != "interval" && m.Sync != "always" {
		return cli.Usagef("--sync %q: want interval or always", m.Sync)
	}
	return nil
}

func runServe(ctx context.Context, env *cli.Env, args []string) error {
	m := &Main{Logger: slog.New(slog.NewTextHandler(env.Stderr, nil)), Now: buildClock}
	if err := m.ParseFlags(env, args); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	m.Logger.Info("stopping: intake first, then the queue")
	return m.Close()
}

func (m *Main) loadDirectories() error {
	var err error
	switch {
	case m.Insurers != "":
		m.dir, err = insurers.LoadFile(m.Insurers)
	case m.Dev:
		m.dir, err = dev.Insurers()
	default:
		err = cli.WithHint(errors.New("no insurer directory"), "set --insurers (or use --dev)")
	}
	if err != nil {
		return err
	}
	var pd *practices.Directory
	switch {
	case m.Practices != "":
		pd, err = practices.Load(m.Practices)
	case m.Dev:
		pd, err = dev.Practices()
	default:
		err = errors.New("no practices directory: give its file (or --dev for the fixtures)")
	}
	if err != nil {
		return err
	}
	m.practices = &intake.Practices{Directory: pd, Now: m.Now}
	switch {
	case m.TrustDir != "":
		m.trust, err = signature.LoadDir(m.TrustDir)
	case m.Dev:
		m.trust, err = dev.Trust()
	default:
		err = cli.WithHint(errors.New("no trust roots"), "set --trust-dir (or use --dev for the test PKI)")
	}
	if err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	if m.Now != nil {
		m.trust.Now = m.Now
	}
	return nil
}

func (m *Main) rules() (fse.Options, error) {
	o := fse.Options{Now: m.Now}
	var set tables.Set
	var err error
	switch {
	case m.Tables != "":
		if set, err = tables.Load(os.DirFS(m.Tables)); err != nil {
			return o, fmt.Errorf("tables %s: %w", m.Tables, err)
		}
	case m.Dev && m.Tariffs == "":
		if set, err = dev.Tables(); err != nil {
			return o, err
		}
	}
	set.Apply(&o)
	if m.Tariffs != "" {
		b, err := os.ReadFile(m.Tariffs)
		if err != nil {
			return o, err
		}
		if o.Tariffs, err = fse.ParseTariffs(bytes.NewReader(b)); err != nil {
			return o, fmt.Errorf("tariffs: %w", err)
		}
	}
	if o.Tariffs == nil {
		return o, cli.WithHint(errors.New("no tariff table"), "set --tables (or --tariffs, or use --dev)")
	}
	for _, t := range m.PricesWarn {
		switch t {
		case "ngap":
			o.Prices.NGAP = fse.PriceWarn
		case "ccam":
			o.Prices.CCAM = fse.PriceWarn
		case "drugs":
			o.Prices.Drugs = fse.PriceWarn
		}
	}
	switch {
	case m.Holidays != "":
		b, err := os.ReadFile(m.Holidays)
		if err != nil {
			return o, err
		}
		if o.Holidays, err = fse.ParseHolidays(bytes.NewReader(b)); err != nil {
			return o, fmt.Errorf("holidays: %w", err)
		}
	case m.Dev:
		b, err := fixtures.ReadFile("holidays.csv")
		if err != nil {
			return o, err
		}
		if o.Holidays, err = fse.ParseHolidays(bytes.NewReader(b)); err != nil {
			return o, fmt.Errorf("holidays: %w", err)
		}
	}
	return o, nil
}

// loadCalendars reads each insurer's holiday calendar (its directory
// entry's holidays file, relative to the directory file; with --dev and
// the fixtures' directory, a fixtures file), def for those naming none.
func (m *Main) loadCalendars(def *fse.Holidays) (map[string]*fse.Holidays, error) {
	out := map[string]*fse.Holidays{}
	if m.dir == nil {
		return out, nil
	}
	for _, id := range m.insurerIDs() {
		ins, _ := m.dir.Insurer(id)
		if ins.Holidays == "" {
			out[id] = def
			continue
		}
		var b []byte
		var err error
		switch {
		case m.Insurers != "":
			p := ins.Holidays
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(m.Insurers), p)
			}
			b, err = os.ReadFile(p)
		default:
			b, err = fixtures.ReadFile(ins.Holidays)
		}
		if err != nil {
			return nil, fmt.Errorf("insurer %s: holidays: %w", id, err)
		}
		if out[id], err = fse.ParseHolidays(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("insurer %s: %w", id, err)
		}
	}
	return out, nil
}

func (m *Main) limits(id string) queue.Limits {
	ins, ok := m.dir.Insurer(id)
	if !ok {
		return queue.Limits{}
	}
	l := queue.Limits{
		MaxSheets: ins.Lots.MaxSheets, MaxAge: ins.Lots.MaxAge, MaxBytes: ins.Lots.MaxBytes,
		DeliveryDeadline: ins.Deadlines.Delivery, ARLDeadline: ins.Deadlines.ARL, ReturnsDeadline: ins.Deadlines.Returns,
		ReturnsWorkingDays: ins.Deadlines.ReturnsWorkingDays, Holidays: m.calendars[id],
		MaxAttempts: ins.Retry.Attempts, Backoff: ins.Retry.Backoff, MaxBackoff: ins.Retry.MaxBackoff,
	}
	if m.LotMaxAge > 0 {
		l.MaxAge = m.LotMaxAge
	}
	if m.LotMaxSize > 0 {
		l.MaxSheets = m.LotMaxSize
	}
	return l
}

func (m *Main) insurerIDs() []string {
	if m.dir == nil {
		return nil
	}
	ids := make([]string, 0, len(m.dir.Insurers))
	for _, in := range m.dir.Insurers {
		ids = append(ids, in.ID)
	}
	return ids
}

// Run starts everything and returns once the gateway serves.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	log := m.Logger
	if os.Getenv("GOGC") == "" && m.GCPercent > 0 {
		debug.SetGCPercent(m.GCPercent)
	}
	if m.MaxBody == 0 {
		m.MaxBody = 1 << 20
	}
	if m.MaxBatch == 0 {
		m.MaxBatch = 1000
	}
	if m.MaxBatchBytes == 0 {
		m.MaxBatchBytes = 64 << 20
	}
	if m.MaxBatchesPerClient == 0 {
		m.MaxBatchesPerClient = 4
	}
	if m.Sync == "" {
		m.Sync = "interval"
	}
	tlsCfg, err := m.serverTLS()
	if err != nil {
		return err
	}
	if err := m.loadDirectories(); err != nil {
		return err
	}
	rules, err := m.rules()
	if err != nil {
		return err
	}
	if m.calendars, err = m.loadCalendars(rules.Holidays); err != nil {
		return err
	}
	if err := os.MkdirAll(m.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	ctx, m.stop = context.WithCancel(context.WithoutCancel(ctx))

	// NATS: embedded (users from the directory) or an existing deployment.
	var seed []byte
	switch {
	case m.NATSSeed != "":
		if seed, err = insurers.ReadSeed(m.NATSSeed); err != nil {
			return err
		}
	case m.Dev:
		if seed, err = dev.Seed("gateway"); err != nil {
			return err
		}
	case m.NATSURL == "":
		return cli.WithHint(errors.New("no --nats-seed: the embedded NATS server would take the fixtures' gateway key, which is public"),
			"make the gateway's own nkey (nsc or nk -gen user), give its seed file with --nats-seed and its public key as gateway_nkey in the insurer directory; --dev is for development only")
	}
	if !m.Dev {
		if err := m.refuseFixtureKeys(seed); err != nil {
			return err
		}
	}
	storeDir := ""
	url := m.NATSURL
	var opts []nats.Option
	if url == "" {
		users, err := insurers.NATSUsers(m.dir)
		if err != nil {
			return err
		}
		storeDir = filepath.Join(m.DataDir, "jetstream")
		key, oldKey, err := m.storeKeys()
		if err != nil {
			return err
		}
		natsTLS, err := m.natsTLS()
		if err != nil {
			return err
		}
		e, err := queue.StartEmbedded(queue.EmbeddedConfig{Listen: m.NATSListen, StoreDir: storeDir, SyncAlways: m.Sync == "always", Users: users, MaxStore: m.MaxStore,
			StoreKey: key, StoreOldKey: oldKey, StoreCipher: storeCipher(m.StoreCipher), TLS: natsTLS})
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return inUse(err, "--nats-listen")
			}
			if key != "" {
				return cli.WithHint(err, "a store written with another key cannot be read: give the key it was written with (or that key as --store-old-key-file to rotate)")
			}
			return err
		}
		m.nats = e
		url = e.ClientURL()
		opts = append(opts, nats.InProcessServer(e.Server))
		if natsTLS != nil {
			// The gateway's own connection is in-process: it takes the
			// listener's own certificate, pinned, whatever names it holds.
			m.mockTLS = pinned(natsTLS.Certificates[0])
			opts = append(opts, nats.Secure(m.mockTLS))
		}
		log.Info("embedded NATS JetStream started", "url", url, "store", storeDir, "sync", m.Sync, "encrypted", key != "", "tls", natsTLS != nil)
	}
	if seed != nil {
		auth, err := insurers.NATSAuth(seed)
		if err != nil {
			return err
		}
		opts = append(opts, auth)
	}
	opts = append(opts, nats.Name("fsegate-gateway"), nats.MaxReconnects(-1))
	if m.nc, err = nats.Connect(url, opts...); err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	m.metrics = newMetrics()
	groups, err := m.generics()
	if err != nil {
		return err
	}
	// The intake service exists before the queue, whose batcher asks it
	// how busy it is; it takes its first sheet once the queue is set.
	m.intake = &intake.Service{
		Verifier:  &signature.Verifier{Trust: m.trust, Now: m.Now},
		Practices: m.practices, Directory: m.dir, Rules: rules, Groups: groups, Metrics: m.metrics,
		Logger: log.With("part", "intake"), ReceiptFirst: receiptFirst,
	}
	// What happened before this start is in the store, not in the
	// counters: replayed into them once the queue runs (the dashboard
	// shows the store's totals after a restart, not zeros).
	replayBefore := time.Now()
	if m.Now != nil {
		replayBefore = m.Now()
	}
	m.metrics.reg.MustRegister(newQueueDepth(func() *queue.Queue { return m.queue }, m.insurerIDs),
		newCRLMetrics(func() *signature.TrustStore { return m.trust }, m.Now))
	m.queue, err = queue.Open(ctx, queue.Config{
		Conn: m.nc,
		Topology: queue.TopologyConfig{
			Replicas: m.Replicas, MaxBytes: m.MaxStore, StoreDir: storeDir, Insurers: m.insurerIDs(),
		},
		LotKey:    queue.LotKeyMode(m.LotKey),
		Limits:    m.limits,
		Codec:     queue.LotCodec{},
		Now:       m.Now,
		FailPoint: m.FailPoint,
		Logger:    log.With("part", "queue"),
		Metrics:   m.metrics,
		Tick:      m.Tick,
		IntakeBusy: func() bool {
			return m.DrainYield > 0 && m.intake.Inflight() >= int64(m.DrainYield)
		},
		YieldBatch: max(1, m.YieldRate/4),
		YieldPause: 250 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if err := m.queue.Start(ctx); err != nil {
		return err
	}
	go func() {
		n, err := m.queue.Replay(ctx, replayBefore, m.metrics)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("the totals start from zero: the store's recorded state was not read", "err", err)
			}
			return
		}
		m.metrics.received.Add(float64(n))
		if n > 0 {
			log.Info("totals read from the store's recorded state", "sheets", n)
		}
	}()
	m.intake.Queue = m.queue
	if m.Mock {
		if err := m.startMocks(ctx, url); err != nil {
			return err
		}
	}
	m.revocation = &revocation.Refresher{
		Trust: m.trust, Dir: m.TrustDir, URLs: m.CRLURLs, Every: m.CRLRefresh, Now: m.Now,
		Logger: log.With("part", "trust"), Failed: func(n int) { m.metrics.crlFailures.Add(float64(n)) },
	}
	if m.CRLRefresh > 0 {
		go m.revocation.Run(ctx)
	}

	if m.apiLn, err = net.Listen("tcp", m.Listen); err != nil {
		return inUse(fmt.Errorf("intake listener: %w", err), "--listen")
	}
	if m.adminLn, err = net.Listen("tcp", m.Admin); err != nil {
		return inUse(fmt.Errorf("admin listener: %w", err), "--admin")
	}
	apiSrv := &httpapi.Server{
		Intake: m.intake, Queue: m.queue, Trust: m.trust, Practices: m.practices, Bearer: m.bearer, OpenAPI: openapiYAML,
		MaxBody: m.MaxBody, MaxBatch: m.MaxBatch, MaxBatchBytes: m.MaxBatchBytes, MaxBatchesPerClient: m.MaxBatchesPerClient,
	}
	if m.ReadHeaderTimeout == 0 {
		m.ReadHeaderTimeout = 10 * time.Second
	}
	if m.ReadTimeout == 0 {
		m.ReadTimeout = 2 * time.Minute
	}
	if m.IdleTimeout == 0 {
		m.IdleTimeout = 2 * time.Minute
	}
	m.api = &http.Server{Handler: apiSrv.Handler(), TLSConfig: tlsCfg, ReadHeaderTimeout: m.ReadHeaderTimeout, ReadTimeout: m.ReadTimeout, IdleTimeout: m.IdleTimeout, ConnContext: httpapi.ConnContext,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		if err := m.api.ServeTLS(m.apiLn, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("intake listener stopped", "err", err)
		}
	}()
	// The admin listener: every request's Host and every state-changing
	// request's origin checked (adminauth.go); probes, scrapers and the
	// API description open; /admin/*, pprof (--pprof) and the dashboard's
	// operator views for operators.
	if err := m.setupAdminAuth(); err != nil {
		return err
	}
	adminSrv, err := m.adminServer(ctx)
	if err != nil {
		return err
	}
	// The admin listener gets the intake's read and idle timeouts: a stuck
	// client cannot hold it either (no write timeout: pprof profiles and
	// the dashboard's event stream answer for long).
	m.admin = &http.Server{Handler: adminSrv.Handler(), ReadHeaderTimeout: m.ReadHeaderTimeout, ReadTimeout: m.ReadTimeout, IdleTimeout: m.IdleTimeout}
	go func() {
		if err := m.admin.Serve(m.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "err", err)
		}
	}()
	m.ready.Store(true)
	log.Info("gateway ready", "intake", "https://"+m.apiLn.Addr().String(), "admin", "http://"+m.adminLn.Addr().String(), "nats", url, "dev", m.Dev, "mock_insurers", m.Mock)
	if m.Dev {
		// Where a newcomer goes next (the README's tour).
		log.Info("next: open the dashboard at http://"+m.adminLn.Addr().String()+"/ (sign in with the operator token), and run 'make demo' in another terminal to sign and send care sheets with a virtual card", "operator_token", filepath.Join(m.DataDir, "operator.token"))
	}
	return nil
}

func (m *Main) startMocks(ctx context.Context, url string) error {
	if m.Scenario == nil && m.MockScenario != "" {
		sc, err := mock.LoadScenarioFile(m.MockScenario)
		if errors.Is(err, fs.ErrNotExist) {
			sc, err = dev.Scenario(m.MockScenario)
		}
		if err != nil {
			return fmt.Errorf("--mock-scenario: %w", err)
		}
		m.Scenario = sc
	}
	for _, in := range m.dir.Insurers {
		seed, err := dev.Seed(in.ID)
		if err != nil {
			return fmt.Errorf("mock insurer %s: %w", in.ID, err)
		}
		checker, err := dev.Checker(in.Kind, m.Now)
		if err != nil {
			return fmt.Errorf("mock insurer %s: %w", in.ID, err)
		}
		mi, err := mock.Start(ctx, mock.Config{
			NATSURL: url, TLS: m.mockTLS, Insurer: in, NKeySeed: seed, Scenario: m.Scenario, Checker: checker,
			Logger: m.Logger.With("part", "mock-insurer"), Now: m.Now, // the insurer adds "insurer"
		})
		if err != nil {
			return fmt.Errorf("mock insurer %s: %w", in.ID, err)
		}
		m.mocks = append(m.mocks, mi)
	}
	m.Logger.Info("mock insurers started", "count", len(m.mocks))
	return nil
}

// APIAddr and AdminAddr are the bound addresses (useful with :0).
func (m *Main) APIAddr() string   { return m.apiLn.Addr().String() }
func (m *Main) AdminAddr() string { return m.adminLn.Addr().String() }

// NATSURL of the running server (embedded or not), for tests and tools.
func (m *Main) NATSClientURL() string {
	if m.nats != nil {
		return m.nats.ClientURL()
	}
	return m.NATSURL
}

// Queue is the running queue (tests).
func (m *Main) Queue() *queue.Queue { return m.queue }

func (m *Main) serverTLS() (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case m.TLSCert != "" || m.TLSKey != "":
		cert, err = tls.LoadX509KeyPair(m.TLSCert, m.TLSKey)
	case m.Dev:
		var certPEM, keyPEM []byte
		if certPEM, err = fixtures.ReadFile("pki/server.crt"); err != nil {
			return nil, err
		}
		if keyPEM, err = fixtures.ReadFile("pki/server.key"); err != nil {
			return nil, err
		}
		cert, err = tls.X509KeyPair(certPEM, keyPEM)
	default:
		return nil, cli.WithHint(errors.New("no server certificate configured"), "use --dev for the test PKI, or set --tls-cert and --tls-key (tls.cert, tls.key in --config)")
	}
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	// The client certificate is requested, and checked by the handlers of
	// the sheet endpoints before they read anything (so the refusal is a
	// problem+json with its code rather than a TLS alert).
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}, nil
}

// Close stops intake first (in-flight requests finish), then the mock
// insurers, the queue's loops, the NATS connection and the server.
func (m *Main) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m.api != nil {
		_ = m.api.Shutdown(ctx)
	}
	for _, mi := range m.mocks {
		_ = mi.Stop()
	}
	if m.queue != nil {
		m.queue.Close()
	}
	if m.stop != nil {
		m.stop()
	}
	if m.admin != nil {
		_ = m.admin.Shutdown(ctx)
	}
	if m.nc != nil {
		_ = m.nc.Drain()
		for i := 0; i < 100 && !m.nc.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if m.nats != nil {
		m.nats.Close()
	}
	return nil
}

// inUse adds the hint that fits a listener whose address is taken: most
// often another gateway (a second 'make run').
func inUse(err error, flag string) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return cli.WithHint(err, "another gateway (a 'make run' in another terminal?) or another program listens there: stop it, or give "+flag+" another address")
	}
	return err
}

// generics loads the generic groups table: --generics, or the fixtures'
// with --dev; none (no substitution) otherwise.
func (m *Main) generics() (rx.Groups, error) {
	switch {
	case m.Generics != "":
		f, err := os.Open(m.Generics)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return rx.ParseGroups(f)
	case m.Dev:
		b, err := fixtures.ReadFile("generics.csv")
		if err != nil {
			return nil, err
		}
		return rx.ParseGroups(bytes.NewReader(b))
	}
	return rx.Groups{}, nil
}
