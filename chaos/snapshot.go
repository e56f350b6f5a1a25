package chaos

import (
	"encoding/json"
	"fmt"
	"os"
)

// Snapshot is what the cluster holds once the campaign has drained: the
// status record of every sheet, every lot, every stored notice, the
// notice cursors and the audit chain. The runner reads it from JetStream;
// the checker compares it with the history.
type Snapshot struct {
	Sheets  map[string]*Sheet `json:"sheets"` // by <billing>.<number>
	Lots    []Lot             `json:"lots"`
	Notices []Notice          `json:"notices"`
	Cursors map[string]uint64 `json:"cursors"` // billing → last confirmed sequence
	Audit   []AuditEntry      `json:"audit"`
	// AuditVerify is the outcome of 'gateway audit verify' at the end.
	AuditVerify AuditVerify `json:"audit_verify"`
}

// Sheet is a status record.
type Sheet struct {
	Key      string  `json:"key"`
	Digest   string  `json:"digest"`
	Corrects string  `json:"corrects,omitempty"`
	State    string  `json:"state"`
	Dests    []Dest  `json:"dests"`
	History  []Event `json:"history,omitempty"`
}

// Event is one entry of a status record's history.
type Event struct {
	State   string `json:"state"`
	Insurer string `json:"insurer,omitempty"`
	Lot     string `json:"lot,omitempty"`
	Code    string `json:"code,omitempty"`
	Amount  int64  `json:"amount,omitempty"`
}

// Lot is a lot record: its sheets and where its attempts stand.
type Lot struct {
	ID       string     `json:"id"`
	Insurer  string     `json:"insurer"`
	State    string     `json:"state"`
	Attempt  int        `json:"attempt"`
	Attempts int        `json:"attempts"`
	Sheets   []LotSheet `json:"sheets"`
}

// LotSheet is one entry of a lot's manifest.
type LotSheet struct {
	Key    string `json:"key"`
	Digest string `json:"digest"`
}

// AuditEntry is one link of the audit chain, with its stream sequence.
type AuditEntry struct {
	Seq     uint64 `json:"seq"`
	Prev    string `json:"prev"`
	Hash    string `json:"hash"`
	Kind    string `json:"kind"`
	Lot     string `json:"lot,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// Valid: the entry's hash matches its content.
	Valid bool `json:"valid"`
}

// AuditVerify is what 'gateway audit verify' said.
type AuditVerify struct {
	OK     bool   `json:"ok"`
	Output string `json:"output"`
}

// ReadSnapshot reads a snapshot written by WriteSnapshot.
func ReadSnapshot(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return &s, nil
}

// WriteSnapshot writes s as JSON.
func WriteSnapshot(path string, s *Snapshot) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// rank orders the states of a destination (queue.State.Rank): final states
// share the top rank but for accepted, which a payment may follow.
func rank(state string) int {
	switch state {
	case "received":
		return 0
	case "queued":
		return 1
	case "batched":
		return 2
	case "delivered":
		return 3
	case "arl_positive":
		return 4
	case "accepted":
		return 5
	case "paid", "rejected", "delivery_failed", "returns_overdue":
		return 6
	}
	return -1
}

// final reports whether a destination's state is final.
func (d Dest) final() bool {
	switch d.State {
	case "paid", "rejected", "delivery_failed", "returns_overdue":
		return true
	case "accepted":
		return !d.ExpectPayment
	}
	return false
}

// finalEvent reports whether a notice or history event is a final one
// (accepted is final only without a payment to come: counted apart).
func finalEvent(e string) bool { return rank(e) == 6 }
