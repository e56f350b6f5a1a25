// Package queue is fsegate's durable pipeline on NATS JetStream: the
// topology (streams, subjects, KV, consumers, insurer users) defined in one
// file, the embedded nats-server, intake publishing with the exactly-once
// protocol of design.md §5, the batcher that builds lots per lot key, the
// ack router that applies ARLs, per-sheet returns and transfers (payments
// kept per practice in FSE_PAYMENTS, listed by Queue.Payments), and the
// status store; beside them, the records of carried prescriptions and their
// dispensations (prescriptions.go: compare-and-swap updates), the SCOR
// pieces and their lots (scor.go), and the intake refusals kept for the
// practices (refusals.go).
//
// Contract: a receipt is given only after the PubAck; every hop is durable
// and idempotent, so a process killed at any step loses nothing and sends
// nothing twice.
//
// Errors: the refusals are sentinels that carry their codes (codes.go;
// Codes lists them): problem.CodeOf(err) gives DUPLICATE_SHEET,
// STORAGE_FULL, SHEET_NOT_FOUND …, so that no caller maps them by hand.
// The HTTP layer (package api) chooses their statuses.
package queue
