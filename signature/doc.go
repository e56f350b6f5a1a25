// Package signature signs and verifies bytes for fsegate and says who
// signed: enveloped XAdES-BES for care sheets, CMS (pdfsign) for PDF
// prescriptions, certificate chains to configured roots, key usage and
// revocation from CRLs.
//
// Contract: signature knows nothing of care sheets. Verify works on the exact
// received bytes and returns the signer (national id, card type,
// certificate) and the signed content; the caller compares the signer with
// what the document claims. Failures are data: stable codes listed in
// docs/errors.md.
package signature
