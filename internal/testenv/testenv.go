package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/fsegate/fsegate/signature/card/virtual"
)

// The reader.conf that scripts/pcscd.sh writes: entry i is named
// "fsegate vpcd i" and listens on BasePort+2i (slot 00) and BasePort+2i+1
// (slot 01); pcscd names the readers "fsegate vpcd i 00 0s". BasePort is
// $FSEGATE_VPCD_BASE when set: scripts/with-pcscd.sh runs the suite's own
// pcscd on ports clear of a system vpcd's 35963.
var BasePort = basePort()

// Slots is the number of readers.
const Slots = 12

func basePort() int {
	if p, err := strconv.Atoi(os.Getenv("FSEGATE_VPCD_BASE")); err == nil && p > 0 {
		return p
	}
	return 35963
}

// Reader is one leased vpcd reader.
type Reader struct {
	Name string // PC/SC reader name
	Addr string // where the card connects (vpcd listens there)
	Port int
}

// ReaderName is the PC/SC name of the reader whose vpcd listens on port.
func ReaderName(port int) string {
	i := port - BasePort
	return fmt.Sprintf("fsegate vpcd %d 00 %02d", i/2, i%2)
}

const hint = "run the tests with 'make test', which installs pcscd and vsmartcard-vpcd and starts pcscd with fsegate's vpcd readers (scripts/pcscd.sh start)"

// LeaseReader reserves a free vpcd reader for the rest of the test.
func LeaseReader(t testing.TB) Reader {
	t.Helper()
	readers := listReaders(t)
	dir := filepath.Join(os.TempDir(), "fsegate-vpcd-locks")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	for port := BasePort; port < BasePort+Slots; port++ {
		name := ReaderName(port)
		if !readers[name] {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() })
		return Reader{Name: name, Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port}
	}
	t.Fatalf("testenv: no free fsegate vpcd reader among %d (pcscd lists %d readers): too many card tests at once, or %s", Slots, len(readers), hint)
	return Reader{}
}

func listReaders(t testing.TB) map[string]bool {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatalf("testenv: pcscd not reachable (%v): %s", err, hint)
	}
	defer ctx.Release()
	names, err := ctx.ListReaders()
	if err != nil && !errors.Is(err, scard.ErrNoReadersAvailable) {
		t.Fatalf("testenv: list readers: %v: %s", err, hint)
	}
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	if !m[ReaderName(BasePort)] {
		t.Fatalf("testenv: pcscd runs without fsegate's vpcd readers (it lists %q): %s", names, hint)
	}
	return m
}

// InsertCard leases a reader, connects card to it and waits until pcscd
// sees the card present. The card is removed when the test ends.
func InsertCard(t testing.TB, card virtual.Card) Reader {
	t.Helper()
	r := LeaseReader(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = virtual.Serve(ctx, r.Addr, card, nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		// Wait for pcscd to see the card gone so the next lease starts clean.
		_ = waitState(r.Name, false, 5*time.Second)
	})
	if err := waitState(r.Name, true, 10*time.Second); err != nil {
		t.Fatalf("testenv: card in %q: %v", r.Name, err)
	}
	return r
}

// RemoveCard is for tests that pull the card: it waits until pcscd sees
// the reader empty.
func WaitAbsent(t testing.TB, reader string) {
	t.Helper()
	if err := waitState(reader, false, 10*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

func waitState(reader string, present bool, timeout time.Duration) error {
	ctx, err := scard.EstablishContext()
	if err != nil {
		return fmt.Errorf("pcscd not reachable: %w", err)
	}
	defer ctx.Release()
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(timeout)
	for {
		if err := ctx.GetStatusChange(rs, 500*time.Millisecond); err != nil && !errors.Is(err, scard.ErrTimeout) {
			return fmt.Errorf("status of %q: %w", reader, err)
		}
		got := rs[0].EventState&scard.StatePresent != 0
		if got == present {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reader %q: card present=%v after %s, want %v", reader, got, timeout, present)
		}
		rs[0].CurrentState = rs[0].EventState
	}
}

// NATS starts an in-process nats-server with JetStream on a temp dir,
// listening on a free loopback port, and stops it when the test ends.
func NATS(t testing.TB) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: "fsegate-test",
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoSigs:     true,
		NoLog:      true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("testenv: nats-server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("testenv: nats-server not ready after 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// SelectCard answers SELECT with 90 00 and anything else with 6D 00
// (instruction not supported): the least a card can do.
type SelectCard struct{}

// ATR is the CPS3 contact ATR.
func (SelectCard) ATR() []byte {
	return []byte{0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90, 0x00}
}

// Reset does nothing: the card has no state.
func (SelectCard) Reset() {}

// APDU answers one command.
func (SelectCard) APDU(cmd []byte) []byte {
	if len(cmd) >= 4 && cmd[1] == 0xA4 {
		return []byte{0x90, 0x00}
	}
	return []byte{0x6D, 0x00}
}

// ProveCardHarness inserts a SelectCard into a leased reader and checks,
// through pcscd with ebfe/scard, that it answers SELECT with 90 00 and an
// unknown instruction with 6D 00. The harness's own tests call it from two
// packages so that 'go test ./...' runs them at the same time.
func ProveCardHarness(t *testing.T) {
	t.Helper()
	r := InsertCard(t, SelectCard{})
	ctx, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Release()
	c, err := ctx.Connect(r.Name, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatalf("connect %q: %v", r.Name, err)
	}
	defer c.Disconnect(scard.LeaveCard)
	for _, tc := range []struct{ cmd, want []byte }{
		{[]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10}, []byte{0x90, 0x00}},
		{[]byte{0x00, 0xFF, 0x00, 0x00}, []byte{0x6D, 0x00}},
	} {
		resp, err := c.Transmit(tc.cmd)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(resp, tc.want) {
			t.Fatalf("% X answered % X, want % X", tc.cmd, resp, tc.want)
		}
	}
}
