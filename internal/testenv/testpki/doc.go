// Package testpki issues, while a test runs, certificates and CRLs under
// the fixtures' test PKI (fixtures/pki, whose CA keys are committed): a
// card certificate with another usage or a CRL distribution point, a CRL
// that revokes it, a CA certificate issued again. What 'make fixtures'
// writes stays as it is.
//
// Contract: every function fails the test (t.Fatal) rather than return an
// error. Tests only.
package testpki
