package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/loadgen"
)

// TestLoadgenAccounting runs a small load through the whole in-process
// gateway (embedded JetStream, batcher, mock insurers, ack router) and
// checks the exact accounting the load generator reports: every sheet
// receipted, every one final exactly once, none missing.
func TestLoadgenAccounting(t *testing.T) {
	m := startGateway(t, "--mock-insurers")
	ps, err := dev.Practitioners(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := loadgen.Prepare(ctx, ps, devTariffs(t), 40, 11, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The cache round trip is part of what make loadtest relies on.
	path := filepath.Join(t.TempDir(), "c.corpus")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	if c, err = loadgen.LoadCorpus(path); err != nil || len(c.Sheets) != 40 {
		t.Fatalf("corpus round trip: %d sheets, %v", len(c.Sheets), err)
	}
	rootPEM, _ := fixtures.ReadFile("pki/root.crt")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	var out bytes.Buffer
	rep, err := loadgen.Run(ctx, loadgen.Config{URL: "https://" + m.APIAddr(), Roots: roots, Connections: 2, Follow: true, FollowFor: 2 * time.Minute, Out: &out}, ps, c)
	t.Logf("report:\n%s", rep)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 40 || rep.Receipted != 40 || rep.Refused != 0 || rep.Errors != 0 {
		t.Fatalf("got sent %d receipted %d refused %d %v errors %d; want 40 receipted", rep.Sent, rep.Receipted, rep.Refused, rep.RefusedCodes, rep.Errors)
	}
	if rep.Final != 40 || rep.Missing != 0 || rep.Duplicated != 0 {
		t.Fatalf("got final %d missing %d duplicated %d; want 40 final, none missing or duplicated", rep.Final, rep.Missing, rep.Duplicated)
	}
	// The same corpus again: every sheet answered with its first receipt,
	// nothing new queued.
	again, err := loadgen.Run(ctx, loadgen.Config{URL: "https://" + m.APIAddr(), Roots: roots}, ps, c)
	if err != nil {
		t.Fatal(err)
	}
	if again.Receipted != 40 {
		t.Fatalf("resending the corpus: %d receipted, want 40 (same receipts)", again.Receipted)
	}
}
