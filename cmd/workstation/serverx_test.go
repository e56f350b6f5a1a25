package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/client/workstation"
	"github.com/fsegate/fsegate/internal/cli"
)

// TestServePrescriptions: pharmacy software drives a pharmacy's day through
// the local API: it carries the signed prescription, posts the sheet that
// claims against it (receipted), posts a sheet on paper (receipted,
// awaiting its piece) and then its scan, which the insurer acknowledges.
// A piece that is not a scan is refused with the gateway's code.
func TestServePrescriptions(t *testing.T) {
	g := newTestGateway(t)
	g.start()
	url, tokenFile := serveInProcessAs(t, "pharmacist", g.URL)
	ws, err := workstation.FromTokenFile(url, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	if code := program.Main(ctx, []string{"generate", "--count", "3", "--seed", "63", "--profession", "pharmacist", "--out-dir", dir},
		&cli.Env{Stdout: &bytes.Buffer{}, Stderr: os.Stderr, Getenv: func(string) string { return "" }}); code != 0 {
		t.Fatalf("generate: exit %d", code)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := ws.PostPrescription(ctx, read("RX-63-00001.rx.pdf")); err != nil {
		t.Fatalf("carry the prescription: %v", err)
	}
	for _, name := range []string{"751000027-006300001.xml", "751000027-006300003.xml"} {
		res, err := ws.PostSheet(ctx, read(name), workstation.XML)
		if err != nil || res.State != "receipted" {
			t.Fatalf("%s: got %+v %v, want receipted", name, res, err)
		}
	}
	_, err = ws.PostSCOR(ctx, "", "006300003", []byte("not a scan"))
	var p *client.Problem
	if !errors.As(err, &p) || !p.Has("SCOR_PIECE_INVALID") {
		t.Fatalf("a piece that is not a scan: got %v, want SCOR_PIECE_INVALID", err)
	}
	if _, err := ws.PostSCOR(ctx, "", "006300003", read("751000027-006300003.scor.jpg")); err != nil {
		t.Fatalf("the scan: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		sh, err := ws.Sheet(ctx, "", "006300003")
		var st *client.Status
		if err == nil {
			st, err = sh.GatewayStatus()
		}
		if err == nil && st.SCOR != nil && st.SCOR.State == "acknowledged" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the piece was not acknowledged: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
