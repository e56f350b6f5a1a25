package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/loadgen"
)

// httpsAs is an HTTP client presenting practitioner p's authentication
// certificate.
func httpsAs(t *testing.T, p *loadgen.Practitioner) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: loadRoots(t), Certificates: []tls.Certificate{p.TLS}, MaxVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func do(t *testing.T, hc *http.Client, method, url, ctype string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSecurityPractitionerIsolation: practitioner A (the nurse) cannot
// read, confirm or resend what practitioner B (the doctor) sent, nor read
// B's notices, through the HTTP API with A's own client certificate.
func TestSecurityPractitionerIsolation(t *testing.T) {
	m := startGateway(t, "--mock-insurers", "--lot-max-age", "300ms")
	ps, corpus := prepareLoad(t, 8)
	doctor, nurse := ps[0], ps[1]
	if doctor.Prac.Billing == nurse.Prac.Billing {
		t.Fatal("fixtures: the doctor and the nurse share a billing number")
	}
	var bSheet loadgen.Sheet
	for _, s := range corpus.Sheets {
		if s.P == 0 {
			bSheet = s
			break
		}
	}
	base := "https://" + m.APIAddr()
	B, A := httpsAs(t, doctor), httpsAs(t, nurse)
	if code, body := do(t, B, "POST", base+"/v1/sheets", "application/xml", bSheet.Signed); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("B sends its sheet: %d %s", code, body)
	}
	waitCorpusFinal(t, m.Queue(), &loadgen.Corpus{Sheets: []loadgen.Sheet{bSheet}}, 30*time.Second)
	ctx := context.Background()
	cursor := func() uint64 {
		c, err := m.Queue().NoticeCursor(ctx, doctor.Prac.Billing)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := cursor()
	cases := []struct {
		name, method, url string
		body              []byte
		wantCode          string // in the problem; "" = any refusal
		wantStatus        int    // 0 = any 4xx
	}{
		{"read B's sheet under B's billing", "GET", "/v1/sheets/" + bSheet.Number + "?billing=" + doctor.Prac.Billing, nil, "SENDER_MISMATCH", 0},
		{"read B's sheet under A's billing", "GET", "/v1/sheets/" + bSheet.Number, nil, "", http.StatusNotFound},
		{"read B's notices", "GET", "/v1/notices?billing=" + doctor.Prac.Billing + "&wait=0s", nil, "SENDER_MISMATCH", 0},
		{"confirm B's notices", "POST", "/v1/notices/ack", []byte(fmt.Sprintf(`{"billing":%q,"seq":1000000}`, doctor.Prac.Billing)), "SENDER_MISMATCH", 0},
		{"resend B's signed sheet", "POST", "/v1/sheets", bSheet.Signed, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctype := ""
			if c.body != nil {
				ctype = "application/xml"
				if strings.HasPrefix(c.url, "/v1/notices") {
					ctype = "application/json"
				}
			}
			status, body := do(t, A, c.method, base+c.url, ctype, c.body)
			if status < 400 || status >= 500 || (c.wantStatus != 0 && status != c.wantStatus) {
				t.Fatalf("A got %d %s; want a refusal", status, body)
			}
			if c.wantCode != "" && !strings.Contains(body, c.wantCode) {
				t.Fatalf("A got %d %s; want %s", status, body, c.wantCode)
			}
			if strings.Contains(body, `"digest"`) {
				t.Fatalf("A read B's status: %s", body)
			}
		})
	}
	if after := cursor(); after != before {
		t.Fatalf("B's notice cursor moved from %d to %d by A", before, after)
	}
	// B still reads its own.
	if status, body := do(t, B, "GET", base+"/v1/sheets/"+bSheet.Number+"?billing="+doctor.Prac.Billing, "", nil); status != http.StatusOK || !strings.Contains(body, bSheet.Number) {
		t.Fatalf("B reads its sheet: %d %s", status, body)
	}
}

// TestSecurityLimits: a body over --max-body is refused 413 BODY_TOO_LARGE
// without being read to the end; a batch over --max-batch stops at the
// first item over it, 413 BATCH_TOO_LARGE.
func TestSecurityLimits(t *testing.T) {
	m := startGateway(t, "--max-body", "65536", "--max-batch", "3")
	ps, err := dev.Practitioners(1)
	if err != nil {
		t.Fatal(err)
	}
	hc := httpsAs(t, ps[0])
	base := "https://" + m.APIAddr()
	huge := bytes.Repeat([]byte("<a>"), 4<<20/3) // 4 MB
	if status, body := do(t, hc, "POST", base+"/v1/sheets", "application/xml", huge); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "BODY_TOO_LARGE") {
		t.Fatalf("4 MB sheet: %d %s; want 413 BODY_TOO_LARGE", status, body)
	}
	if status, body := do(t, hc, "POST", base+"/v1/batches", "application/x-ndjson", []byte("\"YQ==\"\n\"Yg==\"\n\"Yw==\"\n\"ZA==\"\n")); status != http.StatusOK || !strings.Contains(body, `"index":4,"status":413`) || !strings.Contains(body, "BATCH_TOO_LARGE") {
		t.Fatalf("4-item batch with --max-batch 3: %d %s; want item 4 413 BATCH_TOO_LARGE", status, body)
	}
}

// TestSecuritySlowClients: a client sending its headers a byte at a time,
// and one that never finishes its body, are cut by the server's timeouts
// (set short here) while another client is served at the same time.
func TestSecuritySlowClients(t *testing.T) {
	m := startGatewayWith(t, func(m *Main) {
		m.ReadHeaderTimeout = 500 * time.Millisecond
		m.ReadTimeout = 1500 * time.Millisecond
	}, "--mock-insurers")
	ps, corpus := prepareLoad(t, 4)
	p := ps[0]
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", m.APIAddr(), &tls.Config{RootCAs: loadRoots(t), Certificates: []tls.Certificate{p.TLS}, MaxVersion: tls.VersionTLS12, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// cut reports whether the server closed the connection while the
	// client dribbled bytes, within limit.
	cut := func(c *tls.Conn, dribble []byte, limit time.Duration) error {
		done := make(chan error, 1)
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(limit))
			_, err := io.ReadAll(c) // returns when the server closes
			done <- err
		}()
		for i := 0; i < len(dribble); i++ {
			select {
			case err := <-done:
				return err
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write(dribble[i : i+1]); err != nil {
				return nil // cut while writing
			}
		}
		return <-done
	}
	headers := []byte("POST /v1/sheets HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/xml\r\nContent-Length: 100000\r\n\r\n")
	slowHeaders := dial()
	slowBody := dial()
	if _, err := slowBody.Write(headers); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- cut(slowHeaders, headers, 20*time.Second) }()
	go func() { errs <- cut(slowBody, bytes.Repeat([]byte("x"), 1000), 20*time.Second) }()
	// Meanwhile another client is served.
	hc := httpsAs(t, p)
	if status, body := do(t, hc, "POST", "https://"+m.APIAddr()+"/v1/sheets", "application/xml", corpus.Sheets[0].Signed); status >= 300 {
		t.Fatalf("a normal client while two slow ones hang on: %d %s", status, body)
	}
	for range 2 {
		if err := <-errs; err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a slow client was not cut by the server within 20 s")
			}
		}
	}
}

// TestAdminSlowClient: the admin listener cuts a client that holds its
// request body back (it had a header timeout only).
func TestAdminSlowClient(t *testing.T) {
	m := startGatewayWith(t, func(m *Main) { m.ReadTimeout = 500 * time.Millisecond })
	c, err := net.Dial("tcp", m.AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("POST /admin/resubmit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a bound: the server closes long before
	if _, err := io.ReadAll(c); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the admin listener still holds a client that never sends its body")
		}
	}
}
