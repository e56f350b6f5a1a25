package main

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures/testenv/pdfbomb"
	"github.com/fsegate/fsegate/fixtures/testenv/testpki"
)

// testClock is Main.Now, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *testClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// crlPublisher is a CA's CRL web server: per path, the CRL published, or
// the status it fails with.
type crlPublisher struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	fails map[string]int
	hits  map[string]int
}

func newCRLPublisher(t *testing.T) *crlPublisher {
	t.Helper()
	p := &crlPublisher{files: map[string][]byte{}, fails: map[string]int{}, hits: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.hits[r.URL.Path]++
		if st := p.fails[r.URL.Path]; st != 0 {
			http.Error(w, "unavailable", st)
			return
		}
		b, ok := p.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *crlPublisher) publish(path string, crl []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files[path], p.fails[path] = crl, 0
}

func (p *crlPublisher) fail(path string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fails[path] = status
}

func (p *crlPublisher) hitsOf(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// clientWith is an intake client with a certificate of its own, on a new
// connection (the gateway checks a connection's certificate once per
// authCacheAge).
func clientWith(t testing.TB, m *Main, key crypto.Signer, cert *x509.Certificate) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: "https://" + m.APIAddr(), Roots: fixtureRoots(t),
		Certificate: &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fixtureTrustDir writes the fixtures' roots, CAs and CRLs into a trust
// directory, as an operator's --trust-dir.
func fixtureTrustDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "pki", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCRLRefresh: 'gateway serve --trust-dir' keeps revocation current
// while it runs. A card whose certificate names a CRL distribution point
// connects; once its CA publishes a CRL revoking it there, a refresh makes
// the gateway refuse it (CERT_REVOKED); a failing fetch keeps that CRL, and
// so does the trust directory read again; a --crl-url and a CRL written
// into the directory are taken too; each CRL's age and next update are
// exposed, and a CRL nearing its next update is logged.
func TestCRLRefresh(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	n := clock.Now()
	pub := newCRLPublisher(t)
	dir := fixtureTrustDir(t)
	logs := &logBuffer{}
	m := startGatewayWith(t, func(m *Main) {
		m.Now = clock.Now
		m.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}, "--trust-dir", dir, "--crl-refresh", "0", "--crl-url", pub.URL+"/configured.crl")

	key := testpki.Key(t, "pki/cards/doctor-auth.key")
	card := testpki.Issue(t, "persons-ca", "pki/cards/doctor-auth.crt", key.Public(), func(c *x509.Certificate) {
		c.CRLDistributionPoints = []string{pub.URL + "/persons.crl"}
	})
	connects := func(t *testing.T, c *client.Client, billing string, refused ...string) {
		t.Helper()
		_, err := c.Notices(t.Context(), billing, 0)
		if len(refused) == 0 {
			if err != nil {
				t.Fatalf("got %v, want the connection accepted", err)
			}
			return
		}
		wantRefused(t, err, http.StatusUnauthorized, refused...)
	}
	refresh := func(t *testing.T, wantErr bool) {
		t.Helper()
		if err := m.revocation.Refresh(t.Context()); (err != nil) != wantErr {
			t.Fatalf("refresh: got %v, want error %v", err, wantErr)
		}
	}

	connects(t, clientWith(t, m, key, card), "751000019")
	connects(t, newClient(t, m, "nurse"), "751000035")

	t.Run("revoked at the distribution point", func(t *testing.T) {
		pub.publish("/persons.crl", testpki.CRL(t, "persons-ca", 2, n.Add(-2*time.Hour), n.Add(24*time.Hour), card))
		pub.fail("/configured.crl", http.StatusServiceUnavailable)
		refresh(t, true) // the configured URL fails
		if pub.hitsOf("/persons.crl") != 1 {
			t.Fatalf("the distribution point was fetched %d times, want 1", pub.hitsOf("/persons.crl"))
		}
		connects(t, clientWith(t, m, key, card), "751000019", "CERT_REVOKED")
		connects(t, newClient(t, m, "nurse"), "751000035")
	})
	t.Run("a failing fetch keeps the last good CRL", func(t *testing.T) {
		pub.fail("/persons.crl", http.StatusInternalServerError)
		refresh(t, true)
		connects(t, clientWith(t, m, key, card), "751000019", "CERT_REVOKED")
	})
	t.Run("revoked at a configured URL", func(t *testing.T) {
		nurse := testpki.Cert(t, "pki/cards/nurse-auth.crt")
		pub.publish("/configured.crl", testpki.CRL(t, "persons-ca", 3, n.Add(-time.Hour), n.Add(24*time.Hour), card, nurse))
		refresh(t, true) // the distribution point still fails
		connects(t, newClient(t, m, "nurse"), "751000035", "CERT_REVOKED")
		connects(t, clientWith(t, m, key, card), "751000019", "CERT_REVOKED")
	})
	t.Run("revoked in the trust directory", func(t *testing.T) {
		pub.fail("/configured.crl", http.StatusNotFound)
		connects(t, newClient(t, m, "doctor"), "751000019")
		doctor := testpki.Cert(t, "pki/cards/doctor-auth.crt")
		crl := testpki.CRL(t, "persons-ca", 4, n.Add(-30*time.Minute), n.Add(24*time.Hour), card, doctor)
		if err := os.WriteFile(filepath.Join(dir, "persons-ca.crl"), crl, 0o600); err != nil {
			t.Fatal(err)
		}
		refresh(t, true)
		connects(t, newClient(t, m, "doctor"), "751000019", "CERT_REVOKED")
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + m.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		persons := `{issuer="CN=AC IGC-SANTE TEST PERSONNES,OU=IGC-SANTE-TEST,O=FSEGATE-TEST,C=FR"}`
		for _, want := range []string{
			"fsegate_crl_age_seconds" + persons + " 1800\n",
			"fsegate_crl_next_update_timestamp_seconds" + persons + " " + strconv.FormatFloat(float64(n.Add(24*time.Hour).Unix()), 'g', -1, 64) + "\n",
			"fsegate_crl_refresh_failures_total 6\n", // 1 + 2 + 1 + 2 URLs failed
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %q:\n%s", want, grepLines(string(b), "fsegate_crl"))
			}
		}
	})
	t.Run("a CRL nearing its next update is logged", func(t *testing.T) {
		clock.Add(20 * time.Hour) // 3.5 h before the next update
		refresh(t, true)
		if !strings.Contains(logs.String(), "CRL nears its next update") {
			t.Fatalf("no warning in the log:\n%s", tail(logs.String(), 2000))
		}
	})
}

// TestCRLRefreshLoop: 'gateway serve --dev' (the fixtures' CAs, in the
// binary) runs the refresh every --crl-refresh too: the distribution point
// of a card seen and a --crl-url are fetched again and again, and a
// revocation published there is applied without a restart.
func TestCRLRefreshLoop(t *testing.T) {
	pub := newCRLPublisher(t)
	now := time.Now()
	pub.publish("/configured.crl", testpki.CRL(t, "root", 2, now.Add(-time.Minute), now.Add(time.Hour)))
	m := startGateway(t, "--crl-refresh", "20ms", "--crl-url", pub.URL+"/configured.crl")
	key := testpki.Key(t, "pki/cards/doctor-auth.key")
	card := testpki.Issue(t, "persons-ca", "pki/cards/doctor-auth.crt", key.Public(), func(c *x509.Certificate) {
		c.CRLDistributionPoints = []string{pub.URL + "/persons.crl"}
	})
	if _, err := clientWith(t, m, key, card).Notices(t.Context(), "751000019", 0); err != nil {
		t.Fatal(err)
	}
	pub.publish("/persons.crl", testpki.CRL(t, "persons-ca", 2, now.Add(-time.Minute), now.Add(time.Hour), card))
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := clientWith(t, m, key, card).Notices(t.Context(), "751000019", 0)
		if err != nil {
			wantRefused(t, err, http.StatusUnauthorized, "CERT_REVOKED")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revocation was not applied within 20 s (distribution point fetched %d times)", pub.hitsOf("/persons.crl"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := pub.hitsOf("/configured.crl"); got < 2 {
		t.Errorf("the configured URL was fetched %d times, want it fetched at every refresh", got)
	}
}

// TestClientCertAfterSignature: a certificate that signed a prescription
// (verified for any usage) and lacks clientAuth is refused as a TLS client
// (KEY_USAGE): the chain cache is per usage.
func TestClientCertAfterSignature(t *testing.T) {
	m := startGateway(t)
	key := testpki.Key(t, "pki/cards/doctor-auth.key")
	cert := testpki.Issue(t, "persons-ca", "pki/cards/doctor-auth.crt", key.Public(), func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	})
	rx := pdfbomb.Build(pdfbomb.Options{Files: []pdfbomb.File{{Name: "prescription.json", Data: []byte(`{"id":"RXEKU1","date":"2026-01-02","patient":{"nir":"295109912611193"},"lines":[{"text":"x","quantity":1}]}`)}}})
	signed := signPDFWith(t, rx, key, cert)
	if _, err := newClient(t, m, "doctor").SendPrescription(t.Context(), signed); err != nil {
		t.Fatalf("the prescription signed with the certificate: %v", err)
	}
	_, err := clientWith(t, m, key, cert).Notices(t.Context(), "751000019", 0)
	wantRefused(t, err, http.StatusUnauthorized, "KEY_USAGE")
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
