package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
)

// rxDay gives a pharmacist's generated sheets the prescriptions of a real
// day: a third on prescriptions carried by fsegate, signed by a generated
// prescriber (the test doctor's card keys, whose RPPS is 99700218896) and
// written beside them as RX-….rx.pdf (batch sends them first); a third on
// national e-prescription numbers; a third on paper, with a generated
// scan beside the sheet as SHEET.scor.jpg (batch sends it after the
// sheet).
type rxDay struct {
	dir    string
	now    time.Time
	r      *rand.Rand
	seed   uint64
	key    crypto.Signer
	chain  []*x509.Certificate
	groups map[string][]string // group → CIP13s
	group  map[string]string   // CIP13 → group
	n      int
}

// prescriberRPPS is the RPPS of the generated prescriber (the test doctor).
const prescriberRPPS = "99700218896"

func newRxDay(dir string, now time.Time, r *rand.Rand, seed uint64) (*rxDay, error) {
	d := &rxDay{dir: dir, now: now, r: r, seed: seed, groups: map[string][]string{}, group: map[string]string{}}
	kb, err := fixtures.ReadFile("pki/cards/doctor-sig.key")
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, fmt.Errorf("generate: the prescriber's key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("generate: the prescriber's key: %w", err)
	}
	d.key = k.(crypto.Signer)
	for _, name := range []string{"pki/cards/doctor-sig.crt", "pki/persons-ca.crt"} {
		b, err := fixtures.ReadFile(name)
		if err != nil {
			return nil, err
		}
		cs, err := signature.ParseCertificates(b)
		if err != nil {
			return nil, err
		}
		d.chain = append(d.chain, cs...)
	}
	gb, err := fixtures.ReadFile("generics.csv")
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(bytes.NewReader(gb))
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

// attach gives sheet s (the i-th) its prescription reference and writes
// what goes beside it: the signed prescription, or the scan.
func (d *rxDay) attach(ctx context.Context, s *fse.Sheet, i int, sheetFile string) error {
	d.n++
	ref := &fse.Prescription{Prescriber: prescriberRPPS}
	for j := range s.Lines {
		ref.Dispenses = append(ref.Dispenses, fse.Dispense{Line: j + 1, RxLine: j + 1})
	}
	s.Prescription = ref
	switch (d.n - 1) % 3 {
	case 0:
		ref.Kind = fse.RxCarried
		ref.ID = fmt.Sprintf("RX-%d-%05d", d.seed, i+1)
		return d.carried(ctx, s, ref.ID)
	case 1:
		ref.Kind, ref.Dispenses = fse.RxNational, nil
		ref.ID = fmt.Sprintf("%016X", d.r.Uint64())
		return nil
	}
	ref.Kind, ref.Dispenses = fse.RxPaper, nil
	ref.ID = fmt.Sprintf("P-%d-%05d", d.seed, i+1)
	scan := filepath.Join(d.dir, trimExt(filepath.Base(sheetFile))+".scor.jpg")
	return os.WriteFile(scan, d.scan(), 0o644)
}

// carried writes the prescription the sheet dispenses, signed by the
// generated prescriber: each line as dispensed, some by their generic
// group or by another drug of it (the pharmacy substitutes), quantities at
// least those dispensed, some renewals.
func (d *rxDay) carried(ctx context.Context, s *fse.Sheet, id string) error {
	written := s.CareDate.AddDays(-d.r.IntN(15))
	rx := prescription{ID: id, Date: written.String()}
	rx.Prescriber.NationalID = "8" + prescriberRPPS
	rx.Prescriber.Name = "Dr MARTIN Claire"
	rx.Prescriber.Profession = "Médecin"
	rx.Patient.Name = "Patient " + s.Patient.NIR[:1] + "."
	rx.Patient.BirthDate = s.Patient.BirthDate.String()
	rx.Patient.NIR = s.Patient.NIR
	for _, l := range s.Lines {
		ln := rxLine{Text: l.Label, Dosage: "selon posologie", Duration: "1 mois", CIP13: l.CIP13, Quantity: l.Quantity + d.r.IntN(2), Renewals: d.r.IntN(3)}
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
		return err
	}
	at := written.Time(time.UTC).Add(9 * time.Hour)
	if at.After(d.now) {
		at = d.now.Add(-time.Minute)
	}
	doc, err := layoutPrescription(&rx, data, at)
	if err != nil {
		return err
	}
	signed, err := signature.SignPDF(ctx, doc, d.key, d.chain, signature.PDFSignOptions{
		Now: func() time.Time { return at }, Name: rx.Prescriber.Name, Reason: "prescription " + id,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.dir, id+".rx.pdf"), signed, 0o644)
}

// scan draws a scanned paper prescription: an A4 page at 100 dpi, grey
// paper, a letterhead and handwriting-like lines, as a JPEG.
func (d *rxDay) scan() []byte {
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

func trimExt(name string) string { return name[:len(name)-len(filepath.Ext(name))] }
