package api

import "net/http"

// The codes of prescriptions and SCOR pieces (gateway intake, POST
// /v1/prescriptions, POST /v1/sheets/{number}/scor; docs/errors.md,
// "Prescriptions and SCOR"; gateway/rx emits the prescription ones).
func init() {
	Register(http.StatusUnprocessableEntity, false, "PRESCRIPTION_CONTENT", "the carried prescription's structured data is absent or incomplete (patient NIR, lines, quantities)")
	Register(http.StatusForbidden, false, "PRESCRIBER_NOT_ALLOWED", "the signer's profession may not issue a prescription")
	Register(http.StatusConflict, false, "PRESCRIPTION_CONFLICT", "another prescription was received under this prescriber and id")
	Register(http.StatusUnprocessableEntity, false, "PRESCRIPTION_PATIENT_MISMATCH", "the claim is for another patient than the prescription's")
	Register(http.StatusForbidden, false, "PRESCRIPTION_SELF_DISPENSED", "the prescriber may not bill a dispensation of its own prescription")
	Register(http.StatusUnprocessableEntity, false, "PRESCRIPTION_EXPIRED", "the prescription is past its validity period")
	Register(http.StatusUnprocessableEntity, false, "PRESCRIPTION_LINE_MISSING", "a sheet line names no prescription line")
	Register(http.StatusUnprocessableEntity, false, "PRESCRIPTION_LINE_UNKNOWN", "the prescription has no such line")
	Register(http.StatusUnprocessableEntity, false, "PRESCRIPTION_PRODUCT_MISMATCH", "the drug is neither the prescribed one nor of its generic group")
	Register(http.StatusUnprocessableEntity, false, "PRESCRIPTION_QUANTITY_EXCEEDED", "more than the prescription line's quantity in one dispensation")
	Register(http.StatusConflict, false, "PRESCRIPTION_DISPENSED", "the prescription line and its renewals were already dispensed")
	Register(http.StatusUnprocessableEntity, true, "PRESCRIPTION_NOT_VERIFIED", "a national e-prescription number: fsegate cannot check it")
	Register(http.StatusUnprocessableEntity, true, "SCOR_REQUIRED", "a paper prescription: the sheet waits for its SCOR piece")
	Register(http.StatusConflict, false, "SCOR_NOT_NEEDED", "the sheet needs no SCOR piece")
	Register(http.StatusConflict, false, "SCOR_TAKEN", "the sheet already has another SCOR piece on its way")
	Register(http.StatusUnprocessableEntity, false, "SCOR_PIECE_INVALID", "the SCOR piece is not a readable PDF or JPEG within the limits")
	Register(http.StatusRequestEntityTooLarge, false, "SCOR_TOO_LARGE", "the SCOR piece is over the size limit")
	Register(http.StatusNotFound, false, "SHEET_NOT_FOUND", "the gateway has no sheet under this billing number and number")
}
