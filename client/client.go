package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fsegate/fsegate/api"
)

// Client talks to one gateway.
type Client struct {
	base *url.URL
	http *http.Client
}

// Config configures New.
type Config struct {
	// URL of the gateway, e.g. https://127.0.0.1:8443.
	URL string
	// Certificate is the client certificate (the card's authentication key).
	Certificate *tls.Certificate
	// Roots verify the gateway's certificate; nil means the system roots.
	Roots *x509.CertPool
	// Timeout of one request without a deadline of its own (30 s by default;
	// long polls add their wait).
	Timeout time.Duration
	// Connections is the most keep-alive connections to the gateway (8 by
	// default). More requests at once wait for one: a new connection is a
	// TLS handshake signed by the card, which costs both sides far more
	// than the request.
	Connections int
}

// New returns a client with keep-alive connections to the gateway.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("gateway URL %q: want https://host:port", cfg.URL)
	}
	tc := &tls.Config{RootCAs: cfg.Roots, MinVersion: tls.VersionTLS12}
	if cfg.Certificate != nil {
		tc.Certificates = []tls.Certificate{*cfg.Certificate}
		tc.MaxVersion = tls.VersionTLS12
	}
	conns := cfg.Connections
	if conns <= 0 {
		conns = 8
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 30 * time.Second, // a card signs in 100-400 ms
		ForceAttemptHTTP2:   false,
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	return &Client{base: u, http: &http.Client{Transport: tr, Timeout: timeout + 60*time.Second}}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Receipt is the gateway's answer once a sheet is durably queued.
type Receipt struct {
	Billing      string        `json:"billing"`
	Number       string        `json:"number"`
	Digest       string        `json:"digest"`
	State        string        `json:"state"`
	ReceivedAt   time.Time     `json:"received_at"`
	RulesVersion string        `json:"rules_version,omitempty"`
	Destinations []Destination `json:"destinations"`
	Again        bool          `json:"again,omitempty"`
	Corrects     string        `json:"corrects,omitempty"`
	DryRun       bool          `json:"dry_run,omitempty"`
	Warnings     []api.Error   `json:"warnings,omitempty"`
	// SCOR is "awaiting" when the sheet waits for its SCOR piece.
	SCOR string `json:"scor,omitempty"`
	// Raw is the receipt as received.
	Raw json.RawMessage `json:"-"`
}

// Destination is where the sheet goes and when its lot closes at the latest.
type Destination struct {
	Insurer string    `json:"insurer"`
	Kind    string    `json:"kind,omitempty"`
	LotKey  string    `json:"lot_key"`
	CloseBy time.Time `json:"close_by"`
}

// Problem is a refusal: an application/problem+json body, decoded. It is
// kept apart from api.Problem, the body a server writes, because it is an
// error (the client returns it) that answers questions about its codes
// (Codes, Has, Retryable); its items are the wire's api.Error.
type Problem struct {
	Status int         `json:"status"`
	Title  string      `json:"title"`
	Detail string      `json:"detail,omitempty"`
	Errors []api.Error `json:"errors"`
}

// ProblemItem is api.Error, one item of a refusal (the name is kept for
// the callers that use it).
type ProblemItem = api.Error

func (p *Problem) Error() string {
	codes := p.Codes()
	if len(codes) == 0 {
		return fmt.Sprintf("gateway refused (%d): %s", p.Status, p.Title)
	}
	return fmt.Sprintf("gateway refused (%d): %s", p.Status, strings.Join(codes, ", "))
}

// Codes lists the error codes of the refusal.
func (p *Problem) Codes() []string {
	out := make([]string, 0, len(p.Errors))
	for _, e := range p.Errors {
		out = append(out, string(e.Code))
	}
	return out
}

// Has reports whether the refusal carries code.
func (p *Problem) Has(code string) bool {
	for _, e := range p.Errors {
		if string(e.Code) == code {
			return true
		}
	}
	return false
}

// Retryable reports whether sending the same bytes again may succeed
// (the queue was unavailable or full).
func (p *Problem) Retryable() bool { return p.Status >= 500 }

// ErrNotFound is returned for a sheet the gateway does not know.
var ErrNotFound = errors.New("not found")

// SendSheet posts one signed care sheet and returns its receipt.
func (c *Client) SendSheet(ctx context.Context, signed []byte) (*Receipt, error) {
	return c.sendSheet(ctx, signed, false)
}

// DryRun runs every check and the routing without queuing anything.
func (c *Client) DryRun(ctx context.Context, signed []byte) (*Receipt, error) {
	return c.sendSheet(ctx, signed, true)
}

func (c *Client) sendSheet(ctx context.Context, signed []byte, dry bool) (*Receipt, error) {
	path := "/v1/sheets"
	if dry {
		path += "?dry_run=true"
	}
	var r Receipt
	raw, err := c.do(ctx, http.MethodPost, path, "application/xml", bytes.NewReader(signed), &r)
	if err != nil {
		return nil, err
	}
	r.Raw = raw
	return &r, nil
}

// SendPrescription posts a signed PDF prescription.
func (c *Client) SendPrescription(ctx context.Context, pdf []byte) (json.RawMessage, error) {
	return c.do(ctx, http.MethodPost, "/v1/prescriptions", "application/pdf", bytes.NewReader(pdf), nil)
}

// Status is a sheet's state and history, as the gateway keeps it.
type Status struct {
	Billing      string          `json:"billing"`
	Number       string          `json:"number"`
	State        string          `json:"state"`
	Destinations []DestStatus    `json:"destinations"`
	History      []Event         `json:"history,omitempty"`
	SCOR         *SCOR           `json:"scor,omitempty"` // the SCOR piece, for a sheet that needs one
	Raw          json.RawMessage `json:"-"`
}

// DestStatus is the state of a sheet at one destination (AMO, AMC).
type DestStatus struct {
	Insurer       string `json:"insurer"`
	Kind          string `json:"kind,omitempty"`
	ExpectPayment bool   `json:"expect_payment,omitempty"`
	State         string `json:"state"`
	Lot           string `json:"lot,omitempty"`
	Code          string `json:"code,omitempty"`
	Amount        int64  `json:"amount,omitempty"` // cents paid, net of reversals
	// Transfer is the bank reference of the transfer that paid it.
	Transfer string `json:"transfer,omitempty"`
	// Participation and Franchises: what the insurer recorded as owed by
	// the patient (cents), never deducted from the payment.
	Participation int64 `json:"participation,omitempty"`
	Franchises    int64 `json:"franchises,omitempty"`
}

// Final reports whether the destination reached its final state: paid,
// rejected, delivery_failed, returns_overdue, or accepted when nothing is
// to be paid through the gateway.
func (d DestStatus) Final() bool {
	switch d.State {
	case "paid", "rejected", "delivery_failed", "returns_overdue":
		return true
	case "accepted":
		return !d.ExpectPayment
	}
	return false
}

// Final reports whether every destination reached its final state.
func (s *Status) Final() bool {
	for _, d := range s.Destinations {
		if !d.Final() {
			return false
		}
	}
	return len(s.Destinations) > 0
}

// Event is one entry of a sheet's history.
type Event struct {
	Time    time.Time `json:"time"`
	State   string    `json:"state"`
	Insurer string    `json:"insurer,omitempty"`
	Lot     string    `json:"lot,omitempty"`
	Code    string    `json:"code,omitempty"`
	Amount  int64     `json:"amount,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// Transfer is the bank reference of a payment or a reversal.
	Transfer string `json:"transfer,omitempty"`
}

// Sheet returns the state and history of one of the caller's sheets.
func (c *Client) Sheet(ctx context.Context, billing, number string) (*Status, error) {
	q := url.Values{"billing": {billing}}
	var s Status
	raw, err := c.do(ctx, http.MethodGet, "/v1/sheets/"+url.PathEscape(number)+"?"+q.Encode(), "", nil, &s)
	if err != nil {
		return nil, err
	}
	s.Raw = raw
	return &s, nil
}

// Notice is one acknowledgement or event to read and confirm.
type Notice struct {
	Seq     uint64    `json:"seq"`
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Billing string    `json:"billing"`
	Number  string    `json:"number,omitempty"`
	Insurer string    `json:"insurer"`
	Lot     string    `json:"lot,omitempty"`
	Event   string    `json:"event"`
	Code    string    `json:"code,omitempty"`
	Amount  int64     `json:"amount,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	// Transfer is the bank reference of a payment, a reversal or a
	// transfer (then Amount is the transfer's total).
	Transfer string `json:"transfer,omitempty"`
	// Accepted: participation and franchises recorded (cents).
	Participation int64 `json:"participation,omitempty"`
	Franchises    int64 `json:"franchises,omitempty"`
}

// Describe says in words what the notice tells: "sheet 751000019-000000001
// paid 19.00 EUR from cpam751", "lot … ARL positive from cpam751".
func (n Notice) Describe() string {
	what := n.Event
	switch n.Event {
	case "arl_positive":
		what = "ARL positive"
	case "arl_negative":
		what = "ARL negative (" + n.Code + "): the lot is sent again"
	case "rejected":
		what = "rejected " + n.Code
		if n.Detail != "" {
			what += ": " + n.Detail
		}
	case "paid":
		what = "paid " + Euros(n.Amount)
		if n.Transfer != "" {
			what += " in transfer " + n.Transfer
		}
		if n.Detail != "" {
			what += " (" + n.Detail + ")"
		}
	case "reversed":
		what = "payment reversed " + Euros(n.Amount) + " in transfer " + n.Transfer
		if n.Detail != "" {
			what += ": " + n.Detail
		}
	case "transfer":
		return fmt.Sprintf("transfer %s of %s (%s) from %s", n.Transfer, Euros(n.Amount), n.Detail, n.Insurer)
	case "scor_acknowledged":
		what = "SCOR piece acknowledged (SCOR lot " + n.Lot + ")"
	case "scor_refused":
		what = "SCOR piece refused (" + n.Detail + "): send it again"
	}
	subject := "lot " + n.Lot
	if n.Number != "" {
		subject = "sheet " + n.Billing + "-" + n.Number
	}
	return fmt.Sprintf("%s %s from %s", subject, what, n.Insurer)
}

// Euros formats cents as "12.34 EUR".
func Euros(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d EUR", sign, cents/100, cents%100)
}

// Notices returns the pending notices of a billing number after the
// confirmed cursor, waiting up to wait for new ones (long poll).
func (c *Client) Notices(ctx context.Context, billing string, wait time.Duration) ([]Notice, error) {
	q := url.Values{"billing": {billing}}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out struct {
		Notices []Notice `json:"notices"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/v1/notices?"+q.Encode(), "", nil, &out); err != nil {
		return nil, err
	}
	return out.Notices, nil
}

// Confirm confirms every notice of billing up to and including seq: they
// are not delivered again.
func (c *Client) Confirm(ctx context.Context, billing string, seq uint64) error {
	body, _ := json.Marshal(map[string]any{"billing": billing, "seq": seq})
	_, err := c.do(ctx, http.MethodPost, "/v1/notices/ack", "application/json", bytes.NewReader(body), nil)
	return err
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) (json.RawMessage, error) {
	u := c.base.JoinPath()
	ref, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	u = u.ResolveReference(ref)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusNotFound && !strings.Contains(resp.Header.Get("Content-Type"), "problem") {
		return nil, fmt.Errorf("%s %s: %w", method, path, ErrNotFound)
	}
	if resp.StatusCode >= 400 {
		p := &Problem{Status: resp.StatusCode}
		if err := json.Unmarshal(b, p); err != nil || (p.Title == "" && len(p.Errors) == 0) {
			p.Title = strings.TrimSpace(string(b))
			if p.Title == "" {
				p.Title = http.StatusText(resp.StatusCode)
			}
		}
		p.Status = resp.StatusCode
		if resp.StatusCode == http.StatusNotFound && len(p.Errors) == 0 {
			return nil, fmt.Errorf("%s %s: %w", method, path, ErrNotFound)
		}
		return nil, p
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%s %s: answer is not the documented JSON: %w", method, path, err)
		}
	}
	return b, nil
}
