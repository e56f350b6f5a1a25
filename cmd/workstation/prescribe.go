package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/workstation/rxday"
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
	var rx rxday.Prescription
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rx); err != nil {
		return fmt.Errorf("prescribe: %s: %w", fs.Arg(0), err)
	}
	if err := rx.Check(now); err != nil {
		return fmt.Errorf("prescribe: %w", err)
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
	if err := rx.SignedBy(id); err != nil {
		return cli.WithHint(fmt.Errorf("prescribe: %w", err), "sign with the prescriber's card, or leave prescriber out of RX.json")
	}
	data, err := json.MarshalIndent(rx, "", "  ")
	if err != nil {
		return err
	}
	doc, err := rxday.Layout(&rx, data, now)
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
