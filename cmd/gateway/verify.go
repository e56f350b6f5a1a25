package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/signature"
)

func init() {
	program.Add(&cli.Command{Name: "verify", Summary: "verify signed care sheets and prescriptions offline", Run: runVerify})
}

const verifyUsage = `gateway verify — verify signed care sheets and prescriptions offline

Usage:
  gateway verify [--json] [--dev | --trust DIR] [--at RFC3339] FILE...

Each FILE is a care sheet signed with XAdES (XML) or a signed prescription
(PDF). The signature, the certificate chain to the trusted roots, the key
usage, the validity at the signing time and the revocation (CRLs of the trust
directory) are checked; for a care sheet, also that the signer is the
practitioner the sheet names and that the card type may bill; for a
prescription, that the signature covers the whole file and the embedded data
matches its 2D code. Codes: docs/errors.md.

Exit status: 0 when every file is valid, 1 when one is not, 2 on misuse.

Examples:
  gateway verify --dev signed.xml
  gateway verify --trust /etc/fsegate/trust --json in/*.xml rx.pdf
  gateway verify --dev --at 2026-11-20T12:00:00Z old.xml
`

type verifySigner struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Profession string `json:"profession"`
	CardType   string `json:"card_type"`
}

// verifyError is one error of verify's report. It is kept apart from
// api.Error, the HTTP API's item, because it is the JSON of 'gateway verify
// --json' (one object per file): path and message always present,
// no hint, no doc link.
type verifyError struct {
	Code    problem.Code `json:"code"`
	Path    string       `json:"path"`
	Message string       `json:"message"`
}

type verifyReport struct {
	File   string        `json:"file"`
	Kind   string        `json:"kind"` // caresheet, prescription
	Valid  bool          `json:"valid"`
	Signer *verifySigner `json:"signer"`
	Errors []verifyError `json:"errors"`
}

// signatureDevTrust is the fixtures' test PKI: the root, the persons and
// organisations CAs and their CRLs (never the rogue CA).
func signatureDevTrust() (*signature.TrustStore, error) {
	return signature.LoadFS(fixtures.FS(), "pki", "root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl")
}

func runVerify(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "verify", verifyUsage)
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	dev := fs.Bool("dev", env.Dev(), "trust the fixtures' test PKI")
	trustDir := fs.String("trust", "", "trust directory: root and CA certificates (*.crt, *.pem), CRLs (*.crl)")
	at := fs.String("at", "", "verify as if at this time (RFC 3339); default: now")
	maxAge := fs.Duration("max-signing-age", signature.DefaultMaxSigningAge, "how far back a signing time may lie")
	crlMaxAge := fs.Duration("crl-max-age", 0, "a CRL older than this is stale (0: only its next update counts)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return cli.Usagef("verify: no file given (gateway verify FILE...)")
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return cli.Usagef("--at %q is not an RFC 3339 time (2026-11-20T12:00:00Z)", *at)
		}
		now = t
	}
	var trust *signature.TrustStore
	var err error
	switch {
	case *trustDir != "":
		trust, err = signature.LoadDir(*trustDir)
	case *dev:
		trust, err = signatureDevTrust()
	default:
		return cli.WithHint(cli.Usagef("verify: no trust anchors"), "give --trust DIR, or --dev for the test PKI")
	}
	if err != nil {
		return err
	}
	trust.Now = func() time.Time { return now }
	trust.MaxCRLAge = *crlMaxAge
	v := &signature.Verifier{Trust: trust, Now: trust.Now, MaxSigningAge: *maxAge}

	allValid := true
	enc := json.NewEncoder(env.Stdout)
	for _, file := range fs.Args() {
		r := verifyFile(v, file)
		allValid = allValid && r.Valid
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		who := ""
		if r.Signer != nil {
			who = fmt.Sprintf(" signed by %s %s (%s, %s)", r.Signer.ID, r.Signer.Name, r.Signer.Profession, r.Signer.CardType)
		}
		if r.Valid {
			fmt.Fprintf(env.Stdout, "%s: valid %s%s\n", file, r.Kind, who)
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: INVALID %s%s\n", file, r.Kind, who)
		for _, e := range r.Errors {
			fmt.Fprintf(env.Stdout, "  %s", e.Code)
			if e.Path != "" {
				fmt.Fprintf(env.Stdout, " at %s", e.Path)
			}
			fmt.Fprintf(env.Stdout, ": %s\n", e.Message)
		}
	}
	if !allValid {
		return &cli.ExitError{Code: 1}
	}
	return nil
}

func verifyFile(v *signature.Verifier, file string) verifyReport {
	r := verifyReport{File: file, Errors: []verifyError{}}
	data, err := os.ReadFile(file)
	if err != nil {
		r.Kind = "unknown"
		r.Errors = append(r.Errors, verifyError{Code: cli.CodeFileUnreadable, Message: err.Error()})
		return r
	}
	var id signature.Identity
	var haveID bool
	if bytes.HasPrefix(data, []byte("%PDF-")) {
		r.Kind = "prescription"
		res, err := v.VerifyPDF(data)
		if res != nil {
			id, haveID = res.Signer, true
		}
		addProblems(&r, err)
		if err == nil {
			addProblems(&r, checkPrescription(res))
		}
	} else {
		r.Kind = "caresheet"
		res, err := v.Verify(data)
		if res != nil && res.Signer.Certificate != nil {
			id, haveID = res.Signer, true
		}
		addProblems(&r, err)
		if err == nil {
			sheet, derr := fse.DecodeElement(res.Content)
			if derr != nil {
				r.Errors = append(r.Errors, verifyError{Code: fse.CodeMalformed, Message: derr.Error()})
			} else {
				addProblems(&r, signature.CheckSigner(id, sheet.SignerID(), true))
			}
		}
	}
	if haveID {
		r.Signer = &verifySigner{ID: id.NationalID, Name: id.Name(), Profession: id.Profession, CardType: id.CardType}
	}
	r.Valid = len(r.Errors) == 0
	return r
}

func addProblems(r *verifyReport, err error) {
	if err == nil {
		return
	}
	var ve *signature.VerifyError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			r.Errors = append(r.Errors, verifyError{Code: p.Code, Path: p.Path, Message: p.Message})
		}
		return
	}
	r.Errors = append(r.Errors, verifyError{Code: signature.CodeSignatureInvalid, Message: err.Error()})
}

// checkPrescription checks the embedded prescription data against the
// 2D code's payload (kept in the PDF's Keywords) and the signer.
func checkPrescription(res *signature.PDFResult) error {
	bad := func(format string, a ...any) error {
		return &signature.VerifyError{Problems: []signature.Problem{{Code: signature.CodePrescriptionInvalid, Path: "prescription.json", Message: fmt.Sprintf(format, a...)}}}
	}
	data, err := res.Attachment("prescription.json")
	if errors.Is(err, signature.ErrNoAttachment) {
		return bad("no embedded prescription.json")
	}
	if err != nil {
		return err
	}
	// Payload: FSEGATE-RX:1;<id>;<base64url SHA-256 of prescription.json>
	parts := strings.Split(res.Keywords, ";")
	if len(parts) != 3 || parts[0] != "FSEGATE-RX:1" {
		return bad("no prescription code in the document")
	}
	sum := sha256.Sum256(data)
	if base64.RawURLEncoding.EncodeToString(sum[:]) != parts[2] {
		return bad("the embedded data does not match the digest of the 2D code")
	}
	var rx struct {
		ID         string `json:"id"`
		Prescriber struct {
			NationalID string `json:"national_id"`
		} `json:"prescriber"`
	}
	if err := json.Unmarshal(data, &rx); err != nil {
		return bad("embedded data is not JSON")
	}
	if rx.ID != parts[1] {
		return bad("the embedded id is not the id of the 2D code")
	}
	return signature.CheckSigner(res.Signer, rx.Prescriber.NationalID, false)
}
