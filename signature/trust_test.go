package signature

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// crlFor makes a CRL of the persons CA with the CA key of the fixtures.
func crlFor(t *testing.T, thisUpdate, nextUpdate time.Time, number int64, revoked ...*x509.Certificate) []byte {
	t.Helper()
	ca := loadCert(t, "pki/persons-ca.crt")
	key := loadKey(t, "pki/persons-ca.key")
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate, RevokedCertificateEntries: entries,
	}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
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
	var hits atomic.Int32
	crl := crlFor(t, vectorNow.Add(-time.Hour), vectorNow.Add(24*time.Hour), 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
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
	if got := hits.Load(); got != 1 {
		t.Errorf("fetched %d times, want 1 (cached while fresh)", got)
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
