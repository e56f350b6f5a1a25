package api

import "net/http"

// Codes of e-CPS (Pro Santé Connect) bearer tokens on the intake API and of
// the dashboard's e-CPS sign-in (gateway/oidcauth, cmd/gateway/psc.go). A
// refused bearer token is answered BEARER_INVALID whatever the reason; the
// reason's code (ECPS_*, oidcauth.Codes, listed here by name so that the
// workstation does not link the OpenID Connect client; a test keeps the two
// in step) is in the gateway's log, and in the answer of a refused sign-in.
func init() {
	Register(http.StatusUnauthorized, false, "BEARER_INVALID", "bearer access token refused (signature, issuer, audience, expiry, type, level or national id)")
	reg(http.StatusUnauthorized, false,
		"ECPS_SIGNATURE", "the token is not a JWT signed (RS256) with a key the provider publishes",
		"ECPS_ISSUER", "the token was issued by another provider",
		"ECPS_EXPIRED", "the token is expired, or not valid yet",
		"ECPS_TOKEN_TYPE", "an ID token where an access token is wanted, or the reverse",
		"ECPS_AUDIENCE", "the token is for another client: its aud, or without aud its azp, names no client of the gateway",
		"ECPS_ACR", "the token's authentication level (acr) is missing or below eidas1",
		"ECPS_NATIONAL_ID", "no national id in the token, its sub or userinfo, or two of them disagree",
		"ECPS_SIGNIN_FAILED", "the sign-in flow failed (state, nonce, flow cookie, code exchange)",
	)
	reg(http.StatusBadGateway, false,
		"ECPS_PROVIDER_UNAVAILABLE", "Pro Santé Connect (discovery, keys or userinfo) did not answer",
	)
}
