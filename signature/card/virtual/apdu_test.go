package virtual

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/signature/card/internal/apdu"
)

// TestClientVocabulary sends the virtual card the commands the card client
// builds (package apdu's builders) and reads its answers as the client
// does: the two ends speak one vocabulary. With GetResponse, every answer
// with data comes through 61 xx and GET RESPONSE.
func TestClientVocabulary(t *testing.T) {
	p, err := LoadProfileFS(fixtures.FS(), "cards/doctor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, getResponse := range []bool{false, true} {
		c, err := New(p, Options{GetResponse: getResponse})
		if err != nil {
			t.Fatal(err)
		}
		send := func(cmd apdu.Command) ([]byte, apdu.SW) {
			t.Helper()
			data, sw, ok := apdu.SplitResponse(c.APDU(cmd.Bytes()))
			if !ok {
				t.Fatalf("% X: no status word", cmd.Bytes())
			}
			for {
				n, more := sw.MoreData()
				if !more {
					break
				}
				var part []byte
				part, sw, _ = apdu.SplitResponse(c.APDU(apdu.GetResponse(cmd.CLA, n).Bytes()))
				data = append(data, part...)
			}
			return data, sw
		}
		must := func(cmd apdu.Command) []byte {
			t.Helper()
			data, sw := send(cmd)
			if !sw.Success() {
				t.Fatalf("% X: %v, want 90 00", cmd.Bytes(), sw)
			}
			return data
		}
		must(apdu.SelectAID(0, apdu.AIDIAS))

		fcp := must(apdu.SelectFID(0, apdu.FIDSignatureCert))
		inner, _ := apdu.Find(fcp, apdu.TagFCP)
		size, ok := apdu.Find(inner, apdu.TagFCPSize)
		if !ok || len(size) != 2 || int(size[0])<<8|int(size[1]) != len(p.sigCert) {
			t.Fatalf("FCP % X: size % X, want %d", fcp, size, len(p.sigCert))
		}
		var cert []byte
		for len(cert) < len(p.sigCert) {
			cert = append(cert, must(apdu.ReadBinary(0, len(cert), min(0xE7, len(p.sigCert)-len(cert))))...)
		}
		if !bytes.Equal(cert, p.sigCert) {
			t.Fatalf("READ BINARY: got %d bytes unlike the certificate", len(cert))
		}

		tries := func() int {
			t.Helper()
			r := must(apdu.GetDataSDO(0, apdu.SDOClassCHV, apdu.PINRef, apdu.TagDOCP))
			v, _ := apdu.Find(r, apdu.TagGetDataSDO)
			if len(v) < 5 {
				t.Fatalf("GET DATA: % X", r)
			}
			docp, _ := apdu.Find(v[4:], apdu.TagDOCP)
			b, ok := apdu.Find(docp, apdu.TagTriesLeft)
			if !ok || len(b) != 1 {
				t.Fatalf("GET DATA: no tries left in % X", r)
			}
			return int(b[0])
		}
		if got := tries(); got != p.PINTries {
			t.Fatalf("tries left %d, want %d", got, p.PINTries)
		}
		if _, sw := send(apdu.Verify(0, apdu.PINRef, []byte("0000"))); !sw.Is(apdu.WrongPIN) {
			t.Fatalf("wrong PIN: %v, want 63 Cx", sw)
		} else if n, _ := sw.TriesLeft(); n != p.PINTries-1 || tries() != n {
			t.Fatalf("wrong PIN: %d tries left, want %d", n, p.PINTries-1)
		}

		digest := sha256.Sum256([]byte("feuille de soins"))
		if _, sw := send(apdu.PSOCDS(0)); !sw.Is(apdu.Conditions) {
			t.Fatalf("PSO CDS with nothing set: %v, want 69 85", sw)
		}
		must(apdu.Verify(0, apdu.PINRef, []byte(p.PIN)))
		must(apdu.MSESetFor(0, apdu.TemplateHT, 0, apdu.AlgSHA256))
		must(apdu.MSESetFor(0, apdu.TemplateDST, byte(p.Signature.KeyRef), apdu.AlgSHA256RSA))
		must(apdu.PSOHash(0, apdu.T1(apdu.TagHashCode, digest[:])))
		sig := must(apdu.PSOCDS(0))
		if err := rsa.VerifyPKCS1v15(&p.sigKey.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("PSO CDS (GetResponse %v): %v", getResponse, err)
		}
	}
}
