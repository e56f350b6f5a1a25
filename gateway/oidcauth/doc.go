// Package oidcauth makes the gateway a relying party of Pro Santé Connect
// (OpenID Connect): sign-in with the authorization code flow (PKCE S256,
// state and nonce, acr_values eidas1), a short-lived HMAC-signed session
// cookie, and checks of bearer access tokens. The discovery document is read
// at <issuer>/.well-known/wallet-openid-configuration (Config.DiscoveryPath).
//
// Tokens are taken in the shape Pro Santé Connect issues them, as observed
// in one public sample (docs/ecps.md): RS256 with a key of the provider's
// JWKS (an unknown kid makes it fetch the JWKS again, so key rotation is
// followed), the issuer, not expired, typ "Bearer" or "ID", acr eidas1 or
// above. An access token may lack aud: it is then taken only when its azp
// is one of Config.AuthorizedParties; with an aud, the aud must name
// Config.Audience. An ID token's aud always names the client id.
//
// The professional's identity is their national id (IDNPS, "8"+RPPS or
// "0"+ADELI), the same as in a CPS card certificate: the token's
// SubjectNameID claim, else its sub "f:<uuid>:<national id>", else
// userinfo's SubjectNameID (for the token's subject); sources that disagree
// refuse the token.
//
// Errors: every refusal is an *Error with a Code (ECPS_SIGNATURE,
// ECPS_ISSUER, ECPS_EXPIRED, ECPS_TOKEN_TYPE, ECPS_AUDIENCE, ECPS_ACR,
// ECPS_NATIONAL_ID, ECPS_PROVIDER_UNAVAILABLE, ECPS_SIGNIN_FAILED;
// docs/errors.md) that compares with errors.Is by code. Bearer returns
// ErrTokenInvalid joined with it; the callers answer a plain 401 and the
// reason goes to the Logger. A refused sign-in answers 401 with its code.
package oidcauth
