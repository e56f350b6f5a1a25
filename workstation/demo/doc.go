// Package demo runs one care sheet journey end to end, thin but real: it
// generates synthetic care sheets for the card holder's practice, signs each
// with the card's signature key (XAdES, PSO HASH + PSO CDS through PC/SC),
// sends them to the gateway over TLS authenticated by the card's
// authentication key, then follows the notices (ARL, returns, payments)
// until every sheet reaches its final state, printing each event as it
// arrives and a summary at the end.
//
// 'make demo' runs it through 'workstation demo'; the end-to-end test of the
// gateway runs it in-process.
package demo
