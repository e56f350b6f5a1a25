package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The names of the topology (design §4), defined once. Subjects end with a
// token per insurer, billing number or prescriber.
const (
	StreamSheets        = "FSE_SHEETS"        // fse.sheets.<insurer>: accepted signed sheets
	StreamLots          = "FSE_LOTS"          // fse.lots.<insurer>: lots, one durable consumer per insurer
	StreamAcks          = "FSE_ACKS"          // fse.acks.<insurer>: ARLs and returns from insurers
	StreamNotices       = "FSE_NOTICES"       // fse.notices.<billing>: what a practice has to read
	StreamHistory       = "FSE_HISTORY"       // fse.history.<billing>.<number>: every state change
	StreamPrescriptions = "FSE_PRESCRIPTIONS" // fse.rx.<prescriber>.<id>: signed prescriptions
	StreamDead          = "FSE_DEAD"          // fse.dead.<insurer>: lots out of retry budget
	StreamAudit         = "FSE_AUDIT"         // fse.audit: hash-chained record of lots and acks
	StreamPayments      = "FSE_PAYMENTS"      // fse.payments.<billing>.<insurer>.<transfer>: transfers kept for the practice
	StreamSCOR          = "FSE_SCOR"          // fse.scor.<insurer>: SCOR pieces waiting for their lot

	SubjectSheets        = "fse.sheets"
	SubjectLots          = "fse.lots"
	SubjectAcks          = "fse.acks"
	SubjectNotices       = "fse.notices"
	SubjectHistory       = "fse.history"
	SubjectPrescriptions = "fse.rx"
	SubjectDead          = "fse.dead"
	SubjectAudit         = "fse.audit"
	SubjectPayments      = "fse.payments"
	SubjectSCOR          = "fse.scor"

	// BucketStatus holds one key per sheet, <billing>.<number>: its state
	// and content digest. Keys are created with create-only semantics and
	// never expire nor get deleted (a delete marker would let a doublon in).
	BucketStatus = "FSE_STATUS"
	// BucketBatches holds the batcher's and the ack router's durable
	// state: open.<lotkey> (the open lot's manifest), lot.<lotid> (a closed
	// lot: frozen manifest, attempts, acks applied) and active.<lotid>
	// (lots not yet final, scanned at start to rebuild the timers).
	BucketBatches = "FSE_BATCHES"
	// BucketCursors holds the last confirmed notice sequence per billing
	// number.
	BucketCursors = "FSE_CURSORS"
	// BucketPrescriptions holds one record per carried prescription,
	// <prescriber>.<id>: what claims are checked against and every
	// dispensation, updated under compare-and-swap (scor.go's neighbour
	// prescriptions.go).
	BucketPrescriptions = "FSE_RX"
	// BucketRefusals holds the latest intake refusal of each sheet,
	// <billing>.<number> (codes only), for RefusalAge (refusals.go).
	BucketRefusals = "FSE_REFUSALS"

	ConsumerBatcher   = "BATCHER"
	ConsumerAckRouter = "ACK_ROUTER"
	ConsumerSCOR      = "SCOR_BATCHER"
)

// Subject helpers: one token each, validated by the callers' inputs.
func SheetSubject(insurer string) string  { return SubjectSheets + "." + insurer }
func LotSubject(insurer string) string    { return SubjectLots + "." + insurer }
func AckSubject(insurer string) string    { return SubjectAcks + "." + insurer }
func NoticeSubject(billing string) string { return SubjectNotices + "." + billing }
func DeadSubject(insurer string) string   { return SubjectDead + "." + insurer }

// PaymentSubject holds one transfer (the stream keeps one message per
// subject: a transfer kept again replaces itself). transfer is a token
// derived from the transfer's id (see transferToken).
func PaymentSubject(billing, insurer, transfer string) string {
	return SubjectPayments + "." + billing + "." + insurer + "." + transfer
}

// PaymentsFilter matches every transfer to billing.
func PaymentsFilter(billing string) string { return SubjectPayments + "." + billing + ".>" }
func StatusKey(billing, num string) string { return billing + "." + num }
func HistorySubject(billing, num string) string {
	return SubjectHistory + "." + billing + "." + num
}

// PaymentRetention is how long FSE_PAYMENTS keeps transfers.
const PaymentRetention = 395 * 24 * time.Hour

// SheetsDedupWindow is FSE_SHEETS' duplicate window: a sheet published
// again within it is not stored again (the PubAck names the first copy).
const SheetsDedupWindow = 2 * time.Minute

// LotHistorySubject holds the lot-level events of a lot (delivered, ARL),
// which its sheets share instead of each recording them.
func LotHistorySubject(lotID string) string { return SubjectHistory + ".lot." + lotID }
func PrescriptionSubject(prescriber, id string) string {
	return SubjectPrescriptions + "." + prescriber + "." + id
}

// LotConsumer is the durable consumer an insurer pulls its lots from: it
// is named after the insurer id.
func LotConsumer(insurer string) string { return insurer }

// TopologyConfig sizes the streams. The zero value is usable: one replica,
// limits computed from the free disk under StoreDir (or unlimited on an
// external deployment, whose operator sets account limits).
type TopologyConfig struct {
	// Replicas of every stream and bucket: 1 on the embedded server, 3 on
	// a cluster.
	Replicas int
	// MaxBytes is the total byte budget shared by the streams; 0 derives
	// it from StoreDir's free disk (60 %), or leaves streams unlimited when
	// StoreDir is empty.
	MaxBytes int64
	// StoreDir is the embedded server's storage directory (for the free
	// disk); empty with an external deployment.
	StoreDir string
	// SheetRetention is how long FSE_SHEETS keeps sheets; at least 90 days
	// (the legal retention of the electronic double), 93 days by default.
	SheetRetention time.Duration
	// LotDedup is FSE_LOTS' duplicate window: long enough for a crash
	// replay of a lot to be swallowed (48 h by default).
	LotDedup time.Duration
	// Insurers gets one durable consumer each on FSE_LOTS.
	Insurers []string
	// LotAckWait is how long an insurer has to ack a lot message before
	// JetStream redelivers it (60 s by default).
	LotAckWait time.Duration
	// AckWait is how long the batcher and the ack router may hold a
	// message before JetStream redelivers it (30 s by default; the batcher
	// acks each sheet as soon as its manifest is written).
	AckWait time.Duration
	// AckBacklog is how many acknowledgement messages one insurer may have
	// waiting in FSE_ACKS for the ack router. Past it that insurer's
	// publications are refused, and only its own: one insurer filling its
	// subject cannot block another's ARLs (the refused insurer answers the
	// lot again later, the lot message not being acked). 0 derives it from
	// the byte budget: the acks' share (4 %) split between the insurers, in
	// messages of AckMaxMsgSize, between MinAckBacklog and
	// DefaultAckBacklog; DefaultAckBacklog without a budget.
	AckBacklog int64
}

// The bounds of a derived AckBacklog. An ack message answers a whole lot:
// 1,000 waiting messages are hours of a busy insurer's lots with the router
// stopped.
const (
	DefaultAckBacklog = 1000
	MinAckBacklog     = 16
)

// AckMaxMsgSize is the largest acknowledgement message FSE_ACKS takes: the
// NATS server's default maximum payload. A returns message for a lot of 500
// sheets is about 100 KB. With AckBacklog, it bounds what one insurer can
// hold of the stream: AckBacklog × AckMaxMsgSize.
const AckMaxMsgSize = 1 << 20

// Topology is the opened streams and buckets.
type Topology struct {
	JS       jetstream.JetStream
	Sheets   jetstream.Stream
	Lots     jetstream.Stream
	Acks     jetstream.Stream
	Notices  jetstream.Stream
	History  jetstream.Stream
	Rx       jetstream.Stream
	Dead     jetstream.Stream
	Audit    jetstream.Stream
	Payments jetstream.Stream
	Status   jetstream.KeyValue
	Batches  jetstream.KeyValue
	Cursors  jetstream.KeyValue
	SCOR     jetstream.Stream
	RxLedger jetstream.KeyValue
	Refusals jetstream.KeyValue
	Replicas int
	// AckBacklog is each insurer's bound in FSE_ACKS, in messages.
	AckBacklog int64
}

// leaderReads are the buckets read from their stream leader only, when
// replicated: the protocol's records, whose absence or age a reader acts
// upon. (With one replica, direct gets are served by the leader anyway and
// cost less.)
var leaderReads = map[string]bool{BucketStatus: true, BucketBatches: true}

// share of the byte budget per stream and bucket, in percent. FSE_STATUS
// holds one record per sheet (with its events), rewritten at each state
// change: it needs about as much room as the sheets themselves, and a full
// bucket refuses even updates of existing keys, which would freeze every
// sheet in flight (seen at 150,000 sheets with a 1 % share).
var budgetShare = map[string]int64{
	StreamSheets: 23, BucketStatus: 23, StreamLots: 12, StreamPayments: 1, StreamHistory: 8, StreamPrescriptions: 6,
	StreamNotices: 4, StreamAcks: 4, StreamDead: 3, StreamAudit: 2, // FSE_ACKS' share is split between the insurers (AckBacklog)
	BucketBatches: 5, BucketCursors: 1, StreamSCOR: 6, BucketPrescriptions: 1, BucketRefusals: 1,
}

// FreeDisk returns the bytes available to an unprivileged writer at dir.
func FreeDisk(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free disk of %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// EnsureTopology creates or updates every stream, bucket and consumer.
// Streams refuse new writes when full (DiscardNew): old sheets are never
// dropped to make room.
func EnsureTopology(ctx context.Context, js jetstream.JetStream, cfg TopologyConfig) (*Topology, error) {
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.SheetRetention == 0 {
		cfg.SheetRetention = 93 * 24 * time.Hour
	}
	if cfg.SheetRetention < 90*24*time.Hour {
		return nil, fmt.Errorf("topology: sheet retention %v is under the legal 90 days", cfg.SheetRetention)
	}
	if cfg.LotDedup == 0 {
		cfg.LotDedup = 48 * time.Hour
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.LotAckWait == 0 {
		cfg.LotAckWait = 60 * time.Second
	}
	budget := cfg.MaxBytes
	if budget == 0 && cfg.StoreDir != "" {
		free, err := FreeDisk(cfg.StoreDir)
		if err != nil {
			return nil, err
		}
		budget = free / 10 * 6 // under the server's own default limit (75 %)
	}
	limit := func(name string, pct int64) int64 {
		if budget <= 0 {
			return -1
		}
		if b := budget / 100 * pct; b > 1<<20 {
			return b
		}
		return 1 << 20
	}
	if cfg.AckBacklog <= 0 {
		cfg.AckBacklog = DefaultAckBacklog
		if budget > 0 {
			per := budget / 100 * budgetShare[StreamAcks] / int64(max(1, len(cfg.Insurers))) / AckMaxMsgSize
			cfg.AckBacklog = min(DefaultAckBacklog, max(MinAckBacklog, per))
		}
	}
	t := &Topology{JS: js, Replicas: cfg.Replicas, AckBacklog: cfg.AckBacklog}
	stream := func(name, subject string, maxAge, dedup time.Duration) (jetstream.Stream, error) {
		sc := jetstream.StreamConfig{
			Name:       name,
			Subjects:   []string{subject},
			Storage:    jetstream.FileStorage,
			Replicas:   cfg.Replicas,
			Retention:  jetstream.LimitsPolicy,
			Discard:    jetstream.DiscardNew,
			MaxAge:     maxAge,
			MaxBytes:   limit(name, budgetShare[name]),
			Duplicates: dedup,
			// Notices are read in batches by subject (direct get, one
			// request for many messages).
			AllowDirect: name == StreamNotices || name == StreamPayments,
		}
		if name == StreamPayments {
			// One message per transfer: kept again after a crash, it
			// replaces itself instead of being listed twice.
			sc.MaxMsgsPerSubject = 1
		}
		if name == StreamAcks {
			// Each insurer's subject has its own bound and a full one
			// refuses only its own publications (DiscardNewPerSubject);
			// the ack router deletes each message once applied, so the
			// bound counts what waits. The stream has no shared byte limit
			// for one insurer to fill: its size is at most the insurers'
			// bounds together.
			sc.MaxMsgsPerSubject = cfg.AckBacklog
			sc.DiscardNewPerSubject = true
			sc.MaxMsgSize = AckMaxMsgSize
			sc.MaxBytes = -1
		}
		var s jetstream.Stream
		err := placeRetry(ctx, func() (err error) { s, err = js.CreateOrUpdateStream(ctx, sc); return err })
		if err != nil {
			return nil, fmt.Errorf("topology: stream %s: %w", name, err)
		}
		return s, nil
	}
	var err error
	day := 24 * time.Hour
	if t.Sheets, err = stream(StreamSheets, SubjectSheets+".>", cfg.SheetRetention, SheetsDedupWindow); err != nil {
		return nil, err
	}
	if t.Lots, err = stream(StreamLots, SubjectLots+".>", 30*day, cfg.LotDedup); err != nil {
		return nil, err
	}
	if t.Acks, err = stream(StreamAcks, SubjectAcks+".>", 30*day, 10*time.Minute); err != nil {
		return nil, err
	}
	if t.Notices, err = stream(StreamNotices, SubjectNotices+".>", 90*day, 10*time.Minute); err != nil {
		return nil, err
	}
	if t.History, err = stream(StreamHistory, SubjectHistory+".>", cfg.SheetRetention, 10*time.Minute); err != nil {
		return nil, err
	}
	if t.Rx, err = stream(StreamPrescriptions, SubjectPrescriptions+".>", cfg.SheetRetention, 2*time.Minute); err != nil {
		return nil, err
	}
	if t.Dead, err = stream(StreamDead, SubjectDead+".>", 0, 10*time.Minute); err != nil {
		return nil, err
	}
	if t.Audit, err = stream(StreamAudit, SubjectAudit, 0, 10*time.Minute); err != nil {
		return nil, err
	}
	// Transfers are the practice's accounting: kept 13 months, so a year
	// of bank statements can be reconciled.
	if t.Payments, err = stream(StreamPayments, SubjectPayments+".>", PaymentRetention, 10*time.Minute); err != nil {
		return nil, err
	}
	if t.SCOR, err = stream(StreamSCOR, SubjectSCOR+".>", cfg.SheetRetention, 10*time.Minute); err != nil {
		return nil, err
	}
	kv := func(name, desc string, history uint8, ttl ...time.Duration) (jetstream.KeyValue, error) {
		var b jetstream.KeyValue
		err := placeRetry(ctx, func() (err error) {
			c := jetstream.KeyValueConfig{
				Bucket:      name,
				Description: desc,
				History:     history,
				Storage:     jetstream.FileStorage,
				Replicas:    cfg.Replicas,
				MaxBytes:    limit(name, budgetShare[name]),
			}
			if len(ttl) > 0 {
				c.TTL = ttl[0]
			}
			b, err = js.CreateOrUpdateKeyValue(ctx, c)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("topology: bucket %s: %w", name, err)
		}
		if !leaderReads[name] || cfg.Replicas <= 1 {
			return b, nil // one replica: it is the leader
		}
		// Read from the stream leader, not from any replica: a replica
		// that lags (just back from a partition) answers "no such key"
		// for a record written without it, and the ack router refused
		// an insurer's payment as one for an unknown lot
		// (docs/reliability.md, finding 2). Buckets are created with
		// direct gets on; they are turned off here, then the bucket is
		// bound again so that its reads follow.
		s, err := js.Stream(ctx, "KV_"+name)
		if err != nil {
			return nil, fmt.Errorf("topology: bucket %s: %w", name, err)
		}
		if sc := s.CachedInfo().Config; sc.AllowDirect {
			sc.AllowDirect = false
			if _, err := js.UpdateStream(ctx, sc); err != nil {
				return nil, fmt.Errorf("topology: bucket %s: leader reads: %w", name, err)
			}
		}
		if b, err = js.KeyValue(ctx, name); err != nil {
			return nil, fmt.Errorf("topology: bucket %s: %w", name, err)
		}
		return b, nil
	}
	// One revision: the protocol only ever reads the latest (CAS on its
	// revision); every state change is kept in FSE_HISTORY.
	if t.Status, err = kv(BucketStatus, "per-sheet state and content digest, create-only, no TTL", 1); err != nil {
		return nil, err
	}
	if t.Batches, err = kv(BucketBatches, "open lot manifests, closed lots, active lots", 1); err != nil {
		return nil, err
	}
	if t.Cursors, err = kv(BucketCursors, "last confirmed notice per billing number", 1); err != nil {
		return nil, err
	}
	if t.RxLedger, err = kv(BucketPrescriptions, "carried prescriptions and their dispensations", 1); err != nil {
		return nil, err
	}
	if t.Refusals, err = kv(BucketRefusals, "latest intake refusal of each sheet, codes only", 1, RefusalAge); err != nil {
		return nil, err
	}
	if err := placeRetry(ctx, func() error {
		_, err := js.CreateOrUpdateConsumer(ctx, StreamSCOR, jetstream.ConsumerConfig{
			Durable:       ConsumerSCOR,
			Description:   "packs SCOR pieces into SCOR lots",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxAckPending: 1000,
			FilterSubject: SubjectSCOR + ".>",
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("topology: consumer %s: %w", ConsumerSCOR, err)
	}
	// Consumers, like streams, are retried while the cluster is slow or
	// electing (placeRetry): a gateway restarted then used to exit
	// (docs/reliability.md, finding 5).
	if err := placeRetry(ctx, func() error {
		_, err := js.CreateOrUpdateConsumer(ctx, StreamSheets, jetstream.ConsumerConfig{
			Durable:       ConsumerBatcher,
			Description:   "appends queued sheets to their lot manifests",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxAckPending: 20000,
			FilterSubject: SubjectSheets + ".>",
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("topology: consumer %s: %w", ConsumerBatcher, err)
	}
	if err := placeRetry(ctx, func() error {
		_, err := js.CreateOrUpdateConsumer(ctx, StreamAcks, jetstream.ConsumerConfig{
			Durable:       ConsumerAckRouter,
			Description:   "applies insurers' acknowledgements",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxAckPending: 20000,
			FilterSubject: SubjectAcks + ".>",
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("topology: consumer %s: %w", ConsumerAckRouter, err)
	}
	for _, ins := range cfg.Insurers {
		if err := EnsureInsurer(ctx, js, ins, cfg.LotAckWait); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// EnsureInsurer creates the durable pull consumer an insurer takes its lots
// from. Insurers cannot create consumers themselves (design §4). No BackOff:
// it would override AckWait; re-sends are the gateway's own timers.
func EnsureInsurer(ctx context.Context, js jetstream.JetStream, insurer string, ackWait time.Duration) error {
	if !ValidToken(insurer) {
		return fmt.Errorf("topology: insurer id %q is not a NATS subject token", insurer)
	}
	if ackWait == 0 {
		ackWait = 60 * time.Second
	}
	err := placeRetry(ctx, func() error {
		_, err := js.CreateOrUpdateConsumer(ctx, StreamLots, jetstream.ConsumerConfig{
			Durable:       LotConsumer(insurer),
			Description:   "lots for insurer " + insurer,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			MaxAckPending: 1000,
			FilterSubject: LotSubject(insurer),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("topology: consumer for insurer %s: %w", insurer, err)
	}
	return nil
}

// ValidToken reports whether s can be one subject token (and KV key part).
func ValidToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// isStorageFull reports whether err says JetStream refused a write for
// lack of room.
func isStorageFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10047, 10028, 10054: // insufficient resources, store failed, maximum bytes
			return true
		}
	}
	s := err.Error()
	return strings.Contains(s, "maximum bytes") || strings.Contains(s, "insufficient resources") || strings.Contains(s, "resource limits")
}

// errCodeNoPeers is JetStream's JSClusterNoPeersErr.
const errCodeNoPeers = 10005

// errCodeUnavailable is JetStream's "system temporarily unavailable" (a
// cluster electing its meta leader).
const errCodeUnavailable = 10008

// errCodeNoPlacement is "insufficient resources": no peers to place an R3
// asset on while nodes are down (or, for good, no room: then placeRetry
// gives up after its 30 s).
const errCodeNoPlacement = 10023

// placeRetry runs f again, for up to 30 s, while the cluster answers "no
// suitable peers for placement" (a peer starting or restarting is briefly
// seen offline by the meta leader) or does not answer within the API
// timeout (creating a replicated stream elects its group, which a busy
// cluster may take longer than that to do): a gateway starting then should
// wait rather than fail. f creates or updates, so running it again is
// harmless.
func placeRetry(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		var apiErr *jetstream.APIError
		noPeers := errors.As(err, &apiErr) && (apiErr.ErrorCode == errCodeNoPeers || apiErr.ErrorCode == errCodeUnavailable || apiErr.ErrorCode == errCodeNoPlacement)
		slow := ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout))
		if err == nil || !(noPeers || slow) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
