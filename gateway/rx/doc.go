// Package rx is the gateway's rule for prescriptions fsegate carries: what
// a carried prescription must hold (its structured data, prescription.json
// inside the signed PDF), who may issue one, and how a pharmacy or nurse
// claim is checked against it and recorded, one dispensation per sheet and
// prescription line.
//
// The package is pure: the gateway keeps a Record per prescription in a
// JetStream KV bucket and applies Record.Dispense under compare-and-swap,
// so two claims racing on the same line see each other (one wins, the
// other gets PRESCRIPTION_DISPENSED). Problems carry the stable codes of
// docs/errors.md.
//
// Validity: a first dispensation within 3 months of the prescription date,
// renewals within 12 months (code de la santé publique R5132-22, which
// bounds renewals by R5132-21's 12-month treatment limit). Generic
// substitution within the prescribed line's generic group is allowed
// (CSP L5125-23); the groups come from the gateway's generic table.
package rx
