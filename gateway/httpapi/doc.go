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
// Errors: every refusal is an application/problem+json (api.Problem) whose
// HTTP status is chosen here, from the codes of its errors (api.StatusOf);
// a certificate refused at the connection is a 401 whatever its code. The
// codes this package raises itself: CLIENT_CERT_REQUIRED, BEARER_INVALID,
// BODY_TOO_LARGE, BATCH_TOO_LARGE, TOO_MANY_REQUESTS, REQUEST_INVALID,
// SENDER_MISMATCH, QUEUE_UNAVAILABLE, and on the admin listener
// OPERATOR_ONLY, OPERATOR_REQUIRED (with gateway/operator's and
// gateway/dashboard's).
package httpapi
