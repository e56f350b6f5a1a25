package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/mock"
	"github.com/fsegate/fsegate/workstation/reconcile"
)

// TestPaymentsEndToEnd: through the real pipeline (intake, batcher, lots,
// mock insurers as NATS users, ack router), the mock insurers pay in
// transfers — grouped across lots, some late, some partial — exactly what
// the rules compute for each sheet (fse.Compute: the AMO share, nothing
// deducted; paid + withheld = due), the participation recorded on the
// sheet, never deducted; GET /v1/payments returns the transfers; a bank
// statement made from them reconciles, and one with a transfer left out
// shows it missing.
func TestPaymentsEndToEnd(t *testing.T) {
	sc := &mock.Scenario{Name: "e2e-payments", Seed: 3}
	sc.Payments.Group = 300 * time.Millisecond
	sc.Payments.Late.Rate, sc.Payments.Late.Delay = 0.3, time.Second
	sc.Payments.Partial.Rate, sc.Payments.Partial.Withhold = 0.3, 0.2
	m := startGatewayWith(t, func(m *Main) {
		m.Tick = 50 * time.Millisecond
		m.Scenario = sc
	}, "--mock-insurers", "--lot-max-age", "200ms", "--lot-max-sheets", "3")
	doctor := newClient(t, m, "doctor")
	sm := newSheetMaker(t)
	ctx := context.Background()
	const billing = "751000019"

	// What the rules compute for each sheet, per insurer paid.
	due := map[string]map[string]int64{} // insurer → number → cents
	participation := map[string]int64{}
	var numbers []string
	for i := 1; i <= 12; i++ {
		made := sm.make("cpam751", 5000+i, "", uint64(40+i))
		r, err := doctor.SendSheet(ctx, made.Signed)
		if err != nil {
			t.Fatalf("sheet %d: %v", i, err)
		}
		numbers = append(numbers, r.Number)
		b := fse.Compute(made.Sheet, sm.sheets.Options.Tables())
		participation[r.Number] = int64(b.Participation)
		for _, d := range r.Destinations {
			in, _ := sm.dir.Insurer(d.Insurer)
			var c fse.Amount
			if in.Kind == insurers.AMC {
				c = b.PaidByAMC(made.Sheet)
			} else {
				c = b.PaidByAMO(made.Sheet)
			}
			if c > 0 {
				if due[d.Insurer] == nil {
					due[d.Insurer] = map[string]int64{}
				}
				due[d.Insurer][r.Number] = int64(c)
			}
		}
	}
	if len(due["cpam751"]) < 3 {
		t.Fatalf("%d sheets under tiers payant AMO, want several", len(due["cpam751"]))
	}
	// Final, each destination (accepted is final only without a payment
	// to wait for).
	sts := map[string]*client.Status{}
	deadline := time.Now().Add(time.Minute)
	for _, n := range numbers {
		for {
			st, err := doctor.Sheet(ctx, billing, n)
			if err == nil && st.Final() {
				sts[n] = st
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sheet %s not final: %v %+v", n, err, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	ts, err := doctor.AllPayments(ctx, billing, client.PaymentsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int64{}
	paidIn := map[string]string{}
	lots := 0
	for _, tr := range ts {
		if tr.Billing != billing || tr.Total != tr.Sum("paid")+tr.Sum("reversed") || tr.Reference == "" {
			t.Errorf("transfer %+v", tr)
		}
		seen := map[string]bool{}
		for _, l := range tr.Lines {
			if got[tr.Insurer] == nil {
				got[tr.Insurer] = map[string]int64{}
			}
			switch l.Kind {
			case "paid":
				if paidIn[tr.Insurer+l.Number] != "" {
					t.Errorf("sheet %s paid twice by %s", l.Number, tr.Insurer)
				}
				paidIn[tr.Insurer+l.Number] = tr.Reference
				got[tr.Insurer][l.Number] += l.Amount
			case "withheld":
				got[tr.Insurer][l.Number] += l.Amount
			}
			seen[l.Lot] = true
		}
		lots = max(lots, len(seen))
	}
	for ins, want := range due {
		for n, c := range want {
			if got[ins][n] != c {
				t.Errorf("%s, sheet %s: paid + withheld %d cents, the rules compute %d", ins, n, got[ins][n], c)
			}
		}
		if len(got[ins]) != len(want) {
			t.Errorf("%s paid %d sheets, want %d", ins, len(got[ins]), len(want))
		}
	}
	if lots < 2 {
		t.Errorf("no transfer pays sheets of several lots (grouped)")
	}
	// The sheet's state: paid, by its transfer, the participation recorded
	// and not deducted.
	for _, n := range numbers {
		for _, d := range sts[n].Destinations {
			c, ok := due[d.Insurer][n]
			switch {
			case !ok:
			case d.State != "paid" || d.Transfer != paidIn[d.Insurer+n] || d.Amount > c:
				t.Errorf("sheet %s at %s: %s %d by %q, want paid ≤ %d by %q", n, d.Insurer, d.State, d.Amount, d.Transfer, c, paidIn[d.Insurer+n])
			}
			in, _ := sm.dir.Insurer(d.Insurer)
			if in.Kind == insurers.AMO && d.Participation != participation[n] {
				t.Errorf("sheet %s: participation recorded %d, the rules compute %d", n, d.Participation, participation[n])
			}
		}
	}

	// GET /v1/payments: pages, dates, another practice's refused.
	first, next, err := doctor.Payments(ctx, billing, client.PaymentsQuery{Limit: 1})
	if err != nil || len(first) != 1 || next != first[0].Seq {
		t.Fatalf("first page: %v %+v next %d", err, first, next)
	}
	if rest, _ := doctor.AllPayments(ctx, billing, client.PaymentsQuery{After: next}); len(rest) != len(ts)-1 {
		t.Fatalf("after the first: %d, want %d", len(rest), len(ts)-1)
	}
	if none, _, _ := doctor.Payments(ctx, billing, client.PaymentsQuery{To: "2000-01-01"}); len(none) != 0 {
		t.Fatalf("before 2000: %+v", none)
	}
	_, _, err = doctor.Payments(ctx, "751000027", client.PaymentsQuery{})
	if p := problemOf(t, err); !p.Has("SENDER_MISMATCH") {
		t.Fatalf("another practice's payments: %v", p)
	}
	_, _, err = doctor.Payments(ctx, billing, client.PaymentsQuery{From: "23/11/2026"})
	if p := problemOf(t, err); !p.Has("REQUEST_INVALID") || p.Status != http.StatusBadRequest {
		t.Fatalf("bad date: %v", p)
	}

	// The dashboard's payments page of the practice lists every transfer.
	req, _ := http.NewRequest("GET", "http://"+m.AdminAddr()+"/dashboard/practices/"+billing+"/payments", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken(t, m))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), fmt.Sprintf(`id="payments-total">%d transfers`, len(ts))) {
		t.Fatalf("dashboard payments page: %d\n%s", resp.StatusCode, page)
	}
	for _, tr := range ts {
		if !strings.Contains(string(page), `data-transfer="`+tr.Reference+`"`) {
			t.Errorf("dashboard: transfer %s not listed", tr.Reference)
		}
	}

	// A bank statement of these transfers reconciles; without the first,
	// the first is missing.
	var csv strings.Builder
	csv.WriteString("date;amount;label\n")
	for _, tr := range ts {
		fmt.Fprintf(&csv, "%s;%s;VIR %s %s\n", tr.Date, strings.ReplaceAll(strings.TrimSuffix(client.Euros(tr.Total), " EUR"), ".", ","), strings.ToUpper(tr.Insurer), tr.Reference)
	}
	lines, err := reconcile.ReadCSV(strings.NewReader(csv.String()))
	if err != nil {
		t.Fatal(err)
	}
	rep := reconcile.Match(lines, ts, reconcile.Options{})
	if rep.Counts[reconcile.Matched] != len(ts) || rep.Differences() != 0 {
		t.Fatalf("statement of the transfers: %v, want %d matched", rep.Counts, len(ts))
	}
	rep = reconcile.Match(lines[1:], ts, reconcile.Options{})
	if rep.Counts[reconcile.Missing] != 1 || rep.Counts[reconcile.Matched] != len(ts)-1 {
		t.Fatalf("statement without the first transfer: %v", rep.Counts)
	}
}
