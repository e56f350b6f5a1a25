// Package practices reads the directory of who may sign for whom
// (fixtures/practices.yaml in development): each billing number (numéro AM
// of a practice or pharmacy) and the national ids allowed to sign and send
// care sheets for it.
package practices
