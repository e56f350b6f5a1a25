// Command workstation is what a practice's or a pharmacy's computer runs: it
// talks to the CPS card over PC/SC, checks and signs care sheets and
// prescriptions, sends them to the gateway (keeping them in a durable outbox
// while the network is down) and follows their acknowledgements.
//
// The commands that check, sign and send care sheets (check, sign, batch,
// send, outbox --send, serve's POST /v1/sheets and its drain) are
// front-ends over package github.com/fsegate/fsegate/workstation, which
// decides what may be signed and sent; here are the flags, the output, the
// HTTP status codes and the exit codes.
package main
