// Package outbox is the workstation's durable store of signed care sheets.
//
// Every signed sheet is written (and fsync'd, file and directory) before it
// is sent, and kept until its final state: it is also the practitioner's
// legal electronic copy (kept at least 90 days after, then pruned). A
// killed workstation loses nothing; a sheet is sent again until the gateway
// has given a receipt, and the gateway's idempotency (same sheet, same
// receipt) makes a repeated send harmless.
//
// Layout under the outbox directory:
//
//	sheets/<key>.xml    the signed bytes, never rewritten
//	state/<key>.json    what happened to it (replaced atomically)
//
// where key is "<billing>-<number>".
package outbox
