// Command workstation is what a practice's or a pharmacy's computer runs: it
// talks to the CPS card over PC/SC, checks and signs care sheets and
// prescriptions, sends them to the gateway (keeping them in a durable outbox
// while the network is down) and follows their acknowledgements.
package main
