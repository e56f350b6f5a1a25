// Package api is the HTTP wire layer of fsegate's two APIs (the gateway's,
// and the workstation's local API): the application/problem+json body of
// every refusal (Problem, with its items, Error), the codes of the HTTP edge
// itself (Codes), and the one table of HTTP statuses (Lookup,
// ErrorStatusCode, StatusOf). Codes are problem.Code values, raised by the
// libraries with no notion of HTTP; this package is where a code meets its
// status, as wtf's http.ErrorStatusCode.
//
// It imports no fsegate library, so that every HTTP client and server may
// import it. The registry of every code (each package's list joined with
// its status) is package api/registry; this package's tests keep the lists, this
// table, the code and docs/errors.md in step.
package api
