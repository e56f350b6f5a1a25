// Package pkcs11 reaches a CPS card through a PKCS#11 module: the ANS's
// Cryptolib CPS (what French practices have installed), OpenSC's
// opensc-pkcs11.so, or any token holding a CPS's keys and certificates
// (SoftHSM2 in the tests). It wraps github.com/miekg/pkcs11 (cgo, dlopen of
// the module).
//
// Contract: a Token is a card.Token, like *card.Card: the signature key
// (SigningKey: crypto.Signer and crypto.MessageSigner, SHA-256 with
// PKCS#1 v1.5, CKM_SHA256_RSA_PKCS where the token offers it, else a
// DigestInfo signed with CKM_RSA_PKCS) and the authentication key for TLS
// 1.2 client authentication (TLSCertificate: PKCS#1 v1.5 only). Keys are
// found by their certificates' key usage (nonRepudiation for the signature
// key) and paired by CKA_ID, or named by RFC 7512 URIs (ParseURI). The PIN
// is asked through the card.PINPrompt at the first signature, unless the
// token has a protected authentication path (a PIN pad); keys marked
// CKA_ALWAYS_AUTHENTICATE get a context-specific login per signature.
// Close logs out.
//
// Errors: the card package's. A wrong PIN is a *card.StatusError 63 Cx
// when the token's flags tell the tries left (count low: 2, final try: 1),
// else an error that matches card.ErrWrongPIN without a count; a locked
// PIN is card.ErrPINBlocked (69 83), and no prompt is shown then; a token
// removed is card.ErrCardRemoved; a module that does not sign with the
// signature key (OpenSC on a CPx, CKR_FUNCTION_NOT_SUPPORTED) is
// ErrKeyNotOffered; a module that cannot be loaded is ErrModule. A token
// has no billing situations: Situations returns card.ErrNoSituations.
package pkcs11
