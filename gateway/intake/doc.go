// Package intake is the gateway's intake policy: what it takes from a
// workstation and on what grounds (docs/who-may-bill.md, docs/protocol.md).
//
// A Service checks one signed care sheet and queues it: the one strict
// parse of the signed bytes, the signature and the signer's certificate
// (signature), the signer being the practitioner or the remplaçant the
// sheet names and the sender being the signer, who may bill for the billing
// number (gateway/practices, at the gateway's clock), the fse rules, the
// route of each destination to an insurer (insurers), the prescription
// reference (a carried prescription is checked and its dispensations
// recorded through gateway/rx), and finally queue.Submit: a receipt only
// once the queue confirmed the write. Service.Check runs the checks alone;
// Service.Submit runs them and queues (or previews, on a dry run).
// SubmitPrescription keeps a signed prescription PDF; SubmitSCOR queues
// the SCOR piece of a sheet waiting for it.
//
// Errors are data: every refusal reason comes back as an api.Error with
// its stable code (docs/errors.md), every reason found at once, never as a
// Go error; warnings travel with the receipt. The package declares no code:
// each reason carries the code of the package that owns it — fse (the
// rules, SHEET_MALFORMED), signature (the signature, the certificate,
// SIGNER_MISMATCH, SCOR_PIECE_INVALID), gateway/practices (who may bill,
// SENDER_MISMATCH), gateway/rx (carried prescriptions), insurers
// (INSURER_UNKNOWN) and queue (DUPLICATE_SHEET, STORAGE_FULL,
// QUEUE_UNAVAILABLE, PRESCRIPTION_CONFLICT, the SCOR piece's). A refusal
// whose first reason is transient (the queue's, a missing or stale CRL) is
// not kept in the practice's list of refusals. It chooses no HTTP status
// (gateway/httpapi does).
//
// The service does not register metrics: it calls the Metrics hooks, which
// the gateway backs with its Prometheus series.
package intake
