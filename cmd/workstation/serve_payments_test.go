package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/client/workstation"
)

// TestServePayments: the local API lists the practice's transfers and
// reconciles a bank statement with them; a statement it cannot read is
// BANK_CSV_INVALID, and nothing is asked of the gateway for it.
func TestServePayments(t *testing.T) {
	scenario, _ := filepath.Abs("testdata/payments-scenario.yaml")
	g := newTestGateway(t, "--mock-scenario", scenario)
	g.start()
	url, tokenFile := serveInProcess(t, g.URL)
	ws, err := workstation.FromTokenFile(url, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var numbers []string
	for _, b := range generated(t, 71, 8, "doctor") {
		res, err := ws.PostSheet(ctx, b, workstation.XML)
		if err != nil || res.State != "receipted" {
			t.Fatalf("post: %v %+v", err, res)
		}
		numbers = append(numbers, res.Number)
	}
	// Every sheet final: the tiers-payant ones are then in transfers.
	deadline := time.Now().Add(2 * time.Minute)
	for _, n := range numbers {
		for {
			s, err := ws.Sheet(ctx, "751000019", n)
			if err == nil && s.State == "final" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sheet %s not final: %+v %v", n, s, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ts, err := ws.Payments(ctx, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) < 2 {
		t.Fatalf("%d transfers, want several (sheets of several insurers)", len(ts))
	}
	for _, tr := range ts {

		if tr.Total != tr.Sum("paid")+tr.Sum("reversed") || tr.Billing != "751000019" {
			t.Errorf("transfer %+v", tr)
		}
	}
	// The statement: every transfer but the first, one amount changed, a
	// line of another payer.
	var csv strings.Builder
	csv.WriteString("Date;Libellé;Amount;Reference\n")
	for i, tr := range ts[1:] {
		amount := tr.Total
		if i == 0 {
			amount += 100
		}
		fmt.Fprintf(&csv, "%s;VIR %s;%s;%s\n", tr.Date, strings.ToUpper(tr.Insurer), strings.TrimSuffix(client.Euros(amount), " EUR"), tr.Reference)
	}
	fmt.Fprintf(&csv, "%s;VIR MUTUELLE X;12,34;\n", ts[0].Date)
	rep, err := ws.Reconcile(ctx, "", []byte(csv.String()), -1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"matched": len(ts) - 2, "amount differs": 1, "missing": 1, "unexpected": 1}
	for s, n := range want {
		if rep.Counts[s] != n {
			t.Errorf("%s: %d, want %d (%+v)", s, rep.Counts[s], n, rep.Results)
		}
	}
	for _, r := range rep.Results {
		if r.Status == "missing" && r.Reference != ts[0].Reference {
			t.Errorf("missing: %+v, want %s", r, ts[0].Reference)
		}
	}
	if rep.Differences != 3 {
		t.Errorf("differences %d, want 3", rep.Differences)
	}
	_, err = ws.Reconcile(ctx, "", []byte("date;montant\n"), -1)
	var p *client.Problem
	if !errors.As(err, &p) || !p.Has("BANK_CSV_INVALID") || p.Status != 400 {
		t.Fatalf("statement without an amount column: %v, want 400 BANK_CSV_INVALID", err)
	}
}
