package dashboard

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/queue"
)

// paymentStore is a fakeStore with transfers.
type paymentStore struct {
	*fakeStore
	ts []queue.Transfer
}

func (p *paymentStore) Payments(_ context.Context, billing string, f queue.PaymentFilter) ([]queue.Transfer, uint64, error) {
	var out []queue.Transfer
	next := f.After
	for _, t := range p.ts {
		if t.Billing != billing || t.Seq <= f.After {
			continue
		}
		next = t.Seq
		if (f.From == "" || t.Date >= f.From) && (f.To == "" || t.Date <= f.To) {
			out = append(out, t)
		}
	}
	return out, next, nil
}

func TestPaymentsPage(t *testing.T) {
	st := &paymentStore{fakeStore: newFakeStore(), ts: []queue.Transfer{
		{Seq: 1, Billing: "751000019", Insurer: "cpam751", Reference: "CPAM751-20261123-AAAA", Date: "2026-11-23", Total: 3700, Lines: []queue.TransferLine{
			{Kind: "paid", Number: "000000001", Lot: "l1", Amount: 2100}, {Kind: "paid", Number: "000000002", Lot: "l1", Amount: 1600},
			{Kind: "withheld", Number: "000000002", Lot: "l1", Amount: 500, Code: "W_PARTIAL", Label: "=dépassement"}}},
		{Seq: 2, Billing: "751000019", Insurer: "cpam751", Reference: "CPAM751-20261130-BBBB", Date: "2026-11-30", Total: -2100, Lines: []queue.TransferLine{
			{Kind: "reversed", Number: "000000001", Lot: "l1", Amount: -2100, Code: "X_REVERSAL", Label: "paiement annulé"}}},
		{Seq: 3, Billing: "751000027", Insurer: "cpam751", Reference: "CPAM751-20261130-CCCC", Date: "2026-11-30", Total: 900, Lines: []queue.TransferLine{
			{Kind: "paid", Number: "000000009", Lot: "l2", Amount: 900}}},
	}}
	d := newTestDashboard(t, Config{Store: st, Access: operatorAccess()})
	w := serve(t, d, "/dashboard/practices/751000019/payments")
	if w.Code != http.StatusOK {
		t.Fatalf("got %d\n%s", w.Code, w.Body)
	}
	body := w.Body.String()
	for _, want := range []string{`data-transfer="CPAM751-20261130-BBBB"`, `data-transfer="CPAM751-20261123-AAAA"`, "-21.00 €", `data-line="withheld 000000002"`,
		"W_PARTIAL", `href="/dashboard/sheets/751000019/000000001"`, `id="payments-total">2 transfers, 16.00 €`, "withheld 5.00 €", "reversed -21.00 €"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Index(body, "BBBB") > strings.Index(body, "AAAA") {
		t.Error("not newest first")
	}
	if strings.Contains(body, "CCCC") {
		t.Error("another practice's transfer shown")
	}
	if w := serve(t, d, "/dashboard/practices/751000019/payments?from=2026-11-24"); strings.Contains(w.Body.String(), "AAAA") || !strings.Contains(w.Body.String(), "BBBB") {
		t.Errorf("from 2026-11-24: %s", w.Body)
	}
	if w := serve(t, d, "/dashboard/practices/751000019/payments?from=24/11/2026"); w.Code != http.StatusBadRequest {
		t.Errorf("bad date: got %d, want 400", w.Code)
	}
	w = serve(t, d, "/dashboard/practices/751000019/payments?format=csv")
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || rows[0][1] != "reference" || rows[1][4] != "reversed" || rows[1][7] != "-21.00" || rows[4][9] != "'=dépassement" {
		t.Errorf("CSV: %q", rows)
	}
	if w := serve(t, d, "/dashboard/payments?billing=751000019"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/dashboard/practices/751000019/payments" {
		t.Errorf("lookup: %d %s", w.Code, w.Header().Get("Location"))
	}
	// A store without payments: said so.
	d = newTestDashboard(t, Config{Store: newFakeStore(), Access: operatorAccess()})
	if w := serve(t, d, "/dashboard/practices/751000019/payments"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), ErrNoPayments.Error()) {
		t.Errorf("without payments: %d", w.Code)
	}
}

// TestPaymentsPageAccess: a practitioner sees their practice's payments,
// not another's.
func TestPaymentsPageAccess(t *testing.T) {
	st := &paymentStore{fakeStore: newFakeStore()}
	d := newTestDashboard(t, Config{Store: st, Access: fixtureAccess(t)})
	for _, tc := range []struct {
		card, path string
		want       int
	}{
		{"doctor", "/dashboard/practices/751000019/payments", http.StatusOK},
		{"doctor", "/dashboard/practices/751000027/payments", http.StatusForbidden},
		{"pharmacist", "/dashboard/practices/751000027/payments?format=csv", http.StatusOK},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.RemoteAddr = "127.0.0.1:4000"
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cardCert(t, tc.card)}}
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s as %s: got %d, want %d\n%s", tc.path, tc.card, w.Code, tc.want, w.Body)
		}
	}
}

// TestSheetPageNamesItsTransfer: a paid sheet's page names the transfer
// that paid it (linked to the practice's payments), the participation
// recorded, and a reversal as a negative amount.
func TestSheetPageNamesItsTransfer(t *testing.T) {
	st := newFakeStore()
	st.add("751000019", "000000001", "cpam751", "")
	s := st.st["751000019.000000001"]
	s.Destinations[0].State, s.Destinations[0].Amount, s.Destinations[0].Transfer, s.Destinations[0].Participation = queue.Paid, 0, "CPAM751-20261123-AAAA", 200
	s.History = append(s.History, queue.Event{Insurer: "cpam751", State: queue.Paid, Amount: 2100, Transfer: "CPAM751-20261123-AAAA"},
		queue.Event{Insurer: "cpam751", Amount: -2100, Code: "X_REVERSAL", Detail: "paiement annulé", Transfer: "CPAM751-20261130-BBBB"})
	d := newTestDashboard(t, Config{Store: st, Access: operatorAccess()})
	w := serve(t, d, "/dashboard/sheets/751000019/000000001")
	for _, want := range []string{`data-transfer="CPAM751-20261123-AAAA"`, `href="/dashboard/practices/751000019/payments"`, "2.00 € · 0.00 €", "-21.00 €", "<code>CPAM751-20261130-BBBB</code>"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("sheet page lacks %q", want)
		}
	}
}
