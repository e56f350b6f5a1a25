// Package psc is a mock of Pro Santé Connect (PSC), the national OpenID
// Connect provider of French health professionals, for development and
// tests. It serves the discovery document, a JWKS (with key rotation), an
// authorization endpoint whose page simulates the e-CPS step (the
// professional types their national id and the 4-digit code of the e-CPS
// app; here the code is the card profile's PIN), a token endpoint
// (authorization code with PKCE S256 only) and a userinfo endpoint.
//
// Tokens are RS256 JWTs. Both the id token and the access token carry the
// professional's national id (IDNPS, "8"+RPPS or "0"+ADELI) in the claims
// SubjectNameID and preferred_username, as PSC does; "typ" is "ID" or
// "Bearer". Users come from the fixtures' card profiles (FixtureUsers).
//
// Nothing here is fit for production: keys are generated at start and live
// in memory, and the e-CPS code is compared in clear.
package psc
