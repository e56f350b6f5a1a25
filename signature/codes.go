package signature

import (
	"fmt"
	"strings"

	"github.com/fsegate/fsegate/problem"
)

// Code is problem.Code: a stable error code of a failed verification.
// docs/errors.md explains each one under a heading of the same name; the
// HTTP layer (package api) chooses its status.
type Code = problem.Code

// The codes Verify, VerifyPDF, VerifyClient and the signer checks return.
const (
	CodeXMLMalformed        problem.Code = "XML_MALFORMED"
	CodeXMLTooLarge         problem.Code = "XML_TOO_LARGE"
	CodeXMLTooDeep          problem.Code = "XML_TOO_DEEP"
	CodeXMLEncoding         problem.Code = "XML_ENCODING"
	CodeXMLDuplicateID      problem.Code = "XML_DUPLICATE_ID"
	CodeSignatureMissing    problem.Code = "SIGNATURE_MISSING"
	CodeSignatureWrapping   problem.Code = "SIGNATURE_WRAPPING"
	CodeSignatureInvalid    problem.Code = "SIGNATURE_INVALID"
	CodeDigestMismatch      problem.Code = "DIGEST_MISMATCH"
	CodeAlgorithmForbidden  problem.Code = "ALGORITHM_FORBIDDEN"
	CodeSigningTimeInvalid  problem.Code = "SIGNING_TIME_INVALID"
	CodeCertUntrusted       problem.Code = "CERT_UNTRUSTED"
	CodeCertExpired         problem.Code = "CERT_EXPIRED"
	CodeCertRevoked         problem.Code = "CERT_REVOKED"
	CodeCRLStale            problem.Code = "CRL_STALE"
	CodeCRLUnavailable      problem.Code = "CRL_UNAVAILABLE"
	CodeKeyUsage            problem.Code = "KEY_USAGE"
	CodeSignerMismatch      problem.Code = "SIGNER_MISMATCH"
	CodeSignerIDMissing     problem.Code = "SIGNER_ID_MISSING"
	CodeCardTypeForbidden   problem.Code = "CARD_TYPE_FORBIDDEN"
	CodePDFMalformed        problem.Code = "PDF_MALFORMED"
	CodePDFIncompleteCover  problem.Code = "PDF_INCOMPLETE_COVERAGE"
	CodePDFEmbeddedTooLarge problem.Code = "PDF_EMBEDDED_TOO_LARGE"
	CodePrescriptionInvalid problem.Code = "PRESCRIPTION_DATA_INVALID"
	// InspectScan's (ErrScan carries it).
	CodeScanInvalid problem.Code = "SCOR_PIECE_INVALID"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeXMLMalformed, Title: "the document is not well-formed XML (a duplicate attribute included), or uses a forbidden construct (DOCTYPE, processing instruction)"},
		{Code: CodeXMLTooLarge, Title: "the document is over the size limit"},
		{Code: CodeXMLTooDeep, Title: "the document's elements are nested too deep"},
		{Code: CodeXMLEncoding, Title: "the document is not UTF-8, or declares another encoding"},
		{Code: CodeXMLDuplicateID, Title: "two elements of the document carry the same Id"},
		{Code: CodeSignatureMissing, Title: "the document carries no signature"},
		{Code: CodeSignatureWrapping, Title: "the signature is not where it must be, is not the only one, or carries content it does not sign"},
		{Code: CodeSignatureInvalid, Title: "the signature value does not verify with the signer's certificate"},
		{Code: CodeDigestMismatch, Title: "the signed content or signed properties were changed after signing"},
		{Code: CodeAlgorithmForbidden, Title: "the signature uses an algorithm or key size that is not allowed"},
		{Code: CodeSigningTimeInvalid, Title: "the claimed signing time is missing, in the future or too old"},
		{Code: CodeCertUntrusted, Title: "the signer's certificate does not chain to a trusted root"},
		{Code: CodeCertExpired, Title: "a certificate of the chain was not valid at the signing time"},
		{Code: CodeCertRevoked, Title: "a certificate of the chain is revoked"},
		{Code: CodeCRLStale, Title: "the revocation list is past its next update or older than allowed"},
		{Code: CodeCRLUnavailable, Title: "no revocation list is known for an issuer of the chain"},
		{Code: CodeKeyUsage, Title: "the certificate's key usage does not allow this use"},
		{Code: CodeSignerMismatch, Title: "the signer is not the professional the document names"},
		{Code: CodeSignerIDMissing, Title: "the signer's certificate carries no national id"},
		{Code: CodeCardTypeForbidden, Title: "this card type may not sign for billing"},
		{Code: CodePDFMalformed, Title: "the PDF or its signature dictionary cannot be read"},
		{Code: CodePDFIncompleteCover, Title: "the PDF signature does not cover the whole file"},
		{Code: CodePDFEmbeddedTooLarge, Title: "the PDF's embedded files are too many or inflate past the limit"},
		{Code: CodePrescriptionInvalid, Title: "the prescription's embedded data is missing or does not match its 2D code"},
		{Code: CodeScanInvalid, Title: "the SCOR piece is not a readable PDF or JPEG within the limits"},
	}
}

// Problem is problem.Problem, one reason a verification failed: its code,
// where (e.g. "Signature/SignedInfo/Reference[1]"; may be empty) and a
// message (lowercase, no personal data). errors.Is(err,
// signature.CodeCertRevoked) matches it.
type Problem = problem.Problem

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

func newProblem(code Code, path, format string, a ...any) Problem {
	return Problem{Code: code, Path: path, Message: fmt.Sprintf(format, a...)}
}
