// Command workstation is what a practice's or a pharmacy's computer runs: it
// talks to the CPS card over PC/SC, checks and signs care sheets and
// prescriptions, sends them to the gateway (keeping them in a durable outbox
// while the network is down) and follows their acknowledgements.
//
// The commands are front-ends: here are the flags, the configuration, the
// output and the exit codes; the rules are in the packages of the
// workstation's wing. Check, sign, batch, send, outbox --send, status and
// notices call package github.com/fsegate/fsegate/workstation, which
// decides what may be signed and sent and what the outbox's records mean
// (and a batch folder's conventions); serve wires
// github.com/fsegate/fsegate/workstation/localapi (the local API's
// handlers, their HTTP statuses, its drain) to a listener; doctor prints
// the checks of workstation/doctor; payments reconcile calls
// workstation/reconcile; generate and prescribe call workstation/rxday.
package main
