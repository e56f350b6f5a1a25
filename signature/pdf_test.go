package signature

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"

	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/fixtures/testenv/pdfbomb"
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
	return signPDF(t, samplePDF(t), cardName)
}

func signPDF(t testing.TB, doc []byte, cardName string) []byte {
	t.Helper()
	s, c := card(t, cardName, "sig")
	chain := certs(c)
	if ca := loadCert(t, "pki/persons-ca.crt"); c.CheckSignatureFrom(ca) == nil {
		chain = append(chain, ca)
	}
	out, err := SignPDF(t.Context(), doc, s, chain,
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
	if res.Signer.NationalID != "899700218896" || res.Keywords != "RX1" {
		t.Errorf("result = %+v", res)
	}
	if b, err := res.Attachment("prescription.json"); err != nil || string(b) != `{"id":"RX1"}` {
		t.Errorf("attachment prescription.json: got %q, %v", b, err)
	}
	if _, err := res.Attachment("other.json"); !errors.Is(err, ErrNoAttachment) {
		t.Errorf("attachment other.json: got %v, want ErrNoAttachment", err)
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

// TestVerifyPDFEmbeddedFiles: the embedded files are looked at only once
// the signature and its certificate are good, measured as they inflate
// without being kept, and refused past MaxPDFEmbeddedFiles files or
// MaxPDFEmbedded bytes together. The bomb of the hardening issue (30 files
// of 16 MiB of zeros in about 500 KB) took ~500 MB of allocations here.
func TestVerifyPDFEmbeddedFiles(t *testing.T) {
	v := &Verifier{Trust: devTrust(t, vectorNow), Now: fixedClock(vectorNow)}
	rx := pdfbomb.File{Name: "prescription.json", Data: []byte(`{"id":"RX1"}`)}
	tests := []struct {
		name string
		card string
		o    pdfbomb.Options
		want Code
	}{
		{"30 files of 16 MiB", "doctor", pdfbomb.Options{Files: []pdfbomb.File{rx}, Zeros: 30, ZeroSize: 16 << 20}, CodePDFEmbeddedTooLarge},
		{"the bomb signed by an untrusted card", "impostor", pdfbomb.Options{Files: []pdfbomb.File{rx}, Zeros: 30, ZeroSize: 16 << 20}, CodeCertUntrusted},
		{"prescription.json of 4 MiB", "doctor", pdfbomb.Options{Files: []pdfbomb.File{{Name: "prescription.json", Data: make([]byte, 4<<20)}}}, CodePDFEmbeddedTooLarge},
		{"two files just over the limit together", "doctor", pdfbomb.Options{Files: []pdfbomb.File{rx}, Zeros: 2, ZeroSize: MaxPDFEmbedded / 2}, CodePDFEmbeddedTooLarge},
		{"too many files", "doctor", pdfbomb.Options{Zeros: MaxPDFEmbeddedFiles + 1, ZeroSize: 10}, CodePDFEmbeddedTooLarge},
		{"two files of one name", "doctor", pdfbomb.Options{Files: []pdfbomb.File{rx, rx}}, CodePDFMalformed},
		{"within the limits", "doctor", pdfbomb.Options{Files: []pdfbomb.File{rx}, Zeros: 3, ZeroSize: 256 << 10}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed := signPDF(t, pdfbomb.Build(tt.o), tt.card)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res, err := v.VerifyPDF(signed)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d KB signed, %d KB allocated by VerifyPDF", len(signed)>>10, alloc>>10)
			if alloc > 32<<20 {
				t.Errorf("VerifyPDF allocated %d MiB, want under 32 MiB", alloc>>20)
			}
			if tt.want != "" {
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, err := res.Attachment("prescription.json"); err != nil || !bytes.Equal(b, rx.Data) {
				t.Errorf("attachment: got %q, %v", b, err)
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
