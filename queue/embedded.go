package queue

import (
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
