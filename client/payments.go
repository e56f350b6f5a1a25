package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Transfer is a bank transfer from an insurer to the practice, as the
// gateway keeps it (GET /v1/payments): its reference, value date and total,
// and per sheet what it pays, withholds and reverses.
type Transfer struct {
	Seq       uint64         `json:"seq"`
	ID        string         `json:"id"`
	Insurer   string         `json:"insurer"`
	Billing   string         `json:"billing"`
	Reference string         `json:"reference"`
	Date      string         `json:"date"`  // value date, YYYY-MM-DD
	Total     int64          `json:"total"` // cents: paid + reversed
	Created   time.Time      `json:"created"`
	Received  time.Time      `json:"received"`
	Lines     []TransferLine `json:"lines"`
}

// TransferLine is one sheet's part in a transfer.
type TransferLine struct {
	Kind   string `json:"kind"` // paid, withheld or reversed
	Number string `json:"number"`
	Lot    string `json:"lot"`
	Amount int64  `json:"amount"` // cents: paid ≥ 0, withheld > 0, reversed < 0
	Code   string `json:"code,omitempty"`
	Label  string `json:"label,omitempty"`
}

// Sum is the total of the transfer's lines of one kind.
func (t *Transfer) Sum(kind string) int64 {
	var s int64
	for _, l := range t.Lines {
		if l.Kind == kind {
			s += l.Amount
		}
	}
	return s
}

// PaymentsQuery narrows GET /v1/payments. The zero value lists from the
// first transfer, 100 at a time.
type PaymentsQuery struct {
	After   uint64 // the Next of the page before
	Limit   int    // 1 to 500; 0: the gateway's default (100)
	From    string // value date on or after, YYYY-MM-DD
	To      string // value date on or before, YYYY-MM-DD
	Insurer string
}

// Payments returns one page of billing's transfers and the cursor of the
// next page (the value to pass as After; the same as After when nothing
// more was read).
func (c *Client) Payments(ctx context.Context, billing string, pq PaymentsQuery) ([]Transfer, uint64, error) {
	q := url.Values{}
	if billing != "" {
		q.Set("billing", billing)
	}
	if pq.After > 0 {
		q.Set("after", strconv.FormatUint(pq.After, 10))
	}
	if pq.Limit > 0 {
		q.Set("limit", strconv.Itoa(pq.Limit))
	}
	for k, v := range map[string]string{"from": pq.From, "to": pq.To, "insurer": pq.Insurer} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out struct {
		Transfers []Transfer `json:"transfers"`
		Next      uint64     `json:"next"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/payments?"+q.Encode(), "", nil, &out); err != nil {
		return nil, 0, err
	}
	return out.Transfers, out.Next, nil
}

// AllPayments reads every page of billing's transfers matching pq.
func (c *Client) AllPayments(ctx context.Context, billing string, pq PaymentsQuery) ([]Transfer, error) {
	var all []Transfer
	for {
		ts, next, err := c.Payments(ctx, billing, pq)
		if err != nil {
			return nil, err
		}
		all = append(all, ts...)
		if next == pq.After {
			return all, nil
		}
		pq.After = next
	}
}
