package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/demo"
	"github.com/fsegate/fsegate/internal/testenv"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// TestDemoEndToEnd is issue 3's journey in one process, with every part
// real: a virtual CPS card in a vpcd reader of pcscd, signatures through
// PC/SC (PSO HASH + PSO CDS), TLS 1.2 client authentication with the card's
// authentication key, the gateway on :0 with its embedded JetStream, the
// batcher, the mock insurers each as its own NATS user, the ack router and
// the notices. Every sheet must reach a final state.
func TestDemoEndToEnd(t *testing.T) {
	m := startGateway(t, "--mock-insurers")
	v, err := virtual.Open("doctor", virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.InsertCard(t, v)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pins := 0
	c, err := card.OpenPCSC(ctx, r.Name, card.Options{PIN: func(context.Context, card.PINRequest) ([]byte, error) {
		pins++
		return []byte("1234"), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cert, err := c.TLSCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := fixtures.ReadFile("pki/root.crt")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	cl, err := client.New(client.Config{URL: "https://" + m.APIAddr(), Certificate: &cert, Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out bytes.Buffer
	sum, err := demo.Run(ctx, demo.Config{Client: cl, Card: c, Count: 20, Seed: 7, Out: &out, Wait: 2 * time.Minute})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 20 || sum.Receipted != 20 || sum.Refused != 0 {
		t.Fatalf("got %s; want 20 sent and receipted, none refused", sum)
	}
	if sum.Final != 20 || len(sum.Missing) != 0 {
		t.Fatalf("got %d final, missing %v; want all 20 final", sum.Final, sum.Missing)
	}
	if sum.Accepted+sum.Paid+sum.Rejected < 20 {
		t.Fatalf("final states add up to %d, want at least 20 (one per destination)", sum.Accepted+sum.Paid+sum.Rejected)
	}
	if pins != 1 {
		t.Fatalf("PIN asked %d times, want once for the whole run", pins)
	}
	if !strings.Contains(out.String(), "ARL positive") {
		t.Fatal("no ARL shown in the demo output")
	}
	// An insurer's ARL is read before the returns of its lot.
	arl := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		_, insurer, ok := strings.Cut(line, " from ")
		switch {
		case !ok:
		case strings.Contains(line, "ARL positive"):
			arl[insurer] = true
		case strings.HasPrefix(line, "sheet ") && !arl[insurer]:
			t.Errorf("return before its lot's ARL: %q", line)
		}
	}
}
