// Package fse is the care sheet (feuille de soins électronique) and the
// prescription reference: the model, the XML format urn:fsegate:fse:1, the
// identifier checks (NIR, RPPS, ADELI, FINESS, CIP13), the business rules a
// caisse checks, the tariff table and the routing key.
//
// Contract: pure Go, importing nothing else of fsegate; used by the
// workstation (before it asks for a PIN) and by the gateway (before it
// queues). Money is integer cents. It never opens files: the tariff and
// holiday tables are read by the caller (ParseTariffs, ParseHolidays) and
// given in Options.
//
// Reading: Decode (XML bytes), DecodeElement (an etree root already parsed,
// shared with signature verification), DecodeJSON. One enveloped
// ds:Signature, last child of the root, is accepted and ignored.
// Sheet.Encode is the canonical form; Sheet.ContentDigest its SHA-256,
// which does not depend on the signature. Sheet.Destinations is the routing
// key (AMO, and AMC under AMC tiers payant).
//
// Errors: Validate returns every violation in one *ValidationError whose
// Unwrap gives *FieldError values (code, path, value with the NIR masked,
// message, hint), each unwrapping to the sentinel *CodeInfo of its code
// (ErrNIRKey, …), so errors.Is works. Warnings (LATE, DEGRADED_MODE) are
// returned apart. Decoding errors are *ValidationError too, with one SHEET_*
// code and the line. Codes lists every code; docs/errors.md documents them.
//
// Money: Compute prices a sheet line by line from the dated tariff tables
// (Tariffs for NGAP, CCAMTariffs, DrugTariffs with the pharmacy fees, read
// by ParseTariffs, ParseCCAM, ParseDrugs): each line's rate, exemption,
// base, AMO, complementary and patient shares, and the participation
// forfaitaire and franchises due, which are recorded and never deducted
// from a tiers-payant payment. Validate compares what a sheet records with
// Compute; Caps applies the yearly caps over the sheets an insurer sees.
// PaymentDue is the tiers-payant payment deadline; Deadline the sending
// one. docs/amounts.md says what each rule rests on.
//
// Generate makes realistic sheets for tests, the demo and load tests, valid
// unless told to break one rule.
package fse
