package signature

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable error code of a failed verification. docs/errors.md
// explains each one under a heading of the same name.
type Code string

// The codes Verify, VerifyPDF, VerifyClient and the signer checks return.
const (
	CodeXMLMalformed        Code = "XML_MALFORMED"
	CodeXMLTooLarge         Code = "XML_TOO_LARGE"
	CodeXMLTooDeep          Code = "XML_TOO_DEEP"
	CodeXMLEncoding         Code = "XML_ENCODING"
	CodeXMLDuplicateID      Code = "XML_DUPLICATE_ID"
	CodeSignatureMissing    Code = "SIGNATURE_MISSING"
	CodeSignatureWrapping   Code = "SIGNATURE_WRAPPING"
	CodeSignatureInvalid    Code = "SIGNATURE_INVALID"
	CodeDigestMismatch      Code = "DIGEST_MISMATCH"
	CodeAlgorithmForbidden  Code = "ALGORITHM_FORBIDDEN"
	CodeSigningTimeInvalid  Code = "SIGNING_TIME_INVALID"
	CodeCertUntrusted       Code = "CERT_UNTRUSTED"
	CodeCertExpired         Code = "CERT_EXPIRED"
	CodeCertRevoked         Code = "CERT_REVOKED"
	CodeCRLStale            Code = "CRL_STALE"
	CodeCRLUnavailable      Code = "CRL_UNAVAILABLE"
	CodeKeyUsage            Code = "KEY_USAGE"
	CodeSignerMismatch      Code = "SIGNER_MISMATCH"
	CodeSignerIDMissing     Code = "SIGNER_ID_MISSING"
	CodeCardTypeForbidden   Code = "CARD_TYPE_FORBIDDEN"
	CodePDFMalformed        Code = "PDF_MALFORMED"
	CodePDFIncompleteCover  Code = "PDF_INCOMPLETE_COVERAGE"
	CodePDFEmbeddedTooLarge Code = "PDF_EMBEDDED_TOO_LARGE"
	CodePrescriptionInvalid Code = "PRESCRIPTION_DATA_INVALID"
)

// CodeInfo describes a code for the registry and the documentation.
type CodeInfo struct {
	Code   Code
	Status int // HTTP status when this code refuses a request
	Title  string
}

// Codes lists every code this package emits, with the HTTP status the API
// layer maps it to (api/codes_signature.go registers them).
func Codes() []CodeInfo {
	return []CodeInfo{
		{CodeXMLMalformed, 400, "the document is not well-formed XML (a duplicate attribute included), or uses a forbidden construct (DOCTYPE, processing instruction)"},
		{CodeXMLTooLarge, 413, "the document is over the size limit"},
		{CodeXMLTooDeep, 400, "the document's elements are nested too deep"},
		{CodeXMLEncoding, 415, "the document is not UTF-8, or declares another encoding"},
		{CodeXMLDuplicateID, 422, "two elements of the document carry the same Id"},
		{CodeSignatureMissing, 422, "the document carries no signature"},
		{CodeSignatureWrapping, 422, "the signature is not where it must be, is not the only one, or carries content it does not sign"},
		{CodeSignatureInvalid, 422, "the signature value does not verify with the signer's certificate"},
		{CodeDigestMismatch, 422, "the signed content or signed properties were changed after signing"},
		{CodeAlgorithmForbidden, 422, "the signature uses an algorithm or key size that is not allowed"},
		{CodeSigningTimeInvalid, 422, "the claimed signing time is missing, in the future or too old"},
		{CodeCertUntrusted, 422, "the signer's certificate does not chain to a trusted root"},
		{CodeCertExpired, 422, "a certificate of the chain was not valid at the signing time"},
		{CodeCertRevoked, 422, "a certificate of the chain is revoked"},
		{CodeCRLStale, 503, "the revocation list is past its next update or older than allowed"},
		{CodeCRLUnavailable, 503, "no revocation list is known for an issuer of the chain"},
		{CodeKeyUsage, 422, "the certificate's key usage does not allow this use"},
		{CodeSignerMismatch, 403, "the signer is not the professional the document names"},
		{CodeSignerIDMissing, 403, "the signer's certificate carries no national id"},
		{CodeCardTypeForbidden, 403, "this card type may not sign for billing"},
		{CodePDFMalformed, 400, "the PDF or its signature dictionary cannot be read"},
		{CodePDFIncompleteCover, 422, "the PDF signature does not cover the whole file"},
		{CodePDFEmbeddedTooLarge, 413, "the PDF's embedded files are too many or inflate past the limit"},
		{CodePrescriptionInvalid, 422, "the prescription's embedded data is missing or does not match its 2D code"},
	}
}

// Problem is one reason a verification failed.
type Problem struct {
	Code    Code
	Path    string // where, e.g. "Signature/SignedInfo/Reference[1]"; may be empty
	Message string // lowercase, no PII
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(string(p.Code))
	if p.Path != "" {
		b.WriteString(" at ")
		b.WriteString(p.Path)
	}
	if p.Message != "" {
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// Is lets errors.Is(err, signature.CodeCertRevoked) match.
func (p Problem) Is(target error) bool {
	var c Code
	if errors.As(target, &c) {
		return p.Code == c
	}
	return false
}

// Error makes a Code usable as an errors.Is target.
func (c Code) Error() string { return string(c) }

// VerifyError keeps every problem of a failed verification.
type VerifyError struct {
	Problems []Problem
}

func (e *VerifyError) Error() string {
	if len(e.Problems) == 1 {
		return "signature: " + e.Problems[0].Error()
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return fmt.Sprintf("signature: %d problems: %s", len(e.Problems), strings.Join(parts, "; "))
}

// Unwrap gives the problems to errors.Is and errors.As.
func (e *VerifyError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// Codes lists the codes of the problems, in order.
func (e *VerifyError) Codes() []Code {
	out := make([]Code, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Code
	}
	return out
}

func problem(code Code, path, format string, a ...any) Problem {
	return Problem{Code: code, Path: path, Message: fmt.Sprintf(format, a...)}
}
