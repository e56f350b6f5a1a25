// Package loadgen drives a gateway the way thousands of practices would:
// sheets pre-signed with the software keys of the test cards, sent at a
// target rate over keep-alive mTLS connections (one client certificate per
// practitioner), then every notice followed to the end, with exact
// accounting: sent, receipted, refused, final, missing, duplicated. The
// senders' keys and the tariffs are values (NewPractitioner, Prepare):
// fixtures/dev.Practitioners and dev.Tariffs give the test cards' and the
// fixtures' NGAP table.
//
// Signing is the expensive part of preparing a load (an RSA-2048 signature
// per sheet), so a prepared corpus is cached in a file and reused as long as
// its sheets are fresh (the gateway's data must then be new: a sheet it
// already has is answered with its first receipt, which is not a load).
package loadgen
