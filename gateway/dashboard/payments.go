package dashboard

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fsegate/fsegate/queue"
)

// PaymentStore is the optional extra of a Store that reads the transfers
// kept for a practice (FSE_PAYMENTS); QueueStore has it. Without it the
// payments page answers 503.
type PaymentStore interface {
	Payments(ctx context.Context, billing string, f queue.PaymentFilter) ([]queue.Transfer, uint64, error)
}

func (s queueStore) Payments(ctx context.Context, billing string, f queue.PaymentFilter) ([]queue.Transfer, uint64, error) {
	return s.q.Payments(ctx, billing, f)
}

// ErrNoPayments: the dashboard's store cannot read transfers.
var ErrNoPayments = errors.New("this dashboard cannot read payments")

// maxPaymentsShown bounds the transfers one page reads (the newest are
// shown first).
const maxPaymentsShown = 2000

type paymentsData struct {
	Billing   string
	From, To  string
	Transfers []queue.Transfer // newest first
	Total     int64
	Withheld  int64
	Reversed  int64
	Others    []string
}

// payments is a practice's transfers: one row each, its lines below.
func (d *Dashboard) payments(w http.ResponseWriter, r *http.Request) {
	billing := r.PathValue("billing")
	v := viewerOf(r)
	if !v.MaySee(billing) {
		d.fail(w, r, http.StatusForbidden, ErrNotYourSheets)
		return
	}
	if !d.store(w, r) {
		return
	}
	ps, ok := d.cfg.Store.(PaymentStore)
	if !ok {
		d.fail(w, r, http.StatusServiceUnavailable, ErrNoPayments)
		return
	}
	data := paymentsData{Billing: billing, From: r.FormValue("from"), To: r.FormValue("to")}
	for _, p := range []string{data.From, data.To} {
		if _, err := time.Parse(time.DateOnly, p); p != "" && err != nil {
			d.fail(w, r, http.StatusBadRequest, fmt.Errorf("from and to are dates YYYY-MM-DD, not %q", p))
			return
		}
	}
	f := queue.PaymentFilter{From: data.From, To: data.To, Max: 500}
	for len(data.Transfers) < maxPaymentsShown {
		ts, next, err := ps.Payments(r.Context(), billing, f)
		if err != nil {
			d.fail(w, r, http.StatusServiceUnavailable, err)
			return
		}
		data.Transfers = append(data.Transfers, ts...)
		if next == f.After {
			break
		}
		f.After = next
	}
	for i, j := 0, len(data.Transfers)-1; i < j; i, j = i+1, j-1 {
		data.Transfers[i], data.Transfers[j] = data.Transfers[j], data.Transfers[i]
	}
	for i := range data.Transfers {
		t := &data.Transfers[i]
		data.Total += t.Total
		data.Withheld += t.Withheld()
		data.Reversed += t.Reversed()
	}
	if r.FormValue("format") == "csv" {
		writePaymentsCSV(w, billing, data.Transfers)
		return
	}
	for _, b := range v.Billings {
		if b != billing {
			data.Others = append(data.Others, b)
		}
	}
	d.render(w, r, "payments", http.StatusOK, page{Title: "Payments of " + billing, Data: data})
}

func (d *Dashboard) paymentsLookup(w http.ResponseWriter, r *http.Request) {
	b := strings.TrimSpace(r.FormValue("billing"))
	if b == "" {
		d.fail(w, r, http.StatusBadRequest, errors.New("want a billing number"))
		return
	}
	http.Redirect(w, r, "/dashboard/practices/"+url.PathEscape(b)+"/payments", http.StatusSeeOther)
}

// writePaymentsCSV writes one row per transfer line, the transfer's
// reference, date and total on each.
func writePaymentsCSV(w http.ResponseWriter, billing string, ts []queue.Transfer) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="payments-`+safeName(billing)+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"date", "reference", "insurer", "total", "kind", "number", "lot", "amount", "code", "label"})
	for _, t := range ts {
		for _, l := range t.Lines {
			_ = cw.Write([]string{t.Date, cell(t.Reference), cell(t.Insurer), decimal(t.Total), l.Kind, l.Number, cell(l.Lot), decimal(l.Amount), cell(l.Code), cell(l.Label)})
		}
	}
	cw.Flush()
}

// decimal writes cents as euros, "-19.00".
func decimal(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

func init() {
	// Signed amounts (reversals are negative; "euros" shows none for 0).
	funcs["money"] = func(c int64) string { return decimal(c) + " €" }
	funcs["amount"] = func(c int64) string {
		if c == 0 {
			return ""
		}
		return decimal(c) + " €"
	}
}
