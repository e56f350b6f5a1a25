package api

import "net/http"

// Codes of e-CPS (Pro Santé Connect) bearer tokens on the intake API
// (internal/oidcauth, cmd/gateway/psc.go).
func init() {
	Register(http.StatusUnauthorized, false, "BEARER_INVALID", "bearer access token refused (signature, issuer, audience, expiry or type)")
}
