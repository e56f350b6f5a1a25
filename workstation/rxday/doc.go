// Package rxday makes the prescriptions of a pharmacy's day, for
// 'workstation generate' and 'make demo': a prescription's structured data
// and its one-page PDF layout (Layout, also what 'workstation prescribe'
// signs), and, for generated pharmacy sheets, their prescription
// references in turn — carried by fsegate (signed by a generated
// prescriber with the keys it is given: the fixtures' test doctor's,
// which fixtures/dev.Prescriber loads), national numbers, and paper with a
// generated scan (Day). Test and demonstration data: the generated
// prescriber's certificate chains only to the fixtures' test PKI.
package rxday
