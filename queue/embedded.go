package queue

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures the in-process nats-server. The zero value is
// not usable: StoreDir is required.
type EmbeddedConfig struct {
	// Listen is host:port for NATS clients (insurers); "127.0.0.1:4222" by
	// default; port 0 picks a free one.
	Listen string
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// SyncAlways fsyncs every write before acknowledging it (see
	// docs/operations.md: the cost is measured in make bench).
	SyncAlways bool
	// Users are extra NATS users (insurers); nil leaves the server open to
	// any loopback client, which only tests do.
	Users []*server.NkeyUser
	// MaxStore caps JetStream's file storage in bytes (0: the server's default, a share of the disk).
	MaxStore int64
	// StoreKey encrypts JetStream's files at rest (the server's own
	// encryption, AES-GCM by default): signed sheets carry patients' NIR.
	// Empty stores in clear, which only tests and benchmarks do.
	StoreKey string
	// StoreOldKey is the key the files were encrypted with before a
	// rotation: at start the server re-encrypts them with StoreKey
	// (docs/operations.md, "Keys at rest").
	StoreOldKey string
	// StoreCipher is "aes" (default) or "chacha".
	StoreCipher string
	// TLS, when set, is required of NATS clients (insurers); with
	// TLS.ClientCAs set, their certificates are verified too (mutual TLS).
	// The gateway's own connection is in-process.
	TLS *tls.Config
}

// Embedded is a running in-process nats-server with JetStream.
type Embedded struct {
	Server *server.Server
}

// StartEmbedded starts the server and waits until it accepts connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("start nats: no store directory")
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("start nats: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("start nats: listen port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	} else if ln, err := net.Listen("tcp", listen); err != nil {
		// Said now, not after the server's 15 s wait for readiness.
		return nil, fmt.Errorf("start nats: %s is in use (another gateway, or a NATS server, listens there): %w", listen, err)
	} else {
		ln.Close()
	}
	opts := &server.Options{
		ServerName:         "fsegate",
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxStore:  cfg.MaxStore,
		NoSigs:             true,
		NoLog:              true,
		SyncAlways:         cfg.SyncAlways,
		Nkeys:              cfg.Users,
		JetStreamMaxMemory: 256 << 20,
		// SCOR pieces (up to 5 MiB) travel whole in one message.
		MaxPayload:      MaxPayload,
		JetStreamKey:    cfg.StoreKey,
		JetStreamOldKey: cfg.StoreOldKey,
	}
	switch cfg.StoreCipher {
	case "", "aes":
		opts.JetStreamCipher = server.AES
	case "chacha":
		opts.JetStreamCipher = server.ChaCha
	default:
		return nil, fmt.Errorf("start nats: store cipher %q: want aes or chacha", cfg.StoreCipher)
	}
	if cfg.StoreOldKey != "" && cfg.StoreKey == "" {
		return nil, fmt.Errorf("start nats: an old store key without a new one")
	}
	if cfg.TLS != nil {
		opts.TLSConfig = cfg.TLS
		opts.TLS = true
		opts.TLSVerify = cfg.TLS.ClientCAs != nil
		opts.TLSTimeout = 5
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start nats: not ready after 15s (is %s in use?)", listen)
	}
	return &Embedded{Server: s}, nil
}

// ClientURL is where clients connect.
func (e *Embedded) ClientURL() string { return e.Server.ClientURL() }

// Close stops the server and waits for it to finish writing.
func (e *Embedded) Close() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}
