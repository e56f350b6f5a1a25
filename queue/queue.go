package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fse"
)

// Limits are one insurer's lot limits, deadlines and retry budget (from the
// insurer directory). Zero fields take the defaults of DefaultLimits.
type Limits struct {
	MaxSheets int           // a lot closes when it holds this many sheets
	MaxAge    time.Duration // … or when its first sheet is this old
	MaxBytes  int           // … or when its encoded size would pass this
	// DeliveryDeadline: a lot not taken (acked by the insurer's consumer)
	// this long after it was published is re-sent, then delivery_failed.
	DeliveryDeadline time.Duration
	// ARLDeadline: a lot taken but without an ARL this long after it was
	// published is re-sent, then delivery_failed.
	ARLDeadline time.Duration
	// ReturnsDeadline: sheets of a positive ARL without a return this long
	// after the ARL become returns_overdue.
	ReturnsDeadline time.Duration
	// ReturnsWorkingDays, when above 0, replaces ReturnsDeadline: the
	// returns are due by the end of that many working days after the day
	// of the positive ARL (Europe/Paris), in the Holidays calendar
	// (fse.PaymentDue; 7 is the tiers-payant payment deadline).
	ReturnsWorkingDays int
	// Holidays is the insurer's calendar for ReturnsWorkingDays; nil knows
	// weekends only.
	Holidays *fse.Holidays
	// MaxAttempts bounds the sends of one lot (negative ARLs and re-sends).
	MaxAttempts int
	// Backoff is the pause before the first re-send; it doubles per
	// attempt up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultLimits apply when the directory says nothing.
var DefaultLimits = Limits{
	MaxSheets:        200,
	MaxAge:           10 * time.Second,
	MaxBytes:         900000,
	DeliveryDeadline: 10 * time.Minute,
	ARLDeadline:      30 * time.Minute,
	ReturnsDeadline:  24 * time.Hour,
	MaxAttempts:      3,
	Backoff:          5 * time.Second,
	MaxBackoff:       5 * time.Minute,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxSheets > 0 {
		d.MaxSheets = l.MaxSheets
	}
	if l.MaxAge > 0 {
		d.MaxAge = l.MaxAge
	}
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxBackoff > 0 {
		d.MaxBackoff = l.MaxBackoff
	}
	if l.DeliveryDeadline > 0 {
		d.DeliveryDeadline = l.DeliveryDeadline
	}
	if l.ARLDeadline > 0 {
		d.ARLDeadline = l.ARLDeadline
	}
	if l.ReturnsDeadline > 0 {
		d.ReturnsDeadline = l.ReturnsDeadline
	}
	d.ReturnsWorkingDays, d.Holidays = l.ReturnsWorkingDays, l.Holidays
	if l.MaxAttempts > 0 {
		d.MaxAttempts = l.MaxAttempts
	}
	if l.Backoff > 0 {
		d.Backoff = l.Backoff
	}
	return d
}

// LotKeyMode chooses what makes a lot key.
type LotKeyMode string

const (
	// LotPerInsurerBilling: one lot per insurer and billing number (default).
	LotPerInsurerBilling LotKeyMode = "insurer+billing"
	// LotPerInsurer: one lot per insurer, sheets of all billing numbers.
	LotPerInsurer LotKeyMode = "insurer"
)

// Metrics receives what the queue counts; cmd/gateway maps it to
// Prometheus. Every method may be called concurrently.
type Metrics interface {
	SheetQueued()
	SheetFinal(state State, sinceReceipt time.Duration)
	LotPublished(insurer string)
	Ack(level string) // "arl_positive", "arl_negative", "return"
	DeadLot(insurer, reason string)
	BatcherYield() // the batcher slowed down for a busy intake
}

type noMetrics struct{}

func (noMetrics) SheetQueued()                    {}
func (noMetrics) SheetFinal(State, time.Duration) {}
func (noMetrics) LotPublished(string)             {}
func (noMetrics) Ack(string)                      {}
func (noMetrics) DeadLot(string, string)          {}
func (noMetrics) BatcherYield()                   {}

// Config configures a Queue. Only Conn is required.
type Config struct {
	Conn     *nats.Conn
	Topology TopologyConfig
	LotKey   LotKeyMode
	// Limits gives an insurer's limits; nil: DefaultLimits for all.
	Limits func(insurer string) Limits
	// Codec encodes lots and decodes acknowledgements; nil: LotCodec, the
	// production wire format urn:fsegate:lot:1 the insurers speak. Tests
	// that play the insurer in plain JSON set JSONCodec.
	Codec Codec
	// Now is the clock (tests move it); nil: time.Now.
	Now func() time.Time
	// FailPoint, when set, is called between the steps of the protocol
	// with the step's name (see Steps); an error stops the operation there,
	// as if the process died. Tests use it to check nothing is lost.
	FailPoint func(step string) error
	Logger    *slog.Logger
	Metrics   Metrics
	// Tick is how often timers and lot ages are checked (1 s by default).
	Tick time.Duration
	// PublishTimeout bounds each JetStream write of the intake (5 s).
	PublishTimeout time.Duration
	// IntakeBusy, when set, tells whether receipts are waiting for the
	// CPU. The batcher then takes at most YieldBatch sheets per YieldPause,
	// so that a burst is receipted first and batched behind it: a receipt
	// is what a practice waits for, a lot may close minutes later. nil:
	// the batcher never yields.
	IntakeBusy func() bool
	// YieldBatch and YieldPause pace the batcher while the intake is busy
	// (100 sheets per 250 ms by default: 400 sheets/s).
	YieldBatch int
	YieldPause time.Duration
}

// Steps are the failure points of the protocol, in order.
var Steps = []string{
	"intake.published", "intake.queued",
	"batcher.appended", "batcher.frozen", "batcher.published", "batcher.batched",
	"router.lot", "router.sheet",
}

// StepBury is the failure point between a buried sheet's state change and
// its notice; only a lot given up on reaches it, so it is not in Steps.
const StepBury = "router.bury"

// StepTransfer is the failure point between a transfer line's change of
// its sheet and that change's history and notice (after the transfer was
// kept); only transfers reach it, so it is not in Steps.
const StepTransfer = "router.transfer"

// ErrFailPoint wraps the error a FailPoint returned.
var ErrFailPoint = errors.New("injected failure")

// Queue is the gateway's side of JetStream: intake, batcher, ack router
// and timers over one topology.
type Queue struct {
	cfg     Config
	top     *Topology
	js      jetstream.JetStream
	status  statusStore
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool

	active map[string]bool
	// activeScanned is when the timers last listed every active lot.
	activeScanned time.Time
	audit         *auditChain
	br            *breakers
	// wake lets an insurer's acks or new sheets nudge loops.
	batchWake chan struct{}
	// lotsFull: the last lot publish found FSE_LOTS full. The intake then
	// refuses (STORAGE_FULL) rather than receipt sheets no lot can carry;
	// the next lot published clears it (docs/reliability.md, finding 3).
	lotsFull atomic.Bool
}

// Open connects the queue to its topology (creating it when missing).
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.Conn == nil {
		return nil, errors.New("queue: no NATS connection")
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	top, err := EnsureTopology(ctx, js, cfg.Topology)
	if err != nil {
		return nil, err
	}
	if cfg.LotKey == "" {
		cfg.LotKey = LotPerInsurerBilling
	}
	if cfg.LotKey != LotPerInsurerBilling && cfg.LotKey != LotPerInsurer {
		return nil, fmt.Errorf("queue: lot key %q: want %q or %q", cfg.LotKey, LotPerInsurerBilling, LotPerInsurer)
	}
	if cfg.Limits == nil {
		cfg.Limits = func(string) Limits { return DefaultLimits }
	}
	if cfg.Codec == nil {
		cfg.Codec = LotCodec{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.YieldBatch <= 0 {
		cfg.YieldBatch = 100
	}
	if cfg.YieldPause <= 0 {
		cfg.YieldPause = 250 * time.Millisecond
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	q := &Queue{
		cfg: cfg, top: top, js: js, status: statusStore{top.Status},
		log: cfg.Logger, metrics: cfg.Metrics, now: cfg.Now,
		batchWake: make(chan struct{}, 1),
	}
	q.audit = &auditChain{js: js, stream: top.Audit}
	q.br = newBreakers(cfg.Now)
	return q, nil
}

// Topology is the opened streams and buckets.
func (q *Queue) Topology() *Topology { return q.top }

func (q *Queue) limits(insurer string) Limits { return q.cfg.Limits(insurer).withDefaults() }

func (q *Queue) fail(step string) error {
	if q.cfg.FailPoint == nil {
		return nil
	}
	if err := q.cfg.FailPoint(step); err != nil {
		return fmt.Errorf("%s: %w: %w", step, ErrFailPoint, err)
	}
	return nil
}

// LotKeyFor is the lot key of a sheet for one insurer.
func (q *Queue) LotKeyFor(insurer, billing string) string {
	if q.cfg.LotKey == LotPerInsurer {
		return insurer
	}
	return insurer + "." + billing
}

// Start runs the batcher, the ack router and the timers until Close.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("queue: already started")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.cancel = cancel
	b, err := q.newBatcher(ctx)
	if err != nil {
		cancel()
		return err
	}
	r, err := q.newRouter(ctx)
	if err != nil {
		cancel()
		return err
	}
	q.started = true
	q.wg.Add(3)
	go func() { defer q.wg.Done(); b.run(ctx) }()
	go func() { defer q.wg.Done(); r.run(ctx) }()
	go func() { defer q.wg.Done(); q.runSCOR(ctx) }()
	return nil
}

// Close stops the loops and waits for them (in-flight work finishes or is
// left for the replay at the next start).
func (q *Queue) Close() {
	q.mu.Lock()
	cancel := q.cancel
	q.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	q.wg.Wait()
}

func (q *Queue) nudgeBatcher() {
	select {
	case q.batchWake <- struct{}{}:
	default:
	}
}
