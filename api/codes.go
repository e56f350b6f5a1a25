package api

import (
	"net/http"

	"github.com/fsegate/fsegate/problem"
)

// The codes of the HTTP edge itself, declared once; Codes lists them: the
// refusals of a request before any library sees it. REQUEST_INVALID and
// BODY_TOO_LARGE are answered by both APIs (gateway/httpapi,
// workstation/localapi); the others by the gateway's. The local API's own
// codes are workstation/localapi's.
const (
	CodeRequestInvalid     problem.Code = "REQUEST_INVALID"
	CodeBodyTooLarge       problem.Code = "BODY_TOO_LARGE"
	CodeClientCertRequired problem.Code = "CLIENT_CERT_REQUIRED"
	CodeBatchTooLarge      problem.Code = "BATCH_TOO_LARGE"
	CodeTooManyRequests    problem.Code = "TOO_MANY_REQUESTS"
)

// Codes lists every code this package declares, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeRequestInvalid, Title: "the request is not of the documented form"},
		{Code: CodeBodyTooLarge, Title: "the request body is over the size limit"},
		{Code: CodeClientCertRequired, Title: "the sheet endpoints need a client certificate from a CPS card"},
		{Code: CodeBatchTooLarge, Title: "the batch holds more items or bytes than allowed"},
		{Code: CodeTooManyRequests, Title: "the client has as many batches in progress as allowed"},
	}
}

// statuses is the HTTP status of every code that refuses a request (wtf's
// http.ErrorStatusCode): the one place where a code meets HTTP. The
// libraries that raise the codes know nothing of HTTP; the codes are
// written here by name so that this package imports none of them (the
// workstation, which links this package, links neither the queue nor the
// OpenID Connect client). A test (api/registry) keeps this table and the
// packages' lists in step: every code that is not a warning has a status,
// every status names a listed code. Warnings have none: they never refuse.
var statuses = map[problem.Code]int{
	// api (this package: the HTTP edge).
	CodeRequestInvalid:     http.StatusBadRequest,
	CodeBodyTooLarge:       http.StatusRequestEntityTooLarge,
	CodeClientCertRequired: http.StatusUnauthorized,
	CodeBatchTooLarge:      http.StatusRequestEntityTooLarge,
	CodeTooManyRequests:    http.StatusTooManyRequests,
	// workstation/localapi (its ErrorStatus gives the same, by kind).
	"TOKEN_INVALID":       http.StatusUnauthorized,
	"HOST_REFUSED":        http.StatusMisdirectedRequest,
	"ORIGIN_REFUSED":      http.StatusForbidden,
	"CARD_UNAVAILABLE":    http.StatusServiceUnavailable,
	"OUTBOX_CONFLICT":     http.StatusConflict,
	"OUTBOX_UNAVAILABLE":  http.StatusInternalServerError,
	"GATEWAY_UNREACHABLE": http.StatusBadGateway,
	"SHEET_UNKNOWN":       http.StatusNotFound,
	// fse: every refusal of the care sheet rules is a 422.
	"SHEET_MALFORMED":        http.StatusUnprocessableEntity,
	"SHEET_FORBIDDEN":        http.StatusUnprocessableEntity,
	"SHEET_TOO_LARGE":        http.StatusUnprocessableEntity,
	"SHEET_TOO_DEEP":         http.StatusUnprocessableEntity,
	"SHEET_UNKNOWN_ELEMENT":  http.StatusUnprocessableEntity,
	"SHEET_REPEATED_ELEMENT": http.StatusUnprocessableEntity,
	"SHEET_MISSING_ELEMENT":  http.StatusUnprocessableEntity,
	"SHEET_VALUE":            http.StatusUnprocessableEntity,
	"REQUIRED":               http.StatusUnprocessableEntity,
	"NUMBER_FORMAT":          http.StatusUnprocessableEntity,
	"NIR_FORMAT":             http.StatusUnprocessableEntity,
	"NIR_KEY":                http.StatusUnprocessableEntity,
	"RPPS_INVALID":           http.StatusUnprocessableEntity,
	"ADELI_INVALID":          http.StatusUnprocessableEntity,
	"FINESS_INVALID":         http.StatusUnprocessableEntity,
	"NATIONAL_ID_MISMATCH":   http.StatusUnprocessableEntity,
	"BILLING_FORMAT":         http.StatusUnprocessableEntity,
	"PROFESSION_UNKNOWN":     http.StatusUnprocessableEntity,
	"SPECIALTY_FORMAT":       http.StatusUnprocessableEntity,
	"BIRTH_DATE":             http.StatusUnprocessableEntity,
	"RANK_INVALID":           http.StatusUnprocessableEntity,
	"ROUTING_FORMAT":         http.StatusUnprocessableEntity,
	"CARE_DATE_FUTURE":       http.StatusUnprocessableEntity,
	"CARE_DATE_TOO_OLD":      http.StatusUnprocessableEntity,
	"CREATED_INVALID":        http.StatusUnprocessableEntity,
	"LINES_COUNT":            http.StatusUnprocessableEntity,
	"NGAP_KEY_UNKNOWN":       http.StatusUnprocessableEntity,
	"NGAP_TARIFF":            http.StatusUnprocessableEntity,
	"COEFFICIENT_RANGE":      http.StatusUnprocessableEntity,
	"CCAM_CODE":              http.StatusUnprocessableEntity,
	"CIP13_INVALID":          http.StatusUnprocessableEntity,
	"QUANTITY_RANGE":         http.StatusUnprocessableEntity,
	"DRUG_RATE":              http.StatusUnprocessableEntity,
	"LINE_AMOUNT":            http.StatusUnprocessableEntity,
	"AMO_SHARE":              http.StatusUnprocessableEntity,
	"PARTICIPATION":          http.StatusUnprocessableEntity,
	"FRANCHISES":             http.StatusUnprocessableEntity,
	"TOTAL_BILLED":           http.StatusUnprocessableEntity,
	"TOTAL_AMO":              http.StatusUnprocessableEntity,
	"TOTAL_SPLIT":            http.StatusUnprocessableEntity,
	"EXEMPTION":              http.StatusUnprocessableEntity,
	"CCAM_MODIFIER":          http.StatusUnprocessableEntity,
	"PRICE_TABLE":            http.StatusUnprocessableEntity,
	"AMC_MISSING":            http.StatusUnprocessableEntity,
	"PRESCRIPTION_REQUIRED":  http.StatusUnprocessableEntity,
	"PROFESSION_NOT_ALLOWED": http.StatusUnprocessableEntity,
	// signature.
	"XML_MALFORMED":             http.StatusBadRequest,
	"XML_TOO_LARGE":             http.StatusRequestEntityTooLarge,
	"XML_TOO_DEEP":              http.StatusBadRequest,
	"XML_ENCODING":              http.StatusUnsupportedMediaType,
	"XML_DUPLICATE_ID":          http.StatusUnprocessableEntity,
	"SIGNATURE_MISSING":         http.StatusUnprocessableEntity,
	"SIGNATURE_WRAPPING":        http.StatusUnprocessableEntity,
	"SIGNATURE_INVALID":         http.StatusUnprocessableEntity,
	"DIGEST_MISMATCH":           http.StatusUnprocessableEntity,
	"ALGORITHM_FORBIDDEN":       http.StatusUnprocessableEntity,
	"SIGNING_TIME_INVALID":      http.StatusUnprocessableEntity,
	"CERT_UNTRUSTED":            http.StatusUnprocessableEntity,
	"CERT_EXPIRED":              http.StatusUnprocessableEntity,
	"CERT_REVOKED":              http.StatusUnprocessableEntity,
	"CRL_STALE":                 http.StatusServiceUnavailable,
	"CRL_UNAVAILABLE":           http.StatusServiceUnavailable,
	"KEY_USAGE":                 http.StatusUnprocessableEntity,
	"SIGNER_MISMATCH":           http.StatusForbidden,
	"SIGNER_ID_MISSING":         http.StatusForbidden,
	"CARD_TYPE_FORBIDDEN":       http.StatusForbidden,
	"PDF_MALFORMED":             http.StatusBadRequest,
	"PDF_INCOMPLETE_COVERAGE":   http.StatusUnprocessableEntity,
	"PDF_EMBEDDED_TOO_LARGE":    http.StatusRequestEntityTooLarge,
	"PRESCRIPTION_DATA_INVALID": http.StatusUnprocessableEntity,
	"SCOR_PIECE_INVALID":        http.StatusUnprocessableEntity,
	// workstation.
	"FILE_UNREADABLE":        http.StatusBadRequest,
	"ALREADY_SIGNED":         http.StatusConflict,
	"ALREADY_IN_OUTBOX":      http.StatusConflict,
	"SITUATION_UNKNOWN":      http.StatusForbidden,
	"SITUATION_MAY_NOT_SIGN": http.StatusForbidden,
	// workstation/reconcile (commands, not HTTP answers).
	"BANK_CSV_INVALID":      http.StatusBadRequest,
	"RECONCILE_DIFFERENCES": http.StatusConflict,
	// gateway/practices.
	"SIGNER_NOT_ALLOWED":     http.StatusForbidden,
	"SENDER_MISMATCH":        http.StatusForbidden,
	"PROFESSION_MISMATCH":    http.StatusForbidden,
	"SPECIALTY_MISMATCH":     http.StatusForbidden,
	"REMPLACANT_NOT_ALLOWED": http.StatusForbidden,
	// gateway/rx.
	"PRESCRIPTION_CONTENT":           http.StatusUnprocessableEntity,
	"PRESCRIBER_NOT_ALLOWED":         http.StatusForbidden,
	"PRESCRIPTION_CONFLICT":          http.StatusConflict,
	"PRESCRIPTION_UNKNOWN":           http.StatusUnprocessableEntity,
	"PRESCRIPTION_PATIENT_MISMATCH":  http.StatusUnprocessableEntity,
	"PRESCRIPTION_SELF_DISPENSED":    http.StatusForbidden,
	"PRESCRIPTION_EXPIRED":           http.StatusUnprocessableEntity,
	"PRESCRIPTION_LINE_MISSING":      http.StatusUnprocessableEntity,
	"PRESCRIPTION_LINE_UNKNOWN":      http.StatusUnprocessableEntity,
	"PRESCRIPTION_PRODUCT_MISMATCH":  http.StatusUnprocessableEntity,
	"PRESCRIPTION_QUANTITY_EXCEEDED": http.StatusUnprocessableEntity,
	"PRESCRIPTION_DISPENSED":         http.StatusConflict,
	// queue.
	"DUPLICATE_SHEET":   http.StatusConflict,
	"QUEUE_UNAVAILABLE": http.StatusServiceUnavailable,
	"STORAGE_FULL":      http.StatusServiceUnavailable,
	"SHEET_NOT_FOUND":   http.StatusNotFound,
	"SCOR_NOT_NEEDED":   http.StatusConflict,
	"SCOR_TAKEN":        http.StatusConflict,
	"SCOR_TOO_LARGE":    http.StatusRequestEntityTooLarge,
	// insurers.
	"INSURER_UNKNOWN": http.StatusUnprocessableEntity,
	// gateway/operator.
	"ADMIN_HOST_REFUSED":     http.StatusMisdirectedRequest,
	"ADMIN_ORIGIN_REFUSED":   http.StatusForbidden,
	"OPERATOR_TOKEN_INVALID": http.StatusUnauthorized,
	// gateway/dashboard.
	"OPERATOR_REQUIRED": http.StatusUnauthorized,
	"OPERATOR_ONLY":     http.StatusForbidden,
	// internal/secretfile (not an HTTP answer: the command stops).
	"SECRET_FILE_UNSAFE": http.StatusInternalServerError,
	// gateway/oidcauth.
	"BEARER_INVALID":            http.StatusUnauthorized,
	"ECPS_PROVIDER_UNAVAILABLE": http.StatusBadGateway,
	"ECPS_SIGNATURE":            http.StatusUnauthorized,
	"ECPS_ISSUER":               http.StatusUnauthorized,
	"ECPS_EXPIRED":              http.StatusUnauthorized,
	"ECPS_TOKEN_TYPE":           http.StatusUnauthorized,
	"ECPS_AUDIENCE":             http.StatusUnauthorized,
	"ECPS_ACR":                  http.StatusUnauthorized,
	"ECPS_NATIONAL_ID":          http.StatusUnauthorized,
	"ECPS_SIGNIN_FAILED":        http.StatusUnauthorized,
}

// Code is a code as the HTTP layer sees it: its name and its status.
type Code struct {
	Name   problem.Code
	Status int
}

// Lookup gives the HTTP status of the code named name; false for a code
// that never refuses (a warning) or that no package lists.
func Lookup(name problem.Code) (Code, bool) {
	s, ok := statuses[name]
	return Code{Name: name, Status: s}, ok
}

// ErrorStatusCode is the HTTP status of a refusal for code: its status,
// 500 for a code with none.
func ErrorStatusCode(code problem.Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Statuses lists the codes that have an HTTP status, with it (for the
// registry).
func Statuses() map[problem.Code]int {
	out := make(map[problem.Code]int, len(statuses))
	for c, s := range statuses {
		out[c] = s
	}
	return out
}
