package pkcs11_test

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/signature/card"
)

// BenchmarkSignSoftHSM: SignMessage (CKM_SHA256_RSA_PKCS, RSA-2048) of a
// 2000-byte message through SoftHSM2's module, logged in once; compare
// with signature/card's BenchmarkSignThroughPCSCD.
func BenchmarkSignSoftHSM(b *testing.B) {
	tok := softToken(b, "doctor", pin("1234"))
	key, err := tok.SigningKey(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 2000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := key.SignMessage(nil, msg, crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTLSHandshakeOpenSC: full TLS 1.2 handshakes (no resumption)
// whose client key is the virtual card's authentication key through
// OpenSC's module and pcscd.
func BenchmarkTLSHandshakeOpenSC(b *testing.B) {
	tok, _, _ := openscToken(b, "doctor", pin("1234"))
	benchHandshakes(b, tok)
}

// BenchmarkTLSHandshakeSoftHSM: the same through SoftHSM2.
func BenchmarkTLSHandshakeSoftHSM(b *testing.B) {
	benchHandshakes(b, softToken(b, "doctor", pin("1234")))
}

func benchHandshakes(b *testing.B, tok card.Token) {
	ln, _ := tlsServer(b)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if err := conn.(*tls.Conn).Handshake(); err == nil {
					io.WriteString(conn, "ok")
				}
			}()
		}
	}()
	cert, err := tok.TLSCertificate(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if err := tok.Login(b.Context()); err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	r, _ := fixtures.ReadFile("pki/root.crt")
	roots.AppendCertsFromPEM(r)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "localhost", MaxVersion: tls.VersionTLS12}
	b.ReportAllocs()
	for b.Loop() {
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(conn); err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}
