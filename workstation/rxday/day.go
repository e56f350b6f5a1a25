package rxday

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"time"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
)

// Day gives a pharmacist's generated sheets the prescriptions of a real
// day, in turn: one on a prescription carried by fsegate, signed by a
// generated prescriber (the test doctor's card keys, RPPS 99700218896);
// one on a national e-prescription number; one on paper, with a generated
// scan (its SCOR piece).
type Day struct {
	now    time.Time
	r      *rand.Rand
	seed   uint64
	key    crypto.Signer
	chain  []*x509.Certificate
	groups map[string][]string // group → CIP13s
	group  map[string]string   // CIP13 → group
	n      int
}

// PrescriberRPPS is the RPPS of the generated prescriber (the test doctor).
const PrescriberRPPS = "99700218896"

// Extra is what goes with a sheet: the signed prescription it claims
// against, or its scan.
type Extra struct {
	Prescription   []byte // the signed PDF of a carried prescription
	PrescriptionID string
	Scan           []byte // the SCOR piece of a paper prescription (JPEG)
}

// Prescriber is the generated prescriber's signature key and its
// certificate chain: the card keys of the professional whose RPPS is
// PrescriberRPPS (the fixtures' test doctor: fixtures/dev.Prescriber).
type Prescriber struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// NewDay makes a day whose carried prescriptions p signs and whose
// substitutions draw from the generic groups of generics (a CSV of
// cip13,group with a header, '#' comments: fixtures/generics.csv); r draws
// the day (seed names the prescriptions), now dates the signatures.
func NewDay(now time.Time, r *rand.Rand, seed uint64, p Prescriber, generics io.Reader) (*Day, error) {
	d := &Day{now: now, r: r, seed: seed, key: p.Key, chain: p.Chain, groups: map[string][]string{}, group: map[string]string{}}
	cr := csv.NewReader(generics)
	cr.Comment = '#'
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	for _, rec := range recs[1:] {
		d.group[rec[0]] = rec[1]
		d.groups[rec[1]] = append(d.groups[rec[1]], rec[0])
	}
	return d, nil
}

// Attach gives sheet s (the i-th of the day) its prescription reference
// and returns what goes with it.
func (d *Day) Attach(ctx context.Context, s *fse.Sheet, i int) (Extra, error) {
	d.n++
	ref := &fse.Prescription{Prescriber: PrescriberRPPS}
	n := 0 // the prescription's lines: the sheet's, dispensing fees left out
	for j := range s.Lines {
		if s.Lines[j].Kind == fse.KindFee {
			continue
		}
		n++
		ref.Dispenses = append(ref.Dispenses, fse.Dispense{Line: j + 1, RxLine: n})
	}
	s.Prescription = ref
	switch (d.n - 1) % 3 {
	case 0:
		ref.Kind = fse.RxCarried
		ref.ID = fmt.Sprintf("RX-%d-%05d", d.seed, i+1)
		pdf, err := d.carried(ctx, s, ref.ID)
		return Extra{Prescription: pdf, PrescriptionID: ref.ID}, err
	case 1:
		ref.Kind, ref.Dispenses = fse.RxNational, nil
		ref.ID = fmt.Sprintf("%016X", d.r.Uint64())
		return Extra{}, nil
	}
	ref.Kind, ref.Dispenses = fse.RxPaper, nil
	ref.ID = fmt.Sprintf("P-%d-%05d", d.seed, i+1)
	return Extra{Scan: d.scan()}, nil
}

// carried writes the prescription the sheet dispenses, signed by the
// generated prescriber: each line as dispensed, some by their generic
// group or by another drug of it (the pharmacy substitutes), quantities at
// least those dispensed, some renewals.
func (d *Day) carried(ctx context.Context, s *fse.Sheet, id string) ([]byte, error) {
	written := s.CareDate.AddDays(-d.r.IntN(15))
	rx := Prescription{ID: id, Date: written.String()}
	rx.Prescriber.NationalID = "8" + PrescriberRPPS
	rx.Prescriber.Name = "Dr MARTIN Claire"
	rx.Prescriber.Profession = "Médecin"
	rx.Patient.Name = "Patient " + s.Patient.NIR[:1] + "."
	rx.Patient.BirthDate = s.Patient.BirthDate.String()
	rx.Patient.NIR = s.Patient.NIR
	for _, l := range s.Lines {
		if l.Kind == fse.KindFee {
			continue
		}
		ln := Line{Text: l.Label, Dosage: "selon posologie", Duration: "1 mois", CIP13: l.CIP13, Quantity: l.Quantity + d.r.IntN(2), Renewals: d.r.IntN(3)}
		if g := d.group[l.CIP13]; g != "" {
			switch d.r.IntN(3) {
			case 0:
				ln.CIP13, ln.Group = "", g
			case 1:
				for _, c := range d.groups[g] {
					if c != l.CIP13 {
						ln.CIP13 = c
					}
				}
			}
		}
		rx.Lines = append(rx.Lines, ln)
	}
	data, err := json.MarshalIndent(rx, "", "  ")
	if err != nil {
		return nil, err
	}
	at := written.Time(time.UTC).Add(9 * time.Hour)
	if at.After(d.now) {
		at = d.now.Add(-time.Minute)
	}
	doc, err := Layout(&rx, data, at)
	if err != nil {
		return nil, err
	}
	return signature.SignPDF(ctx, doc, d.key, d.chain, signature.PDFSignOptions{
		Now: func() time.Time { return at }, Name: rx.Prescriber.Name, Reason: "prescription " + id,
	})
}

// scan draws a scanned paper prescription: an A4 page at 100 dpi, grey
// paper, a letterhead and handwriting-like lines, as a JPEG.
func (d *Day) scan() []byte {
	const w, h = 827, 1169
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(236 + d.r.IntN(12))
	}
	ink := func(x0, y0, x1, y1 int) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				img.SetGray(x, y, color.Gray{Y: uint8(30 + d.r.IntN(40))})
			}
		}
	}
	ink(60, 60, 420, 84)   // prescriber
	ink(60, 100, 300, 112) // address
	ink(560, 180, 760, 194)
	y := 300
	for l := 0; l < 3+d.r.IntN(5); l++ {
		ink(90, y, 90+200+d.r.IntN(400), y+14)
		ink(120, y+30, 120+150+d.r.IntN(300), y+40)
		y += 90
	}
	ink(480, 1000, 720, 1060) // signature
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 70})
	return b.Bytes()
}
