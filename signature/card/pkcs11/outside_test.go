package pkcs11_test

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// backends open the doctor's card through each signing backend: fsegate's
// APDUs through pcscd and a vpcd reader holding the virtual card, and
// SoftHSM2's PKCS#11 module holding the same keys.
var backends = []struct {
	name string
	open func(t *testing.T) card.Token
}{
	{"pcsc", func(t *testing.T) card.Token {
		v, err := dev.Card("doctor", virtual.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := testenv.InsertCard(t, v)
		c, err := card.OpenPCSC(t.Context(), r.Name, card.Options{PIN: pin("1234")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}},
	{"pkcs11-softhsm2", func(t *testing.T) card.Token { return softToken(t, "doctor", pin("1234")) }},
}

// TestOutsideVerifiersBatch: a batch of care sheets and a prescription
// signed through each backend are accepted by our verifier, xmlsec1 and
// xadesjs (sheets) and poppler's pdfsig (prescription).
func TestOutsideVerifiersBatch(t *testing.T) {
	base := sheet(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			key, err := b.open(t).SigningKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			v := &signature.Verifier{Trust: trust(t), Now: func() time.Time { return now }}
			so := signature.SignOptions{Now: func() time.Time { return now.Add(-time.Hour) }}
			var files []string
			for i := range 8 {
				// Sheets that differ in number, amount and text to canonicalise.
				doc := bytes.Replace(base, []byte("<Number>000100001</Number>"), fmt.Appendf(nil, "<Number>%09d</Number>", 300001+i), 1)
				doc = bytes.Replace(doc, []byte("<Billed>58.42"), fmt.Appendf(nil, "<Billed>%d.%02d", 20+i, 7*i), 1)
				doc = bytes.Replace(doc, []byte("</CareSheet>"), fmt.Appendf(nil, "<!-- lot %d: é & <> -->\n</CareSheet>", i), 1)
				signed, err := so.Sign(ctx, doc, key, []*x509.Certificate{key.Certificate()})
				if err != nil {
					t.Fatalf("sheet %d: %v", i, err)
				}
				if _, err := v.Verify(signed); err != nil {
					t.Fatalf("sheet %d: our verifier: %v", i, err)
				}
				f := filepath.Join(dir, fmt.Sprintf("sheet-%d.xml", i))
				if err := os.WriteFile(f, signed, 0o600); err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
			}
			for name, got := range map[string]map[string]error{
				"xmlsec1": testenv.Xmlsec1(t, now, files...),
				"xadesjs": testenv.Xadesjs(t, files...),
			} {
				for _, f := range files {
					if got[f] != nil {
						t.Errorf("%s refused %s: %v", name, filepath.Base(f), got[f])
					}
				}
			}

			signed := signPDF(t, key, time.Now())
			f := filepath.Join(dir, "rx.pdf")
			if err := os.WriteFile(f, signed, 0o600); err != nil {
				t.Fatal(err)
			}
			out := testenv.Pdfsig(t, f)
			for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed"} {
				if !strings.Contains(out, want) {
					t.Errorf("pdfsig output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
