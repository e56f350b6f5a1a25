package main

import (
	"crypto"
	"crypto/x509"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/testenv/pdfbomb"
	"github.com/fsegate/fsegate/signature"
)

// signedPrescription signs doc with the doctor card's signature key.
func signedPrescription(t testing.TB, doc []byte) []byte {
	t.Helper()
	return signPDFWith(t, doc, cardKey(t, "pki/cards/doctor-sig.key"), readCert(t, "pki/cards/doctor-sig.crt"))
}

// signPDFWith signs doc with key, whose certificate the persons CA issued.
func signPDFWith(t testing.TB, doc []byte, key crypto.Signer, cert *x509.Certificate) []byte {
	t.Helper()
	chain := []*x509.Certificate{cert, readCert(t, "pki/persons-ca.crt")}
	out, err := signature.SignPDF(t.Context(), doc, signature.MessageSigner{Signer: key}, chain,
		signature.PDFSignOptions{Now: func() time.Time { return time.Now().Add(-time.Minute) }, Reason: "prescription"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPrescriptionEmbeddedBomb: a signed prescription of about 500 KB whose
// 30 embedded files inflate to 16 MiB each is refused
// PDF_EMBEDDED_TOO_LARGE over HTTPS without the gateway inflating them
// (it took the process from 37 to 729 MB before); a prescription within
// the limits is kept under the id of its prescription.json.
func TestPrescriptionEmbeddedBomb(t *testing.T) {
	m := startGateway(t)
	c := newClient(t, m, "doctor")
	rx := pdfbomb.File{Name: "prescription.json", Data: []byte(`{"id":"RXBOMB1","date":"` + time.Now().Format(time.DateOnly) + `","patient":{"nir":"295109912611193"},"lines":[{"text":"PARACETAMOL 1 g","quantity":2}]}`)}
	bomb := signedPrescription(t, pdfbomb.Build(pdfbomb.Options{Files: []pdfbomb.File{rx}, Zeros: 30, ZeroSize: 16 << 20}))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := c.SendPrescription(t.Context(), bomb)
	runtime.ReadMemStats(&after)
	wantRefused(t, err, http.StatusRequestEntityTooLarge, "PDF_EMBEDDED_TOO_LARGE")
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d KB sent, %d KB allocated by the process (client, TLS, intake, verification)", len(bomb)>>10, alloc>>10)
	if alloc > 64<<20 {
		t.Errorf("the intake allocated %d MiB for the bomb, want under 64 MiB", alloc>>20)
	}

	ok := signedPrescription(t, pdfbomb.Build(pdfbomb.Options{Files: []pdfbomb.File{rx}, Zeros: 2, ZeroSize: 64 << 10}))
	got, err := c.SendPrescription(t.Context(), ok)
	if err != nil {
		t.Fatalf("a prescription within the limits: %v", err)
	}
	if want := `"id":"RXBOMB1"`; !strings.Contains(string(got), want) {
		t.Errorf("got %s, want %s", got, want)
	}
}
