package workstation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsegate/fsegate/client"
)

// Content types of a posted sheet.
const (
	XML  = "application/xml"
	JSON = "application/json"
)

// Client calls one workstation.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client of the workstation at baseURL (http://127.0.0.1:7600)
// with its bearer token.
func New(baseURL, token string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("workstation URL %q: want http://127.0.0.1:PORT", baseURL)
	}
	if token == "" {
		return nil, errors.New("workstation: empty token")
	}
	return &Client{base: u, token: token, http: &http.Client{Timeout: 2 * time.Minute}}, nil
}

// DefaultTokenFile is where 'workstation serve' keeps its token by default.
func DefaultTokenFile() string {
	d, err := os.UserConfigDir()
	if err != nil {
		return "fsegate-serve.token"
	}
	return filepath.Join(d, "fsegate", "serve.token")
}

// FromTokenFile is New with the token read from file ("" for the default).
func FromTokenFile(baseURL, file string) (*Client, error) {
	if file == "" {
		file = DefaultTokenFile()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("workstation token: %w", err)
	}
	return New(baseURL, strings.TrimSpace(string(b)))
}

// Sheet is what the workstation knows of a sheet.
type Sheet struct {
	Key      string          `json:"key"`
	Billing  string          `json:"billing"`
	Number   string          `json:"number"`
	State    string          `json:"state"` // pending, receipted, refused, final
	Final    string          `json:"final_state,omitempty"`
	Receipt  json.RawMessage `json:"receipt,omitempty"`
	Gateway  json.RawMessage `json:"gateway,omitempty"`
	Codes    []string        `json:"codes,omitempty"`
	Waiting  string          `json:"waiting,omitempty"`
	Attempts int             `json:"attempts"`
}

// GatewayStatus decodes the gateway's state and history of the sheet.
func (s *Sheet) GatewayStatus() (*client.Status, error) {
	if len(s.Gateway) == 0 {
		return nil, errors.New("no state from the gateway")
	}
	var st client.Status
	if err := json.Unmarshal(s.Gateway, &st); err != nil {
		return nil, err
	}
	st.Raw = s.Gateway
	return &st, nil
}

// PostSheet posts an unsigned care sheet (contentType XML or JSON). A
// sheet that breaks a rule or that the gateway refuses gives a
// *client.Problem; a receipted one has State "receipted"; one that waits
// for the gateway "pending".
func (c *Client) PostSheet(ctx context.Context, sheet []byte, contentType string) (*Sheet, error) {
	var s Sheet
	return &s, c.do(ctx, http.MethodPost, "/v1/sheets", contentType, bytes.NewReader(sheet), &s)
}

// Sheet returns the state of a sheet (billing may be "" when the outbox
// holds one sheet of that number).
func (c *Client) Sheet(ctx context.Context, billing, number string) (*Sheet, error) {
	q := url.Values{}
	if billing != "" {
		q.Set("billing", billing)
	}
	var s Sheet
	return &s, c.do(ctx, http.MethodGet, "/v1/sheets/"+url.PathEscape(number)+"?"+q.Encode(), "", nil, &s)
}

// Outbox lists the sheets of the workstation's outbox.
func (c *Client) Outbox(ctx context.Context) ([]Sheet, error) {
	var out struct {
		Sheets []Sheet `json:"sheets"`
	}
	return out.Sheets, c.do(ctx, http.MethodGet, "/v1/outbox", "", nil, &out)
}

// Notices returns the notices not confirmed yet, waiting up to wait.
func (c *Client) Notices(ctx context.Context, billing string, wait time.Duration) ([]client.Notice, error) {
	q := url.Values{}
	if billing != "" {
		q.Set("billing", billing)
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out struct {
		Notices []client.Notice `json:"notices"`
	}
	return out.Notices, c.do(ctx, http.MethodGet, "/v1/notices?"+q.Encode(), "", nil, &out)
}

// Confirm confirms the notices of billing up to seq.
func (c *Client) Confirm(ctx context.Context, billing string, seq uint64) error {
	b, _ := json.Marshal(map[string]any{"billing": billing, "seq": seq})
	return c.do(ctx, http.MethodPost, "/v1/notices/ack", JSON, bytes.NewReader(b), nil)
}

// Health is the workstation's view of the card, the outbox and the gateway.
type Health struct {
	Card    string         `json:"card"` // "ok" or what is wrong
	Outbox  map[string]int `json:"outbox"`
	Gateway string         `json:"gateway"`
}

// Health reads GET /v1/health.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	return &h, c.do(ctx, http.MethodGet, "/v1/health", "", nil, &h)
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	ref, err := url.Parse(path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.ResolveReference(ref).String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("workstation: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("workstation: %w", err)
	}
	if resp.StatusCode >= 400 {
		p := &client.Problem{}
		if json.Unmarshal(b, p) != nil || (p.Title == "" && len(p.Errors) == 0) {
			p.Title = strings.TrimSpace(string(b))
		}
		p.Status = resp.StatusCode
		return p
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("workstation: answer is not the documented JSON: %w", err)
		}
	}
	return nil
}
