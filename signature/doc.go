// Package signature signs and verifies bytes for fsegate and says who
// signed: enveloped XAdES-BES for care sheets (Sign, Verifier.Verify,
// Verifier.VerifyDocument), CMS through pdfsign for PDF prescriptions
// (SignPDF, Verifier.VerifyPDF), certificate chains to configured roots, key
// usage and revocation from CRLs kept current (TrustStore, LoadDir, LoadFS,
// ReloadDir, RefreshCRLs from the CRL distribution points), and TLS
// client certificates (TrustStore.VerifyClient).
//
// Contract: signature knows nothing of care sheets. Verify works on the exact
// received bytes and returns the signer (national id, card type, names,
// profession, certificate) and the signed content; the caller compares the
// signer with what the document claims (CheckSigner). Failures are data: a
// *VerifyError listing Problems, each with a stable Code (Codes lists them,
// docs/errors.md explains them); errors.Is(err, CodeCertRevoked) works.
package signature
