// Package testenv gives tests the real parts they need, started and stopped
// per test: a vpcd reader of the pcscd that 'make test' runs (leased through
// a lock file so parallel test binaries never share one), a virtual card in
// it, and an in-process nats-server with JetStream on a temp dir.
//
// Nothing here skips: a missing pcscd or reader fails the test and says how
// to get one (make test starts everything).
package testenv
