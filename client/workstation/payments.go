package workstation

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fsegate/fsegate/client"
)

// Payments lists the transfers the insurers paid the practice (every page
// of the gateway's GET /v1/payments), filtered by value dates from and to
// (YYYY-MM-DD, "" for no bound).
func (c *Client) Payments(ctx context.Context, billing, from, to string) ([]client.Transfer, error) {
	q := url.Values{}
	for k, v := range map[string]string{"billing": billing, "from": from, "to": to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out struct {
		Transfers []client.Transfer `json:"transfers"`
	}
	return out.Transfers, c.do(ctx, http.MethodGet, "/v1/payments?"+q.Encode(), "", nil, &out)
}

// Reconciliation is the answer of POST /v1/payments/reconcile.
type Reconciliation struct {
	From        string         `json:"from"`
	To          string         `json:"to"`
	BankLines   int            `json:"bank_lines"`
	Transfers   int            `json:"transfers"`
	Differences int            `json:"differences"`
	Counts      map[string]int `json:"counts"`
	Results     []struct {
		Status         string `json:"status"` // matched, amount differs, date differs, unexpected, missing
		Date           string `json:"date"`
		BankRow        int    `json:"bank_row,omitempty"`
		BankAmount     *int64 `json:"bank_amount,omitempty"`
		Reference      string `json:"reference,omitempty"`
		TransferAmount *int64 `json:"transfer_amount,omitempty"`
		ValueDate      string `json:"value_date,omitempty"`
		Detail         string `json:"detail"`
	} `json:"results"`
}

// Reconcile matches a bank statement (CSV bytes,
// docs/workstation.md#reconciling-payments) with the transfers of its
// period; tolerance is in days (-1: the default of 2).
func (c *Client) Reconcile(ctx context.Context, billing string, statement []byte, tolerance int) (*Reconciliation, error) {
	q := url.Values{}
	if billing != "" {
		q.Set("billing", billing)
	}
	if tolerance >= 0 {
		q.Set("tolerance", strconv.Itoa(tolerance))
	}
	var out Reconciliation
	if err := c.do(ctx, http.MethodPost, "/v1/payments/reconcile?"+q.Encode(), "text/csv", bytes.NewReader(statement), &out); err != nil {
		return nil, err
	}
	return &out, nil
}
