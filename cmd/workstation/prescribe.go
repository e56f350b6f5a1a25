package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/go-pdf/fpdf"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature"
)

func init() {
	program.Add(&cli.Command{Name: "prescribe", Summary: "lay out a prescription as a PDF and sign it with the card", Run: runPrescribe})
}

const prescribeUsage = `workstation prescribe — lay out a prescription as a PDF and sign it with the card

Usage:
  workstation prescribe -o OUT.pdf [--pin-file F] [--reader NAME] [--ca FILE] RX.json

RX.json holds the structured prescription:

  {"id": "RX-2026-000123", "date": "2026-11-20",
   "patient": {"name": "DURAND Paul", "birth_date": "1955-08-14", "nir": "155087512345678"},
   "lines": [{"text": "AMOXICILLINE 1 g", "dosage": "1 matin et soir", "duration": "6 jours",
              "cip13": "3400930000021", "quantity": 2, "renewals": 0}]}

The gateway keeps a prescription only from a prescriber (doctor, dentist,
midwife) and only when it names the patient's NIR and, on each line, the
quantity delivered at each dispensation; a line names its drug by CIP13
or by generic group (group), or neither, and its renewals. Pharmacy
claims are then checked against it line by line (docs/care-sheet.md).

The prescriber is the holder of the card (national id, name, profession from
its signature certificate). The PDF is one page: prescriber, patient, lines,
date, and a QR code carrying the prescription id and the SHA-256 of the
structured data, which is embedded in the PDF (prescription.json). The whole
file is signed with the card's signature key (detached CMS, pdfsign).
'gateway verify' checks it.

Exit status: 0 when the prescription is written, 1 otherwise, 2 on misuse.

Examples:
  workstation prescribe -o rx.pdf rx.json
  FSEGATE_DEV=1 FSEGATE_VIRTUAL_CARD=doctor workstation prescribe -o rx.pdf rx.json
`

// prescription is the structured data of a prescription, embedded as
// prescription.json.
type prescription struct {
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
	Lines []rxLine `json:"lines"`
}

// rxLine is one line of a prescription: a drug by CIP13 or generic group
// (or neither: an act, a device by its text), the quantity delivered at
// each dispensation (boxes, acts) and the number of renewals.
type rxLine struct {
	Text     string `json:"text"`
	Dosage   string `json:"dosage,omitempty"`
	Duration string `json:"duration,omitempty"`
	CIP13    string `json:"cip13,omitempty"`
	Group    string `json:"group,omitempty"`
	Quantity int    `json:"quantity,omitempty"`
	Renewals int    `json:"renewals,omitempty"`
}

var rxIDRe = regexp.MustCompile(`^[A-Za-z0-9-]{4,40}$`)

func runPrescribe(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "prescribe", prescribeUsage)
	cf := addCardFlags(fs)
	out := fs.String("o", "", "write the signed PDF to `OUT` (required)")
	caFile := fs.String("ca", "", "intermediate CA certificates (PEM) to include in the signature")
	nowFlag := fs.String("now", "", "sign as if at this time (RFC 3339); default: now")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		return cli.Usagef("prescribe: give -o OUT.pdf and one RX.json")
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var rx prescription
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rx); err != nil {
		return fmt.Errorf("prescribe: %s: %w", fs.Arg(0), err)
	}
	switch {
	case !rxIDRe.MatchString(rx.ID):
		return fmt.Errorf("prescribe: id %q: 4 to 40 letters, digits or dashes", rx.ID)
	case rx.Patient.Name == "":
		return errors.New("prescribe: patient.name is required")
	case len(rx.Lines) == 0:
		return errors.New("prescribe: no lines")
	}
	if rx.Date == "" {
		rx.Date = now.Format(time.DateOnly)
	}

	c, err := cf.open(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close()
	sigCert, _, err := c.Certificates(ctx)
	if err != nil {
		return cardHint(err)
	}
	id := signature.IdentityOf(sigCert)
	if rx.Prescriber.NationalID != "" && rx.Prescriber.NationalID != id.NationalID {
		return cli.WithHint(errors.New("prescribe: the prescription names another prescriber than the card's holder"),
			"sign with the prescriber's card, or leave prescriber out of RX.json")
	}
	rx.Prescriber.NationalID, rx.Prescriber.Name, rx.Prescriber.Profession = id.NationalID, id.Name(), id.Profession
	data, err := json.MarshalIndent(rx, "", "  ")
	if err != nil {
		return err
	}
	doc, err := layoutPrescription(&rx, data, now)
	if err != nil {
		return err
	}
	chain := []*x509.Certificate{sigCert}
	var cas []*x509.Certificate
	if *caFile != "" {
		pemBytes, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		if cas, err = signature.ParseCertificates(pemBytes); err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
	} else if env.Dev() {
		pemBytes, _ := fixtures.ReadFile("pki/persons-ca.crt")
		cas, _ = signature.ParseCertificates(pemBytes)
	}
	for _, ca := range cas {
		if sigCert.CheckSignatureFrom(ca) == nil {
			chain = append(chain, ca)
		}
	}
	key, err := c.SigningKey(ctx)
	if err != nil {
		return cardHint(err)
	}
	signed, err := signature.SignPDF(ctx, doc, key, chain, signature.PDFSignOptions{
		Now: func() time.Time { return now }, Name: id.Name(), Reason: "prescription " + rx.ID,
	})
	if err != nil {
		return cardHint(err)
	}
	if err := os.WriteFile(*out, signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "prescription %s signed -> %s\n", rx.ID, *out)
	return nil
}

// rxPayload is what the QR code carries (and the PDF's Keywords):
// FSEGATE-RX:1;<id>;<base64url SHA-256 of prescription.json>.
func rxPayload(id string, data []byte) string {
	sum := sha256.Sum256(data)
	return "FSEGATE-RX:1;" + id + ";" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func layoutPrescription(rx *prescription, data []byte, now time.Time) ([]byte, error) {
	payload := rxPayload(rx.ID, data)
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
		return nil, fmt.Errorf("prescribe: QR code: %w", err)
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
		return nil, fmt.Errorf("prescribe: layout: %w", err)
	}
	return b.Bytes(), nil
}
