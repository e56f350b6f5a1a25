// Package httpapi is the gateway's HTTP layer: Server is the intake API
// that workstations reach with their CPS card (docs/openapi.yaml, served at
// /openapi.yaml), AdminServer the admin listener (probes, /metrics, the
// dashboard, /admin/*, pprof; docs/operations.md, docs/dashboard.md).
//
// Each server holds its dependencies as fields and registers its routes in
// one place (Handler). Business rules are not here: a sheet, a
// prescription or a SCOR piece goes to gateway/intake, which answers with
// coded errors; this package reads requests, authenticates the caller
// (client certificate, verified once per connection for a while, or an
// e-CPS bearer token on the read endpoints), checks that the caller acts
// for the billing number asked about, and writes answers.
//
// Errors: handlers answer through Error(w, r, err), and StatusCode is the
// one place where an answer's HTTP status is chosen: a Refusal (title and
// coded errors) is an application/problem+json (api.Problem) whose status
// is its first refusing code's in the wire layer's table (api.StatusOf),
// or 401 when the caller's credentials are refused, whatever the codes; the
// few plain-text answers (no such sheet, not ready, the admin endpoints)
// take the status of their kind (not found, invalid, conflict,
// unavailable). The codes it raises are the wire's (api: CLIENT_CERT_REQUIRED,
// BODY_TOO_LARGE, BATCH_TOO_LARGE, TOO_MANY_REQUESTS, REQUEST_INVALID) and
// their owners' (oidcauth's BEARER_INVALID, practices' SENDER_MISMATCH,
// queue's QUEUE_UNAVAILABLE; on the admin listener dashboard's
// OPERATOR_ONLY and OPERATOR_REQUIRED, operator's ADMIN_* and
// OPERATOR_TOKEN_INVALID).
package httpapi
