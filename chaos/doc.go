// Package chaos is the fault campaign's record and judge: the history of
// every operation the clients and the runner did (Op, Recorder), what the
// cluster holds at the end (Snapshot), and the checker (Check) that holds
// them against the promise of design §5: every receipted sheet reaches
// exactly one final state per destination and sits in exactly one lot;
// nothing is paid twice; another sheet under a receipted key is never
// accepted (but as the correction of a rejected one); states only move
// forward; every notice is delivered, confirmed, none lost; the audit
// chain verifies and never forks; nothing refused is queued.
//
// The checker is pure: it reads a history and a snapshot, nothing else.
// A failed check names the rule (Violation) and tells the whole story of
// the sheet (Story). The campaign that makes the history, with separate
// processes, network namespaces and faults, is chaos/campaign; its command
// is chaos/cmd/chaos ('make chaos'); docs/reliability.md keeps the results.
package chaos
