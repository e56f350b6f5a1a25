package signature

import (
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// BenchmarkSign signs the sample sheet with a software RSA-2048 key.
func BenchmarkSign(b *testing.B) {
	s, c := card(b, "doctor", "sig")
	doc := benchSheet(b)
	opts := SignOptions{Now: fixedClock(vectorSigningTime)}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := opts.Sign(b.Context(), doc, s, certs(c)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerify verifies the signed sample sheet: parse, structure, C14N,
// digests, RSA, chain (cached), CRL.
func BenchmarkVerify(b *testing.B) {
	signed := signDoc(b, benchSheet(b), "doctor", "sig")
	v := &Verifier{Trust: devTrust(b, vectorNow), Now: fixedClock(vectorNow)}
	if _, err := v.Verify(signed); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(signed); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGoxmldsigVerify is the yardstick (perf-baselines §3, §8): parse,
// certificate out of KeyInfo, x509 chain to the roots, goxmldsig Validate
// with that certificate pinned, on the same signed document.
func BenchmarkGoxmldsigVerify(b *testing.B) {
	signed := signDoc(b, benchSheet(b), "doctor", "sig")
	roots := x509.NewCertPool()
	roots.AddCert(loadCert(b, "pki/root.crt"))
	inter := x509.NewCertPool()
	inter.AddCert(loadCert(b, "pki/persons-ca.crt"))
	verify := func() error {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(signed); err != nil {
			return err
		}
		el := doc.Root().FindElement("./Signature/KeyInfo/X509Data/X509Certificate")
		der, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: vectorNow,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return err
		}
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		ctx.Clock = dsig.NewFakeClockAt(vectorNow)
		_, err = ctx.Validate(doc.Root())
		return err
	}
	if err := verify(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(signed)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := verify(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
