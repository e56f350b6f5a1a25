package testenv

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ClusterConfig configures NATSCluster.
type ClusterConfig struct {
	// Nodes is the cluster size; 3 when zero.
	Nodes int
	// Users are the nkey users every node accepts (insurers.NATSUsers of
	// the directory: the gateway's full-access user and one per insurer);
	// nil leaves the client ports open, which only tests do.
	Users []*server.NkeyUser
	// MaxStore caps each node's JetStream file storage (0: the server's
	// default, a share of the disk).
	MaxStore int64
}

// Cluster is a JetStream cluster of in-process nats-servers on loopback
// ports, each with its own store directory. A node can be stopped and
// started again on the same ports and store (a node lost, then back).
type Cluster struct {
	t     testing.TB
	cfg   ClusterConfig
	mu    sync.Mutex
	nodes []*clusterNode
}

type clusterNode struct {
	name        string
	port, route int
	store       string
	srv         *server.Server // nil while stopped
}

// NATSCluster starts a JetStream cluster (3 nodes by default) and waits
// until it has a meta leader and every node is current. It stops when the
// test ends.
func NATSCluster(t testing.TB, cfg ClusterConfig) *Cluster {
	t.Helper()
	if cfg.Nodes <= 0 {
		cfg.Nodes = 3
	}
	ports := freePorts(t, 2*cfg.Nodes)
	c := &Cluster{t: t, cfg: cfg}
	base := t.TempDir()
	for i := range cfg.Nodes {
		c.nodes = append(c.nodes, &clusterNode{
			name: fmt.Sprintf("n%d", i+1), port: ports[2*i], route: ports[2*i+1],
			store: filepath.Join(base, fmt.Sprintf("n%d", i+1)),
		})
	}
	t.Cleanup(c.shutdown)
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.start(i) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("testenv: cluster: %v", err)
		}
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatalf("testenv: cluster: %v", err)
	}
	return c
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func (c *Cluster) options(i int) *server.Options {
	n := c.nodes[i]
	var routes []string
	for _, o := range c.nodes {
		if o != n {
			routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.route))
		}
	}
	return &server.Options{
		ServerName:        n.name,
		Host:              "127.0.0.1",
		Port:              n.port,
		JetStream:         true,
		StoreDir:          n.store,
		JetStreamMaxStore: c.cfg.MaxStore,
		// The default is a share of the machine's memory; streams here are
		// on file, this only bounds what a test can pin.
		JetStreamMaxMemory: 64 << 20,
		Cluster:            server.ClusterOpts{Name: "fsegate-test", Host: "127.0.0.1", Port: n.route},
		Routes:             server.RoutesFromStr(strings.Join(routes, ",")),
		Nkeys:              c.cfg.Users,
		NoSigs:             true,
		NoLog:              true,
	}
}

func (c *Cluster) start(i int) error {
	s, err := server.NewServer(c.options(i))
	if err != nil {
		return fmt.Errorf("node %s: %w", c.nodes[i].name, err)
	}
	s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("node %s not ready after 20s", c.nodes[i].name)
	}
	c.mu.Lock()
	c.nodes[i].srv = s
	c.mu.Unlock()
	return nil
}

// URLs is the comma-separated client URLs of every node (for
// nats.Connect and the gateway's --nats-url).
func (c *Cluster) URLs() string {
	var us []string
	for _, n := range c.nodes {
		us = append(us, fmt.Sprintf("nats://127.0.0.1:%d", n.port))
	}
	return strings.Join(us, ",")
}

// Server is node i's running server (nil while stopped).
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].srv
}

// Stop shuts node i down (its clients reconnect to the others); its store
// stays for Restart.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.nodes[i].srv
	c.nodes[i].srv = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts node i again on its ports and store and waits until the
// cluster is healthy.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.Server(i) != nil {
		c.t.Fatalf("testenv: cluster: node %s is running", c.nodes[i].name)
	}
	if err := c.start(i); err != nil {
		c.t.Fatalf("testenv: cluster: restart: %v", err)
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		c.t.Fatalf("testenv: cluster: after restart: %v", err)
	}
}

// WaitHealthy waits until a meta leader is elected and every running node
// reports JetStream healthy (its streams and consumers caught up).
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, leader, running := true, false, 0
		c.mu.Lock()
		for _, n := range c.nodes {
			if n.srv != nil {
				running++
			}
		}
		for _, n := range c.nodes {
			if n.srv == nil {
				continue
			}
			if n.srv.JetStreamIsLeader() {
				leader = true
				// Placement needs every running peer seen online with its
				// stats, or an R3 stream is refused "peer offline".
				if peers := n.srv.JetStreamClusterPeers(); len(peers) < running {
					ok = false
					last = fmt.Sprintf("meta leader sees %d of %d peers", len(peers), running)
				}
			}
			if h := n.srv.Healthz(&server.HealthzOptions{}); h.Status != "ok" {
				ok = false
				last = fmt.Sprintf("%s: %s %s", n.name, h.Status, h.Error)
			}
		}
		c.mu.Unlock()
		if ok && leader {
			return nil
		}
		if !leader {
			last = "no meta leader"
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not healthy after %s: %s", timeout, last)
}

func (c *Cluster) shutdown() {
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); c.Stop(i) }()
	}
	wg.Wait()
}
