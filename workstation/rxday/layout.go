package rxday

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/go-pdf/fpdf"
)

// Prescription is the structured data of a prescription, embedded in its
// PDF as prescription.json (the gateway reads it: gateway/rx.Content).
type Prescription struct {
	ID         string `json:"id"`
	Date       string `json:"date"`
	Prescriber struct {
		NationalID string `json:"national_id"`
		Name       string `json:"name"`
		Profession string `json:"profession"`
	} `json:"prescriber"`
	Patient struct {
		Name      string `json:"name"`
		BirthDate string `json:"birth_date,omitempty"`
		NIR       string `json:"nir,omitempty"`
	} `json:"patient"`
	Lines []Line `json:"lines"`
}

// Line is one line of a prescription: a drug by CIP13 or generic group
// (or neither: an act, a device by its text), the quantity delivered at
// each dispensation (boxes, acts) and the number of renewals.
type Line struct {
	Text     string `json:"text"`
	Dosage   string `json:"dosage,omitempty"`
	Duration string `json:"duration,omitempty"`
	CIP13    string `json:"cip13,omitempty"`
	Group    string `json:"group,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
	Renewals int    `json:"renewals,omitempty"`
}

// payload is what the QR code carries (and the PDF's Keywords):
// FSEGATE-RX:1;<id>;<base64url SHA-256 of prescription.json>.
func payload(id string, data []byte) string {
	sum := sha256.Sum256(data)
	return "FSEGATE-RX:1;" + id + ";" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Layout lays a prescription out as a one-page PDF: prescriber, patient,
// lines, date, and a QR code carrying the prescription id and the SHA-256
// of data (its structured data, embedded as prescription.json). The PDF is
// to be signed whole (signature.SignPDF).
func Layout(rx *Prescription, data []byte, now time.Time) ([]byte, error) {
	payload := payload(rx.ID, data)
	f := fpdf.New("P", "mm", "A4", "")
	f.SetCreationDate(now)
	f.SetModificationDate(now)
	f.SetTitle("Ordonnance "+rx.ID, true)
	f.SetKeywords(payload, false)
	f.SetCreator("fsegate workstation", false)
	f.SetAttachments([]fpdf.Attachment{{Filename: "prescription.json", Content: data, Description: "structured prescription"}})
	tr := f.UnicodeTranslatorFromDescriptor("")
	f.AddPage()
	f.SetFont("Helvetica", "B", 14)
	f.Cell(0, 8, tr(rx.Prescriber.Name))
	f.Ln(7)
	f.SetFont("Helvetica", "", 11)
	f.Cell(0, 6, tr(rx.Prescriber.Profession+" - n° "+rx.Prescriber.NationalID))
	f.Ln(14)
	f.Cell(0, 6, tr("Le "+rx.Date))
	f.Ln(8)
	f.SetFont("Helvetica", "B", 11)
	patient := rx.Patient.Name
	if rx.Patient.BirthDate != "" {
		patient += ", né(e) le " + rx.Patient.BirthDate
	}
	f.Cell(0, 6, tr(patient))
	f.Ln(12)
	f.SetFont("Helvetica", "", 11)
	for i, l := range rx.Lines {
		f.MultiCell(120, 6, tr(fmt.Sprintf("%d. %s", i+1, l.Text)), "", "L", false)
		detail := l.Dosage
		if l.Duration != "" {
			detail += " pendant " + l.Duration
		}
		if l.Quantity > 0 {
			detail += fmt.Sprintf(" (QSP %d)", l.Quantity)
		}
		if detail != "" {
			f.SetX(16)
			f.MultiCell(115, 6, tr(detail), "", "L", false)
		}
		f.Ln(3)
	}
	// The 2D code, drawn as vector modules in the top right corner.
	code, err := qr.Encode(payload, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("prescription layout: QR code: %w", err)
	}
	const x0, y0, size = 160.0, 10.0, 40.0
	n := code.Bounds().Dx()
	m := size / float64(n)
	f.SetFillColor(0, 0, 0)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r == 0 {
				f.Rect(x0+float64(x)*m, y0+float64(y)*m, m, m, "F")
			}
		}
	}
	f.SetXY(x0, y0+size+1)
	f.SetFont("Helvetica", "", 8)
	f.Cell(size, 4, tr(rx.ID))
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("prescription layout: %w", err)
	}
	return b.Bytes(), nil
}
