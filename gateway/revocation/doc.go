// Package revocation keeps the gateway's trust store fresh while it runs:
// a Refresher reads the trust directory again and fetches the CRLs (the
// CAs' distribution points, those of the certificates verified, and
// configured URLs) every so often, keeping the last good CRL of a CA
// whose fetch fails until that CRL's next update (docs/operations.md,
// "Revocation").
//
// Contract: a refresh never leaves the store worse than it was; a CRL past
// its next update makes signature refuse its CA's certificates
// CRL_STALE, which the refresher logs, as it warns of a CRL nearing its
// next update (WarnBefore). It registers no metrics: failures go to the
// Failed hook.
//
// Errors: Refresh returns the failures of one refresh joined (errors.Join)
// — the trust directory's read error and signature.TrustStore.RefreshCRLs'
// per-URL errors; Run ignores them (they are logged and counted).
package revocation
