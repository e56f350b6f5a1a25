// Package client is the Go client of the fsegate gateway's HTTPS API, for
// practice and pharmacy software written in Go (and for the workstation).
//
// The connection is authenticated with the CPS card's authentication key:
// pass the card's tls.Certificate (card.Card.TLSCertificate). The card signs
// PKCS#1 v1.5 only and TLS 1.3 requires RSA-PSS, so New caps the connection
// at TLS 1.2 whenever a client certificate is given.
//
// Errors: a refusal by the gateway is a *Problem listing every error code;
// anything else (network, TLS, 5xx without a body) is a transport error the
// caller may retry, since the gateway's intake is idempotent.
package client
