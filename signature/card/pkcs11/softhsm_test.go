package pkcs11_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/pkcs11"
)

// now is inside the fixture certificates' and CRLs' validity.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func pin(p string) card.PINPrompt {
	return func(context.Context, card.PINRequest) ([]byte, error) { return []byte(p), nil }
}

func trust(t testing.TB) *signature.TrustStore {
	t.Helper()
	s, err := signature.LoadFS(fixtures.FS(), "pki", "root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl")
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return now }
	return s
}

// softToken opens a SoftHSM2 token holding the fixture card's keys.
func softToken(t testing.TB, cardName string, prompt card.PINPrompt) *pkcs11.Token {
	t.Helper()
	mod := testenv.SoftHSM(t, cardName, "1234")
	tok, err := pkcs11.Open(t.Context(), pkcs11.Config{Module: mod, PIN: prompt})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

func sheet(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "caresheet-generated.xml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSoftHSMSignSheetAndPrescription: a care sheet (XAdES) and a
// prescription (PDF) signed through SoftHSM2's module verify as the
// gateway verifies them.
func TestSoftHSMSignSheetAndPrescription(t *testing.T) {
	ctx := t.Context()
	tok := softToken(t, "doctor", pin("1234"))
	if tok.Backend() != card.BackendPKCS11 {
		t.Errorf("backend = %q", tok.Backend())
	}
	key, err := tok.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := fixtures.ReadFile("pki/cards/doctor-sig.crt"); !bytes.Contains(want, []byte("BEGIN")) || key.Certificate().Subject.CommonName != "899700218896" {
		t.Fatalf("signature certificate = %v, want the doctor's", key.Certificate().Subject)
	}
	so := signature.SignOptions{Now: func() time.Time { return now.Add(-time.Hour) }}
	signed, err := so.Sign(ctx, sheet(t), key, []*x509.Certificate{key.Certificate()})
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	v := &signature.Verifier{Trust: trust(t), Now: func() time.Time { return now }}
	res, err := v.Verify(signed)
	if err != nil {
		t.Fatalf("verify the sheet: %v", err)
	}
	if res.Signer.NationalID != "899700218896" {
		t.Errorf("signer = %q", res.Signer.NationalID)
	}

	pdf := signPDF(t, key, now.Add(-time.Hour))
	if _, err := v.VerifyPDF(pdf); err != nil {
		t.Fatalf("verify the PDF: %v", err)
	}
}

// TestSoftHSMWrongPIN: a wrong PIN is card.ErrWrongPIN (SoftHSM2 has no
// lockout) and nothing is signed.
func TestSoftHSMWrongPIN(t *testing.T) {
	ctx := t.Context()
	tok := softToken(t, "doctor", pin("9999"))
	key, _ := tok.SigningKey(ctx)
	_, err := key.SignMessage(nil, []byte("<a/>"), crypto.SHA256)
	if !errors.Is(err, card.ErrWrongPIN) {
		t.Fatalf("got %v, want card.ErrWrongPIN", err)
	}
	// SoftHSM2 raises CKF_USER_PIN_COUNT_LOW after a failed login (and
	// never locks): 2 tries left, as for a CPS after one wrong PIN.
	if n, ok := card.TriesLeft(err); !ok || n != 2 {
		t.Errorf("tries left = %d, %v; want 2 (count low)", n, ok)
	}
	tok.SetPINPrompt(nil)
	if err := tok.Login(ctx); !errors.Is(err, card.ErrNoPIN) {
		t.Errorf("no prompt: got %v, want card.ErrNoPIN", err)
	}
	tok.SetPINPrompt(pin("1234"))
	if err := tok.Login(ctx); err != nil {
		t.Errorf("right PIN: %v", err)
	}
}

// TestSoftHSMTLSClientAuth: a TLS 1.2 handshake whose client key is the
// authentication key in SoftHSM2 is accepted by the gateway's trust store
// (TrustStore.VerifyClient, what the gateway runs on every connection).
func TestSoftHSMTLSClientAuth(t *testing.T) {
	tok := softToken(t, "doctor", pin("1234"))
	id := tlsHandshake(t, tok)
	if id.NationalID != "899700218896" {
		t.Errorf("the gateway saw %q", id.NationalID)
	}
}

// tlsHandshake runs one TLS 1.2 handshake with tok's authentication key
// against a server that verifies the client as the gateway does, and
// returns who the server saw.
func tlsHandshake(t testing.TB, tok card.Token) signature.Identity {
	t.Helper()
	ln, srv := tlsServer(t)
	got := make(chan signature.Identity, 1)
	errc := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer conn.Close()
		tc := conn.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			errc <- err
			return
		}
		var raw [][]byte
		for _, c := range tc.ConnectionState().PeerCertificates {
			raw = append(raw, c.Raw)
		}
		id, err := srv.VerifyClient(raw)
		if err != nil {
			errc <- err
			return
		}
		io.WriteString(conn, "ok")
		got <- id
	}()
	cert, err := tok.TLSCertificate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	b, _ := fixtures.ReadFile("pki/root.crt")
	roots.AppendCertsFromPEM(b)
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		Certificates: []tls.Certificate{cert}, RootCAs: roots, ServerName: "localhost",
		MaxVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("read: %v", err)
	}
	select {
	case id := <-got:
		return id
	case err := <-errc:
		t.Fatalf("server: %v", err)
	}
	return signature.Identity{}
}

func tlsServer(t testing.TB) (net.Listener, *signature.TrustStore) {
	t.Helper()
	srvCert, err := tls.LoadX509KeyPair(filepath.Join(fixtures.Dir(), "pki/server.crt"), filepath.Join(fixtures.Dir(), "pki/server.key"))
	if err != nil {
		t.Fatal(err)
	}
	ts := trust(t)
	ts.Now = time.Now
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAnyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ts
}

// signPDF signs a one-page prescription with key, its chain the persons
// CA, at signing time at.
func signPDF(t testing.TB, key card.Key, at time.Time) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	f.AddPage()
	f.SetFont("Helvetica", "", 12)
	f.Cell(40, 10, "Ordonnance RX1")
	var doc bytes.Buffer
	if err := f.Output(&doc); err != nil {
		t.Fatal(err)
	}
	cas, _ := fixtures.ReadFile("pki/persons-ca.crt")
	ca, _ := signature.ParseCertificates(cas)
	pdf, err := signature.SignPDF(t.Context(), doc.Bytes(), key, []*x509.Certificate{key.Certificate(), ca[0]},
		signature.PDFSignOptions{Now: func() time.Time { return at }, Name: "Dr test", Reason: "prescription RX1"})
	if err != nil {
		t.Fatalf("sign the PDF: %v", err)
	}
	return pdf
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    pkcs11.URI
		wantErr bool
	}{
		{"token", "pkcs11:token=CPS%20doctor;serial=42", pkcs11.URI{Token: "CPS doctor", Serial: "42"}, false},
		{"key id", "pkcs11:id=%E8%28;object=CPS_PRIV_SIG;type=private", pkcs11.URI{ID: []byte{0xE8, 0x28}, Object: "CPS_PRIV_SIG", Type: "private"}, false},
		{"slot and module", "pkcs11:slot-id=3?module-path=/usr/lib/x.so", pkcs11.URI{SlotID: "3", ModulePath: "/usr/lib/x.so"}, false},
		{"vendor", "pkcs11:x-foo=1", pkcs11.URI{}, false},
		{"no scheme", "token=CPS", pkcs11.URI{}, true},
		{"pin in uri", "pkcs11:token=CPS?pin-value=1234", pkcs11.URI{}, true},
		{"unknown", "pkcs11:colour=blue", pkcs11.URI{}, true},
		{"bad slot", "pkcs11:slot-id=x", pkcs11.URI{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pkcs11.ParseURI(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (got.Token != tt.want.Token || got.Serial != tt.want.Serial || !bytes.Equal(got.ID, tt.want.ID) ||
				got.Object != tt.want.Object || got.SlotID != tt.want.SlotID || got.ModulePath != tt.want.ModulePath || got.Type != tt.want.Type) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSoftHSMTokenByURI: a token named by URI opens; a URI naming no token
// is card.ErrNoCard; a module that does not load is ErrModule.
func TestSoftHSMTokenByURI(t *testing.T) {
	mod := testenv.SoftHSM(t, "nurse", "1234")
	u, _ := pkcs11.ParseURI("pkcs11:token=CPS%20nurse")
	tok, err := pkcs11.Open(t.Context(), pkcs11.Config{Module: mod, Token: u})
	if err != nil {
		t.Fatal(err)
	}
	info, err := tok.Info(t.Context())
	tok.Close()
	if err != nil || info.Backend != card.BackendPKCS11 || info.Holder.ADELI == "" {
		t.Errorf("info = %+v, %v", info, err)
	}
	u, _ = pkcs11.ParseURI("pkcs11:token=nobody")
	if _, err := pkcs11.Open(t.Context(), pkcs11.Config{Module: mod, Token: u}); !errors.Is(err, card.ErrNoCard) {
		t.Errorf("no such token: got %v, want card.ErrNoCard", err)
	}
	if _, err := pkcs11.Open(t.Context(), pkcs11.Config{Module: "/nonexistent/lib.so"}); !errors.Is(err, pkcs11.ErrModule) {
		t.Errorf("no module: got %v, want ErrModule", err)
	}
}
