package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTLS(t *testing.T, h http.HandlerFunc) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	c, err := New(Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// Trust the test server's certificate.
	c.http.Transport.(*http.Transport).TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return c, srv
}

func TestRefusalIsAProblemWithEveryCode(t *testing.T) {
	c, _ := newTLS(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/xml" {
			t.Errorf("content type %q, want application/xml", r.Header.Get("Content-Type"))
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(`{"status":422,"title":"care sheet refused","errors":[{"code":"NIR_KEY","path":"patient/nir"},{"code":"TOTAL_AMO","path":"totals/amo"}]}`))
	})
	_, err := c.SendSheet(context.Background(), []byte("<CareSheet/>"))
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("got %v, want a *Problem", err)
	}
	if !p.Has("NIR_KEY") || !p.Has("TOTAL_AMO") || p.Retryable() || p.Status != 422 {
		t.Fatalf("got %+v; want both codes, status 422, not retryable", p)
	}
}

func TestReceiptAndNotFound(t *testing.T) {
	c, _ := newTLS(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/sheets":
			if r.URL.Query().Get("dry_run") == "true" {
				w.Write([]byte(`{"billing":"751000019","number":"000000001","state":"received","dry_run":true}`))
				return
			}
			w.Write([]byte(`{"billing":"751000019","number":"000000001","state":"queued","destinations":[{"insurer":"cpam751","lot_key":"cpam751.751000019"}]}`))
		default:
			http.NotFound(w, r)
		}
	})
	r, err := c.SendSheet(context.Background(), []byte("x"))
	if err != nil || r.State != "queued" || len(r.Destinations) != 1 || r.Destinations[0].Insurer != "cpam751" || len(r.Raw) == 0 {
		t.Fatalf("got %+v, %v", r, err)
	}
	d, err := c.DryRun(context.Background(), []byte("x"))
	if err != nil || !d.DryRun {
		t.Fatalf("dry run: got %+v, %v", d, err)
	}
	if _, err := c.Sheet(context.Background(), "751000019", "9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown sheet: got %v, want ErrNotFound", err)
	}
}

func TestCardCertificateCapsTLS12(t *testing.T) {
	c, err := New(Config{URL: "https://127.0.0.1:1", Certificate: &tls.Certificate{}})
	if err != nil {
		t.Fatal(err)
	}
	if v := c.http.Transport.(*http.Transport).TLSClientConfig.MaxVersion; v != tls.VersionTLS12 {
		t.Fatalf("MaxVersion %x with a card certificate, want TLS 1.2 (the card signs PKCS#1 v1.5 only)", v)
	}
	if _, err := New(Config{URL: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("a plain http URL was accepted")
	}
}

func TestFinal(t *testing.T) {
	for _, tc := range []struct {
		d    DestStatus
		want bool
	}{
		{DestStatus{State: "paid"}, true},
		{DestStatus{State: "accepted"}, true},
		{DestStatus{State: "accepted", ExpectPayment: true}, false},
		{DestStatus{State: "batched"}, false},
		{DestStatus{State: "returns_overdue"}, true},
	} {
		if got := tc.d.Final(); got != tc.want {
			t.Errorf("%+v: Final() = %v, want %v", tc.d, got, tc.want)
		}
	}
	if (&Status{}).Final() {
		t.Error("a status without destinations is final")
	}
}

// TestConnectionsBounded: more requests at once than Connections wait for
// a connection instead of opening (and handshaking) new ones.
func TestConnectionsBounded(t *testing.T) {
	var conns, arrived atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
		http.Error(w, "{}", http.StatusNotFound)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c, err := New(Config{URL: srv.URL, Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	c.http.Transport.(*http.Transport).TLSClientConfig.RootCAs = srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = c.Sheet(context.Background(), "751000019", "000000001") }()
	}
	// Hold the first requests until the others had every chance to open
	// connections of their own (they would at once without the bound).
	for i := 0; i < 300 && arrived.Load() < 10; i++ {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if n := conns.Load(); n > 2 {
		t.Fatalf("10 requests at once opened %d connections, want at most 2", n)
	}
}
