package signature

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"

	"github.com/fsegate/fsegate/internal/testenv"
)

func samplePDF(t testing.TB) []byte {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	f.SetAttachments([]fpdf.Attachment{{Filename: "prescription.json", Content: []byte(`{"id":"RX1"}`)}})
	f.SetKeywords("RX1", true)
	f.AddPage()
	f.SetFont("Helvetica", "", 12)
	f.Cell(40, 10, "Ordonnance RX1")
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func signSamplePDF(t testing.TB, cardName string) []byte {
	t.Helper()
	s, c := card(t, cardName, "sig")
	chain := certs(c)
	if ca := loadCert(t, "pki/persons-ca.crt"); c.CheckSignatureFrom(ca) == nil {
		chain = append(chain, ca)
	}
	out, err := SignPDF(t.Context(), samplePDF(t), s, chain,
		PDFSignOptions{Now: fixedClock(vectorSigningTime), Name: "Dr test", Reason: "prescription"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignVerifyPDF(t *testing.T) {
	signed := signSamplePDF(t, "doctor")
	v := &Verifier{Trust: devTrust(t, vectorNow), Now: fixedClock(vectorNow)}
	res, err := v.VerifyPDF(signed)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if res.Signer.NationalID != "899700218896" || string(res.Attachments["prescription.json"]) != `{"id":"RX1"}` || res.Keywords != "RX1" {
		t.Errorf("result = %+v", res)
	}
	tests := []struct {
		name string
		data []byte
		want Code
	}{
		{"appended update", append(bytes.Clone(signed), "\n% appended\n"...), CodePDFIncompleteCover},
		{"tampered", bytes.Replace(signed, []byte("/BaseFont /Helvetica"), []byte("/BaseFont /Helvetico"), 1), CodeSignatureInvalid},
		{"revoked", signSamplePDF(t, "revoked"), CodeCertRevoked},
		{"untrusted", signSamplePDF(t, "impostor"), CodeCertUntrusted},
		{"unsigned", samplePDF(t), CodeSignatureMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.VerifyPDF(tt.data)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// TestPdfsigInterop: poppler's pdfsig reports our signature valid and the
// certificate trusted once the test root is in its NSS database.
func TestPdfsigInterop(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rx.pdf")
	os.WriteFile(file, signSamplePDF(t, "doctor"), 0o600)
	out := testenv.Pdfsig(t, file)
	for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed"} {
		if !strings.Contains(out, want) {
			t.Errorf("pdfsig output lacks %q:\n%s", want, out)
		}
	}
}

func BenchmarkVerifyPDF(b *testing.B) {
	signed := signSamplePDF(b, "doctor")
	v := &Verifier{Trust: devTrust(b, vectorNow), Now: fixedClock(vectorNow)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.VerifyPDF(signed); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
