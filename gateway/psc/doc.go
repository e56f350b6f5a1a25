// Package psc is a mock of Pro Santé Connect (PSC), the national OpenID
// Connect provider of French health professionals, for development and
// tests. It serves the discovery document (at PSC's
// /.well-known/wallet-openid-configuration and the standard path), a JWKS
// (with key rotation), an authorization endpoint whose page simulates the
// e-CPS step (the professional types their national id and the 4-digit
// code of the e-CPS app; here the code is the card profile's PIN), a token
// endpoint (authorization code with PKCE S256 only) and a userinfo
// endpoint.
//
// Tokens are RS256 JWTs in the shape PSC issues them, as observed in one
// public sample (docs/ecps.md): sub "f:<uuid>:<national id>", azp the
// client, acr "eidas1", preferred_username the national id, typ "ID" (with
// aud and nonce) or "Bearer" (without aud); the national id's claim
// SubjectNameID is userinfo's only. Config.OpaqueSubjects gives bare UUID
// subjects instead; Config.Mutate changes issued claims (tests). Users come
// from virtual card profiles (ProfileUsers; in development the fixtures'
// cards, fixtures/dev.PSCUsers).
//
// Nothing here is fit for production: keys are generated at start and live
// in memory, and the e-CPS code is compared in clear.
package psc
