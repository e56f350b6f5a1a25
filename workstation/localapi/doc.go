// Package localapi is the workstation's local HTTP API, what practice and
// pharmacy software calls on 127.0.0.1 ('workstation serve';
// docs/workstation-openapi.yaml; package
// github.com/fsegate/fsegate/client/workstation is its Go client).
//
// A Server takes what it needs as fields: the Flow that checks and keeps
// the posted sheets (with its outbox), the bearer token, the port it
// listens on, how to open the CPS card and ask its PIN, how to connect to
// the gateway with it. Server.Handler gives the routes (listed in one place;
// Routes names them) behind the guard: loopback Host header, no
// Origin (no web page), the bearer token. Server.Drain sends what waits
// in the outbox until its context ends, with backoff while the gateway
// is down. Server.Close lets the card go. cmd/workstation's serve command
// keeps the flags, the configuration, the listener and the shutdown.
//
// POST /v1/sheets takes the one path of package workstation: the rules
// (Flow.Check), the card holder (Session.Check, before the PIN), the
// signature, the outbox (fsync'd), then the gateway; a sheet posted again
// gets the answer of the first. The other routes read the outbox, relay
// the gateway (notices, payments, prescriptions, SCOR pieces) through the
// card's session, or reconcile a bank statement (package reconcile).
//
// Errors: every refusal is an *Error (a Kind, a title, every reason as an
// api.Error with its code) or the gateway's *client.Problem relayed, and
// one function, ErrorStatus, chooses its HTTP status; the answer is an
// application/problem+json body (api.Problem). The codes are those of
// docs/errors.md, "Workstation local API", and the codes of the sheet's
// rules and of the gateway.
package localapi
