package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
)

// oidNationalID is the IGC-Santé national id extension the fixture cards
// carry (signature.OIDNationalID).
var oidNationalID = asn1.ObjectIdentifier{1, 2, 250, 1, 71, 4, 2, 1}

// Cert reads the first certificate of a fixture file ("pki/root.crt").
func Cert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(block(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// Key reads a fixture private key ("pki/cards/doctor-auth.key").
func Key(t testing.TB, name string) crypto.Signer {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(block(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k.(crypto.Signer)
}

// Issue makes, with the key of the fixtures' CA ca ("root", "persons-ca"),
// a certificate for pub like the fixture certificate base ("pki/cards/
// doctor-auth.crt"): its subject, validity, key usages, CA constraints and
// national id, changed by edit (nil: none), with a new serial number.
func Issue(t testing.TB, ca, base string, pub crypto.PublicKey, edit func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	b := Cert(t, base)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, RawSubject: b.RawSubject, NotBefore: b.NotBefore, NotAfter: b.NotAfter,
		KeyUsage: b.KeyUsage, ExtKeyUsage: b.ExtKeyUsage,
		BasicConstraintsValid: b.BasicConstraintsValid, IsCA: b.IsCA, MaxPathLen: b.MaxPathLen, MaxPathLenZero: b.MaxPathLenZero,
	}
	for _, e := range b.Extensions {
		if e.Id.Equal(oidNationalID) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		}
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, Cert(t, "pki/"+ca+".crt"), pub, Key(t, "pki/"+ca+".key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CRL makes a CRL (DER) of the fixtures' CA ca, numbered number, issued at
// thisUpdate, stale after nextUpdate, revoking certs at thisUpdate.
func CRL(t testing.TB, ca string, number int64, thisUpdate, nextUpdate time.Time, revoked ...*x509.Certificate) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(number), ThisUpdate: thisUpdate, NextUpdate: nextUpdate, RevokedCertificateEntries: entries,
	}, Cert(t, "pki/"+ca+".crt"), Key(t, "pki/"+ca+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// PEM encodes a certificate, to write it into a trust directory.
func PEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// block is the bytes of the first PEM block of a fixture file.
func block(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile(name)
	if err != nil {
		t.Fatalf("read fixture %s: %v (run 'make fixtures')", name, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	return blk.Bytes
}
