package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/signature"
)

// Signer is who signed a file, as its certificate says.
type Signer struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Profession string `json:"profession"`
	CardType   string `json:"card_type"`
}

// Error is one reason a file is not valid: a code of docs/errors.md,
// where, and what. It is kept apart from api.Error, the HTTP API's item,
// because it is the JSON of 'gateway verify --json' (one object per file):
// path and message always present, no hint, no documentation link.
type Error struct {
	Code    problem.Code `json:"code"`
	Path    string       `json:"path"`
	Message string       `json:"message"`
}

// Report is the verdict on one file.
type Report struct {
	File   string  `json:"file"`
	Kind   string  `json:"kind"` // caresheet, prescription
	Valid  bool    `json:"valid"`
	Signer *Signer `json:"signer"`
	Errors []Error `json:"errors"`
}

// File verifies the signed care sheet (XML, XAdES) or prescription (PDF)
// in file with v: the signature, the certificate chain, key usage, validity
// at the signing time and revocation; for a care sheet, that the signer is
// the practitioner (or remplaçant) the sheet names and may bill; for a
// prescription, that the embedded data matches its 2D code and names its
// signer. Every problem found is in the report (FILE_UNREADABLE for a file
// not read).
func File(v *signature.Verifier, file string) Report {
	r := Report{File: file, Errors: []Error{}}
	data, err := os.ReadFile(file)
	if err != nil {
		r.Kind = "unknown"
		r.Errors = append(r.Errors, Error{Code: cli.CodeFileUnreadable, Message: err.Error()})
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
				r.Errors = append(r.Errors, Error{Code: fse.CodeMalformed, Message: derr.Error()})
			} else {
				addProblems(&r, signature.CheckSigner(id, sheet.SignerID(), true))
			}
		}
	}
	if haveID {
		r.Signer = &Signer{ID: id.NationalID, Name: id.Name(), Profession: id.Profession, CardType: id.CardType}
	}
	r.Valid = len(r.Errors) == 0
	return r
}

func addProblems(r *Report, err error) {
	if err == nil {
		return
	}
	var ve *signature.VerifyError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			r.Errors = append(r.Errors, Error{Code: p.Code, Path: p.Path, Message: p.Message})
		}
		return
	}
	r.Errors = append(r.Errors, Error{Code: signature.CodeSignatureInvalid, Message: err.Error()})
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
