// Package oidcauth makes the gateway a relying party of Pro Santé Connect
// (OpenID Connect): sign-in with the authorization code flow (PKCE S256,
// state and nonce), a short-lived HMAC-signed session cookie, and checks of
// bearer access tokens (issuer, audience, expiry, type, RS256 signature with
// the provider's published keys; an unknown kid makes it fetch the JWKS
// again, so key rotation is followed).
//
// The professional's identity is the national id claim (IDNPS, "8"+RPPS or
// "0"+ADELI; SubjectNameID in PSC), the same as in a CPS card certificate.
// Refusals are logged with their reason; callers answer a plain 401.
package oidcauth
