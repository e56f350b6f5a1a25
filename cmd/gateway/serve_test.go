package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/fsegate/fsegate/internal/cli"
)

// startGateway runs the whole gateway on free ports with its embedded NATS
// in a temp dir, as 'make run' does, and stops it when the test ends.
func startGateway(t *testing.T, args ...string) *Main {
	t.Helper()
	m := &Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	env := &cli.Env{Stderr: io.Discard, Stdout: io.Discard, Getenv: func(string) string { return "" }}
	base := []string{"--dev", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}
	if err := m.ParseFlags(env, append(base, args...)); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestServeReady(t *testing.T) {
	m := startGateway(t)
	resp, err := http.Get("http://" + m.AdminAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200", resp.StatusCode)
	}
	m.Close()
	if _, err := http.Get("http://" + m.AdminAddr() + "/readyz"); err == nil {
		t.Fatal("readyz still answers after Close")
	}
}

func TestServeWithoutDevNeedsCertificate(t *testing.T) {
	m := &Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	env := &cli.Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}
	if err := m.ParseFlags(env, []string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Run(context.Background()); err == nil {
		t.Fatal("serve without --dev and without a certificate started; want an error")
	}
}
