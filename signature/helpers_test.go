package signature

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/testenv/testpki"
	"github.com/fsegate/fsegate/signature/internal/c14n"
)

// Fixed times of the tests: the conformance vectors are signed at
// vectorSigningTime and verified at vectorNow.
var (
	vectorSigningTime = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	vectorNow         = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile(name)
	if err != nil {
		t.Fatalf("read fixture %s: %v (run 'make fixtures')", name, err)
	}
	return b
}

func loadCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	cs, err := ParseCertificates(mustRead(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cs[0]
}

func loadKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	return testpki.Key(t, name)
}

// card returns the software signer and certificate of a card's key
// ("sig" or "auth").
func card(t testing.TB, name, key string) (MessageSigner, *x509.Certificate) {
	t.Helper()
	base := "pki/cards/" + name + "-" + key
	return MessageSigner{loadKey(t, base+".key")}, loadCert(t, base+".crt")
}

// devTrust is the fixtures' trust store (root, persons and orgs CAs and
// their CRLs), with the given clock.
func devTrust(t testing.TB, now time.Time) *TrustStore {
	t.Helper()
	s, err := LoadFS(fixtures.FS(), "pki", "root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl")
	if err != nil {
		t.Fatal(err)
	}
	s.Now = fixedClock(now)
	return s
}

// sampleSheet is a care sheet written by 'workstation generate --seed 1
// --profession doctor --now 2026-11-20T09:00:00Z' (valid for fse, names
// the doctor): the conformance vectors sign it.
func sampleSheet(t testing.TB) []byte { return readTestdata(t, "caresheet-generated.xml") }

// benchSheet is a 3 KB sheet with more namespaces and lines (not a valid
// fse sheet): the benchmarks sign and verify it.
func benchSheet(t testing.TB) []byte { return readTestdata(t, "caresheet.xml") }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signSample(t testing.TB, cardName, key string) []byte {
	t.Helper()
	return signDoc(t, sampleSheet(t), cardName, key)
}

func signDoc(t testing.TB, doc []byte, cardName, key string) []byte {
	t.Helper()
	s, c := card(t, cardName, key)
	out, err := SignOptions{Now: fixedClock(vectorSigningTime)}.Sign(t.Context(), doc, s, []*x509.Certificate{c})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func certs(c ...*x509.Certificate) []*x509.Certificate { return c }

// canonicalizer re-canonicalises a result's content (the root without the
// signature) for comparisons in tests.
type canonicalizer struct{ cz c14n.Canonicalizer }

func (c *canonicalizer) content(r *Result) ([]byte, error) {
	return c.cz.Element(nil, r.Content, r.Signature)
}

func fixturesDir(t testing.TB) string { return fixtures.Dir() }
