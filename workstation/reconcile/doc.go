// Package reconcile matches a practice's bank statement (a CSV file, the
// format documented in docs/workstation.md, "Reconciling payments") with
// the transfers the gateway kept for it (GET /v1/payments), and explains
// every difference: a transfer missing from the statement, a bank line no
// transfer explains, an amount or a date that differs.
//
// Contract: pure (no I/O beyond the reader it is given); amounts in cents.
// Errors: a statement that cannot be read is a *FormatError with code
// BANK_CSV_INVALID, its row and column (docs/errors.md).
package reconcile
