package signature

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/testenv/testpki"
)

// crlFor makes a CRL of the persons CA with the CA key of the fixtures.
func crlFor(t *testing.T, thisUpdate, nextUpdate time.Time, number int64, revoked ...*x509.Certificate) []byte {
	t.Helper()
	return caCRL(t, "persons-ca", thisUpdate, nextUpdate, number, revoked...)
}

// caCRL makes a CRL of a fixtures CA ("root", "persons-ca") with its key.
func caCRL(t *testing.T, caName string, thisUpdate, nextUpdate time.Time, number int64, revoked ...*x509.Certificate) []byte {
	t.Helper()
	return testpki.CRL(t, caName, number, thisUpdate, nextUpdate, revoked...)
}

func TestCRLStates(t *testing.T) {
	signed := signSample(t, "doctor", "sig")
	doctor := loadCert(t, "pki/cards/doctor-sig.crt")
	tests := []struct {
		name string
		crl  []byte
		want Code
	}{
		{"past next update", crlFor(t, vectorNow.Add(-72*time.Hour), vectorNow.Add(-time.Hour), 10), CodeCRLStale},
		{"fresh", crlFor(t, vectorNow.Add(-time.Hour), vectorNow.Add(24*time.Hour), 11), ""},
		{"revoked by a newer CRL", crlFor(t, vectorNow.Add(-time.Hour), vectorNow.Add(24*time.Hour), 12, doctor), CodeCertRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trust := devTrust(t, vectorNow)
			if err := trust.AddCRL(tt.crl, ""); err != nil {
				t.Fatal(err)
			}
			_, err := (&Verifier{Trust: trust, Now: fixedClock(vectorNow)}).Verify(signed)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestCRLUnavailable(t *testing.T) {
	s, err := LoadFS(os.DirFS(fixturesDir(t)), "pki", "root.crt", "persons-ca.crt", "root.crl")
	if err != nil {
		t.Fatal(err)
	}
	s.Now = fixedClock(vectorNow)
	_, err = (&Verifier{Trust: s, Now: fixedClock(vectorNow)}).Verify(signSample(t, "doctor", "sig"))
	if !errors.Is(err, CodeCRLUnavailable) {
		t.Fatalf("got %v, want CRL_UNAVAILABLE", err)
	}
}

func TestAddCRLRefusesForeignSigner(t *testing.T) {
	s := devTrust(t, vectorNow)
	if err := s.AddCRL(mustRead(t, "pki/rogue-ca.crl"), ""); err == nil {
		t.Fatal("a CRL of an unknown CA was accepted")
	}
}

func TestFetchCRL(t *testing.T) {
	var hits, notModified atomic.Int32
	crl := crlFor(t, vectorNow.Add(-time.Hour), vectorNow.Add(24*time.Hour), 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("ETag", `"20"`)
		if r.Header.Get("If-None-Match") == `"20"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write(crl)
	}))
	defer srv.Close()
	s, err := LoadFS(os.DirFS(fixturesDir(t)), "pki", "root.crt", "persons-ca.crt", "root.crl")
	if err != nil {
		t.Fatal(err)
	}
	s.Now = fixedClock(vectorNow)
	s.MaxCRLAge = 30 * 24 * time.Hour // the fixtures root CRL is 19 days old
	if err := s.FetchCRL(t.Context(), srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := s.RefreshCRLs(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, got304 := hits.Load(), notModified.Load(); got != 2 || got304 != 1 {
		t.Errorf("got %d fetches (%d not modified), want 2 (1): a refresh asks again, conditionally", got, got304)
	}
	if _, err := (&Verifier{Trust: s, Now: fixedClock(vectorNow)}).Verify(signSample(t, "doctor", "sig")); err != nil {
		t.Fatalf("verify with the fetched CRL: %v", err)
	}
	if err := s.FetchCRL(t.Context(), srv.URL+"/nothere\x00"); err == nil {
		t.Error("a bad URL gave no error")
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"root.crt", "persons-ca.crt", "root.crl", "persons-ca.crl", "persons-ca.key"} {
		os.WriteFile(filepath.Join(dir, n), mustRead(t, "pki/"+n), 0o600)
	}
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = fixedClock(vectorNow)
	if _, err := (&Verifier{Trust: s, Now: fixedClock(vectorNow)}).Verify(signSample(t, "doctor", "sig")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(t.TempDir()); err == nil {
		t.Error("an empty trust directory was accepted")
	}
}

func TestVerifyClient(t *testing.T) {
	s := devTrust(t, vectorNow)
	raw := func(name string) [][]byte {
		blk, _ := pem.Decode(mustRead(t, name))
		return [][]byte{blk.Bytes}
	}
	tests := []struct {
		name, cert string
		want       Code
	}{
		{"doctor auth", "pki/cards/doctor-auth.crt", ""},
		{"signature key", "pki/cards/doctor-sig.crt", CodeKeyUsage},
		{"revoked", "pki/cards/revoked-auth.crt", CodeCertRevoked},
		{"impostor", "pki/cards/impostor-auth.crt", CodeCertUntrusted},
		{"expired", "pki/cards/expired-auth.crt", CodeCertExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.VerifyClient(raw(tt.cert))
			if tt.want == "" {
				if err != nil || id.NationalID != "899700218896" || id.CardType != "CPS" {
					t.Fatalf("got %+v, %v", id, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestCheckSigner(t *testing.T) {
	id := Identity{NationalID: "899700218896", CardType: "CPF"}
	err := CheckSigner(id, "810107592585", true)
	if !errors.Is(err, CodeSignerMismatch) || !errors.Is(err, CodeCardTypeForbidden) {
		t.Fatalf("got %v", err)
	}
	if err := CheckSigner(Identity{NationalID: "1", CardType: "CPS"}, "1", true); err != nil {
		t.Fatal(err)
	}
	if err := CheckSigner(Identity{NationalID: "1", CardType: "CPE"}, "1", false); err != nil {
		t.Fatal(err)
	}
}

// TestChainCachePerUsage: a certificate whose extended key usage is email
// protection, not clientAuth, verified once for a signature (any usage),
// is not thereby accepted for TLS client authentication (the chain cache
// once served it without the check), and the other way round.
func TestChainCachePerUsage(t *testing.T) {
	key := loadKey(t, "pki/cards/doctor-sig.key")
	cert := testpki.Issue(t, "persons-ca", "pki/cards/doctor-sig.crt", key.Public(), func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	})
	sheet, err := SignOptions{Now: fixedClock(vectorSigningTime)}.Sign(t.Context(), sampleSheet(t), MessageSigner{key}, certs(cert))
	if err != nil {
		t.Fatal(err)
	}
	pdfDoc, err := SignPDF(t.Context(), samplePDF(t), key, certs(cert, loadCert(t, "pki/persons-ca.crt")), PDFSignOptions{Now: fixedClock(vectorSigningTime)})
	if err != nil {
		t.Fatal(err)
	}
	signatures := []struct {
		name   string
		verify func(*Verifier) error
	}{
		{"care sheet", func(v *Verifier) error { _, err := v.Verify(sheet); return err }},
		{"prescription", func(v *Verifier) error { _, err := v.VerifyPDF(pdfDoc); return err }},
	}
	for _, sig := range signatures {
		t.Run(sig.name+" first", func(t *testing.T) {
			s := devTrust(t, vectorNow)
			if err := sig.verify(&Verifier{Trust: s, Now: fixedClock(vectorNow)}); err != nil {
				t.Fatalf("the signature: %v", err)
			}
			if _, err := s.VerifyClient([][]byte{cert.Raw}); !errors.Is(err, CodeKeyUsage) {
				t.Fatalf("TLS client after a signature: got %v, want KEY_USAGE", err)
			}
		})
		t.Run(sig.name+" after", func(t *testing.T) {
			s := devTrust(t, vectorNow)
			if _, err := s.VerifyClient([][]byte{cert.Raw}); !errors.Is(err, CodeKeyUsage) {
				t.Fatalf("TLS client: got %v, want KEY_USAGE", err)
			}
			if err := sig.verify(&Verifier{Trust: s, Now: fixedClock(vectorNow)}); err != nil {
				t.Fatalf("the signature after a refused TLS client: %v", err)
			}
		})
	}
}

// crlServer serves, at any path, the CRL last published, or fails with
// the status set.
type crlServer struct {
	*httptest.Server
	crl    atomic.Pointer[[]byte]
	status atomic.Int32
	hits   atomic.Int32
}

func newCRLServer(t *testing.T) *crlServer {
	t.Helper()
	s := &crlServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		crl := s.crl.Load()
		if st := int(s.status.Load()); st != 0 || crl == nil {
			http.Error(w, "no CRL", max(st, http.StatusNotFound))
			return
		}
		w.Write(*crl)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *crlServer) publish(crl []byte) { s.crl.Store(&crl); s.status.Store(0) }

// TestRefreshCRLsFromDistributionPoint: RefreshCRLs fetches, with no URL
// given, the distribution point of the certificates the store verified;
// a new revocation there is seen after the refresh; a failed fetch keeps
// the last good CRL until its next update, then CRL_STALE.
func TestRefreshCRLsFromDistributionPoint(t *testing.T) {
	srv := newCRLServer(t)
	key := loadKey(t, "pki/cards/doctor-sig.key")
	cert := testpki.Issue(t, "persons-ca", "pki/cards/doctor-sig.crt", key.Public(), func(c *x509.Certificate) {
		c.CRLDistributionPoints = []string{srv.URL + "/persons-ca.crl", "ldap://ldap.example/cn=persons"}
	})
	sheet, err := SignOptions{Now: fixedClock(vectorSigningTime)}.Sign(t.Context(), sampleSheet(t), MessageSigner{key}, certs(cert))
	if err != nil {
		t.Fatal(err)
	}
	now := vectorNow
	s := devTrust(t, now)
	s.Now = func() time.Time { return now }
	v := &Verifier{Trust: s, Now: s.Now}
	verify := func(want Code) { t.Helper(); wantVerify(t, v, sheet, want) }

	verify("")
	if got, want := s.CRLSources(), []string{srv.URL + "/persons-ca.crl"}; !slices.Equal(got, want) {
		t.Fatalf("sources: got %q, want %q (the HTTP distribution point of the certificate verified)", got, want)
	}
	srv.publish(crlFor(t, now.Add(-time.Hour), now.Add(24*time.Hour), 30, cert))
	if err := s.RefreshCRLs(t.Context()); err != nil {
		t.Fatal(err)
	}
	verify(CodeCertRevoked)

	srv.status.Store(http.StatusInternalServerError)
	if err := s.RefreshCRLs(t.Context()); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("a failing fetch: got %v, want HTTP 500", err)
	}
	verify(CodeCertRevoked)
	if crls := s.CRLs(); !slices.ContainsFunc(crls, func(c CRLInfo) bool { return c.URL == srv.URL+"/persons-ca.crl" && c.Revoked == 1 }) {
		t.Fatalf("CRLs: got %+v, want the fetched one kept", crls)
	}
	// An older CRL served again (a replay) does not replace it.
	srv.publish(crlFor(t, now.Add(-2*time.Hour), now.Add(24*time.Hour), 29))
	if err := s.RefreshCRLs(t.Context()); err != nil {
		t.Fatal(err)
	}
	verify(CodeCertRevoked)

	// Kept until its next update, then stale: another card of that CA
	// is refused CRL_STALE until a CRL is fetched again.
	other := signSample(t, "doctor", "sig")
	if _, err := v.Verify(other); err != nil {
		t.Fatalf("a card the CRL does not list: %v", err)
	}
	now = now.Add(25 * time.Hour)
	srv.status.Store(http.StatusServiceUnavailable)
	if err := s.RefreshCRLs(t.Context()); err == nil {
		t.Fatal("a failing fetch gave no error")
	}
	if _, err := v.Verify(other); !errors.Is(err, CodeCRLStale) {
		t.Fatalf("past the next update: got %v, want CRL_STALE", err)
	}
}

// TestReloadDir: a refresh re-reads the trust directory: a CRL written
// there since is taken (and a fetched one newer than the files' stays), a
// CA's distribution point is learnt, a CA removed is no longer trusted,
// and a directory that cannot be read leaves the store as it was.
func TestReloadDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"root.crt", "persons-ca.crt", "root.crl", "persons-ca.crl"} {
		write(n, mustRead(t, "pki/"+n))
	}
	now := vectorNow
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return now }
	v := &Verifier{Trust: s, Now: s.Now}
	sheet := signSample(t, "doctor", "sig")
	verify := func(t *testing.T, want Code) { t.Helper(); wantVerify(t, v, sheet, want) }
	verify(t, "")

	t.Run("a CRL written since", func(t *testing.T) {
		write("persons-ca.crl", crlFor(t, now.Add(-time.Hour), now.Add(24*time.Hour), 40, loadCert(t, "pki/cards/doctor-sig.crt")))
		verify(t, "")
		if err := s.ReloadDir(dir); err != nil {
			t.Fatal(err)
		}
		verify(t, CodeCertRevoked)
	})
	t.Run("a directory that cannot be read", func(t *testing.T) {
		write("broken.crt", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
		if err := s.ReloadDir(dir); err == nil {
			t.Fatal("a broken certificate file was accepted")
		}
		os.Remove(filepath.Join(dir, "broken.crt"))
		verify(t, CodeCertRevoked)
	})
	persons, root := newCRLServer(t), newCRLServer(t)
	t.Run("a fetched CRL newer than the files'", func(t *testing.T) {
		srv := persons
		srv.publish(crlFor(t, now.Add(-time.Minute), now.Add(24*time.Hour), 41))
		if err := s.RefreshCRLs(t.Context(), srv.URL); err != nil {
			t.Fatal(err)
		}
		verify(t, "")
		if err := s.ReloadDir(dir); err != nil {
			t.Fatal(err)
		}
		verify(t, "")
	})
	t.Run("a CA's distribution point", func(t *testing.T) {
		srv := root
		ca := testpki.Issue(t, "root", "pki/persons-ca.crt", loadCert(t, "pki/persons-ca.crt").PublicKey, func(c *x509.Certificate) {
			c.CRLDistributionPoints = []string{srv.URL + "/root.crl"}
		})
		write("persons-ca.crt", testpki.PEM(ca))
		if err := s.ReloadDir(dir); err != nil {
			t.Fatal(err)
		}
		verify(t, "")
		srv.publish(caCRL(t, "root", now.Add(-time.Hour), now.Add(24*time.Hour), 42, ca))
		if err := s.RefreshCRLs(t.Context()); err != nil {
			t.Fatal(err)
		}
		verify(t, CodeCertRevoked)
	})
	t.Run("a CA removed", func(t *testing.T) {
		os.Remove(filepath.Join(dir, "persons-ca.crt"))
		os.Remove(filepath.Join(dir, "persons-ca.crl"))
		if err := s.ReloadDir(dir); err != nil {
			t.Fatal(err)
		}
		verify(t, CodeCertUntrusted)
		for _, c := range s.CRLs() {
			if strings.Contains(c.Issuer, "PERSONNES") {
				t.Errorf("the CRL of a CA removed is still held: %+v", c)
			}
		}
	})
}

// wantVerify verifies a signed sheet: valid when want is "", else refused
// with want among the problems.
func wantVerify(t *testing.T, v *Verifier, sheet []byte, want Code) {
	t.Helper()
	_, err := v.Verify(sheet)
	switch {
	case want == "" && err != nil:
		t.Fatalf("got %v, want valid", err)
	case want != "" && !errors.Is(err, want):
		t.Fatalf("got %v, want %s", err, want)
	}
}
