// Package doctor holds the checks of 'workstation doctor': what a
// workstation needs (pcscd and its readers, a CPS card, its certificates
// and PIN, the gateway and its clock, the outbox) judged OK, worth a
// warning, or wrong, each with what to do, in plain words (like the ANS's
// DiagCPS).
//
// A Report collects Findings (a Level, what was checked, what was found,
// what to do) and hands each to its Print hook as it is found; its
// methods take what cmd/workstation read (the readers pcscd sees, the
// card's Info, the trust anchors, the gateway's URL and roots, the
// outbox's directory) and judge it. Only Gateway does I/O of its own (an
// HTTPS request to the gateway, to see its certificate and its clock).
// The package prints nothing and asks no PIN; Fails and Warns count what
// was found.
package doctor
