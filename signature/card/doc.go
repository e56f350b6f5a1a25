// Package card speaks the CPx (IAS-ECC) commands of the French health
// professional card (CPS) over PC/SC, through the system's pcscd and
// github.com/ebfe/scard.
//
// Contract: a card gives two keys. The signature key (reference 0x81,
// nonRepudiation) is a Signer: SignMessage hashes all full SHA-256 blocks on
// the host and sends PSO HASH with the intermediate state and the last block
// (the path real CPx cards take); Sign, for callers that only have a digest
// (pdfsign's CMS code), sends the final hash, which a real card may refuse,
// and then the error says so. The authentication key (0x82) signs a
// DigestInfo with PKCS#1 v1.5 through INTERNAL AUTHENTICATE, which is why
// TLS with the card is TLS 1.2. The PIN is asked through a callback, sent in
// one VERIFY and never kept.
//
// Entry points: OpenPCSC (through pcscd) or Open over a Transport
// (Loopback for an in-process virtual.CPS); Card.Info, Card.Certificates,
// Card.Situations (the billing situations of files D120 to D12F, in
// fsegate's own layout: Situation is its one codec), Card.PINStatus,
// Card.Login, Card.Unblock; Card.SignatureKey (a Signer),
// Card.AuthenticationKey and Card.TLSCertificate (crypto/tls client
// authentication: cap the tls.Config at TLS 1.2); Card.SignBatch (one PIN
// entry for many signatures, resumable); Readers, WaitForCard. Close
// resets the card. Token is the card whichever way it is reached: *Card
// (PC/SC) or a PKCS#11 module's token (package signature/card/pkcs11); both
// give a Key (SigningKey) and a TLSCertificate. HolderOf reads the holder
// as the gateway reads a signer (signature.IdentityOf: the national id of
// the IGC-Santé extension, else the subject CN). docs/card.md has the
// APDUs (built with signature/card/internal/apdu, the one vocabulary the
// virtual card parses too), both backends and the virtual card.
//
// Errors: status words are typed (*StatusError: ErrWrongPIN with
// TriesLeft, ErrPINBlocked, ...) and compare with errors.Is; the reader
// errors are ErrNoPCSC, ErrNoReader, ErrNoCard, ErrCardRemoved, ErrNotCPS,
// ErrContactless; a situation file that is not a record of fsegate's
// layout is ErrSituationMalformed; a backend that shows no situations
// returns ErrNoSituations.
package card
