// Package verify checks signed care sheets and prescriptions as files,
// offline, without a running gateway: what 'gateway verify' prints.
//
// File reads one file and returns a Report: the signer, and every problem
// found, each an Error with a code of docs/errors.md. A care sheet (XML) is
// read by the one parse of signed bytes (signature.Verifier), as the intake
// and the insurers read it, and its signer must be the practitioner or the
// remplaçant it names; a prescription (PDF) must carry prescription.json
// whose digest and id match its 2D code (FSEGATE-RX:1;id;digest, made by
// the workstation's prescribe) and which names its signer. The trust, the
// clock and the signing-age limit are the Verifier's.
//
// Errors: File returns none; a file that cannot be read is a Report with
// FILE_UNREADABLE, an XML file that is not a care sheet SHEET_MALFORMED, a
// prescription whose data does not match PRESCRIPTION_INVALID, and the
// signature package's codes (signature.Codes) otherwise.
package verify
