// Package fse is the care sheet (feuille de soins électronique) and the
// prescription reference: the model, the XML format urn:fsegate:fse:1, the
// identifier checks (NIR, RPPS, ADELI, FINESS, CIP13), the business rules a
// caisse checks, the tariff table and the routing key.
//
// Contract: pure Go, importing nothing else of fsegate; used by the
// workstation (before it asks for a PIN) and by the gateway (before it
// queues). Money is integer cents. Validation failures are data: one
// *ValidationError holding every violation, each with a stable code and the
// path of its field.
package fse
