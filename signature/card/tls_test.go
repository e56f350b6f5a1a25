package card_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// TestTLS12ClientAuthThroughPCSCD: a TLS 1.2 handshake whose client key is
// the card's authentication key, reached through pcscd.
func TestTLS12ClientAuthThroughPCSCD(t *testing.T) {
	ctx := context.Background()
	c, v, _ := insert(t, "doctor", virtual.Options{}, card.Options{PIN: pin("1234")})
	srvCert, err := tls.LoadX509KeyPair(filepath.Join(fixtures.Dir(), "pki/server.crt"), filepath.Join(fixtures.Dir(), "pki/server.key"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, f := range []string{"pki/persons-ca.crt", "pki/root.crt"} {
		b, err := fixtures.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(b) {
			t.Fatalf("%s: no certificate", f)
		}
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- err
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			got <- err
			return
		}
		st := tc.ConnectionState()
		if len(st.PeerCertificates) == 0 || !st.PeerCertificates[0].Equal(v.Profile().AuthenticationCertificate()) {
			got <- errors.New("server did not see the card's authentication certificate")
			return
		}
		if st.Version != tls.VersionTLS12 {
			got <- errors.New("not TLS 1.2")
			return
		}
		_, err = io.WriteString(conn, "ok")
		got <- err
	}()
	cert, err := c.TLSCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	b, _ := fixtures.ReadFile("pki/root.crt")
	roots.AppendCertsFromPEM(b)
	srvLeaf, _ := x509.ParseCertificate(srvCert.Certificate[0])
	name := "localhost"
	if len(srvLeaf.DNSNames) > 0 {
		name = srvLeaf.DNSNames[0]
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		Certificates: []tls.Certificate{cert},
		MaxVersion:   tls.VersionTLS12,
		RootCAs:      roots,
		ServerName:   name,
	})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("server: %v", err)
	}
	if v.Operations() < 1 {
		t.Fatal("the card signed nothing")
	}
}
