package api

import "net/http"

// The codes of the workstation's local API (workstation serve;
// docs/errors.md, "Workstation local API"; docs/workstation-openapi.yaml).
func init() {
	Register(http.StatusUnauthorized, false, "TOKEN_INVALID", "missing or wrong bearer token for the workstation's local API")
	Register(http.StatusMisdirectedRequest, false, "HOST_REFUSED", "the Host header does not name the workstation's loopback address")
	Register(http.StatusForbidden, false, "ORIGIN_REFUSED", "a web page may not call the workstation's local API")
	Register(http.StatusServiceUnavailable, false, "CARD_UNAVAILABLE", "the CPS card could not sign (absent, removed, PIN refused)")
	Register(http.StatusConflict, false, "OUTBOX_CONFLICT", "another sheet with the same number is already in the workstation's outbox")
	Register(http.StatusInternalServerError, false, "OUTBOX_UNAVAILABLE", "the workstation's outbox could not be written or read")
	Register(http.StatusBadGateway, false, "GATEWAY_UNREACHABLE", "the workstation could not reach the gateway")
	Register(http.StatusNotFound, false, "SHEET_UNKNOWN", "neither the workstation's outbox nor the gateway knows this sheet")
}

// The codes of the workstation's commands (package workstation;
// docs/errors.md, "Workstation commands"): what check, sign and batch
// print. They never reach the gateway; the local API answers
// OUTBOX_CONFLICT where batch says ALREADY_IN_OUTBOX. ALREADY_SIGNED is
// registered with the signature's codes.
func init() {
	Register(http.StatusBadRequest, false, "FILE_UNREADABLE", "the care sheet's file cannot be read")
	Register(http.StatusConflict, false, "ALREADY_IN_OUTBOX", "another sheet with the same billing number and number is already in the outbox")
	Register(http.StatusForbidden, false, "SITUATION_UNKNOWN", "the card holds no billing situation for the sheet's billing number (or not of the kind the sheet needs)")
	Register(http.StatusForbidden, false, "SITUATION_MAY_NOT_SIGN", "the card's billing situation for the sheet's billing number may not sign invoices")
}

// The codes of 'workstation payments reconcile' (package
// workstation/reconcile; docs/errors.md, "Workstation commands").
func init() {
	Register(http.StatusBadRequest, false, "BANK_CSV_INVALID", "the bank statement is not a CSV of the documented form")
	Register(http.StatusConflict, false, "RECONCILE_DIFFERENCES", "the bank statement and the transfers differ")
}
