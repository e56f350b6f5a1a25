// Package operator guards the gateway's admin listener and authenticates
// its operators with the operator token.
//
// Guard.Handler refuses, before anything else, a request whose Host header
// names no host of Guard.Hosts (a page reaching the listener through DNS
// rebinding: ErrHostRefused) and a state-changing request (any method but
// GET, HEAD and OPTIONS) that a browser sent from another origin, by its
// Sec-Fetch-Site header or else its Origin header (cross-site request
// forgery: ErrCrossOrigin). Requests without either header (the gateway's
// commands, curl, scrapers) pass.
//
// Guard.Operator tells whether a request carries the operator token:
// "Authorization: Bearer <token>" (the gateway's commands, scripts), or the
// cookie Guard.SignIn sets after the token was typed in a form (a browser:
// an expiry and a random id, HMAC-signed with a key drawn for the process,
// SameSite=Strict, HttpOnly, Secure unless told otherwise, SessionTTL).
// Guard.SignOut ends that cookie's session in the Guard (a copy is refused
// too); a restart ends them all. A wrong bearer token is ErrTokenInvalid; a
// cookie that no longer verifies (expired, signed out, of another process)
// counts as none.
//
// The zero value is strict: no host is allowed, no token is taken. The
// package chooses no HTTP status: refusals go to Guard.Refuse with one of
// its errors, whose Code (docs/errors.md) the caller maps.
package operator
