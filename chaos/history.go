package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Op kinds of a history.
const (
	OpSend    = "send"    // a sheet posted: a receipt, a refusal or an error
	OpStatus  = "status"  // a sheet's state read
	OpNotices = "notices" // notices read for a billing number
	OpConfirm = "confirm" // notices confirmed up to a sequence
	OpFault   = "fault"   // a fault injected
	OpHeal    = "heal"    // a fault healed
	OpAudit   = "audit"   // the audit chain read (its length and last hash)
)

// Results of a send.
const (
	Receipted = "receipt"
	Refused   = "refused" // a problem+json: a definite answer
	Failed    = "error"   // transport error or timeout: the outcome is unknown
)

// Variants of a send.
const (
	Original = "original" // the sheet of the corpus
	Resend   = "resend"   // the same bytes again (a workstation's retry)
	Doublon  = "doublon"  // another sheet under a receipted key
)

// Op is one operation of the campaign, as the client or the runner saw it:
// from T (start) to End (answer).
type Op struct {
	T    time.Time `json:"t"`
	End  time.Time `json:"end,omitzero"`
	Kind string    `json:"kind"`
	// Proc is the gateway asked, or the fault's target (n1, g2, cpam751…).
	Proc string `json:"proc,omitempty"`
	// Key is <billing>.<number> of the sheet concerned.
	Key     string `json:"key,omitempty"`
	Variant string `json:"variant,omitempty"`
	// Sent is the content digest of the sheet sent (computed by the client).
	Sent   string `json:"sent,omitempty"`
	Result string `json:"result,omitempty"`
	// Digest, Again, Corrects: the receipt's.
	Digest   string   `json:"digest,omitempty"`
	Again    bool     `json:"again,omitempty"`
	Corrects string   `json:"corrects,omitempty"`
	HTTP     int      `json:"http,omitempty"`
	Codes    []string `json:"codes,omitempty"`
	// Dests is a status read: each destination's state.
	Dests []Dest `json:"dests,omitempty"`
	// Billing, Notices: a notices read; Seq: a confirmation's sequence,
	// or the audit chain's length.
	Billing string   `json:"billing,omitempty"`
	Notices []Notice `json:"notices,omitempty"`
	Seq     uint64   `json:"seq,omitempty"`
	// Fault is the kind of fault (see the campaign), Detail anything else
	// (an error, the audit chain's last hash).
	Fault  string `json:"fault,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Dest is a sheet's state at one destination.
type Dest struct {
	Insurer       string `json:"insurer"`
	State         string `json:"state"`
	ExpectPayment bool   `json:"expect_payment,omitempty"`
	Lot           string `json:"lot,omitempty"`
	Code          string `json:"code,omitempty"`
	Amount        int64  `json:"amount,omitempty"`
}

// Notice is one notice as read by a client (or as stored, in a Snapshot).
type Notice struct {
	Seq     uint64 `json:"seq"`
	ID      string `json:"id"`
	Billing string `json:"billing,omitempty"`
	Number  string `json:"number,omitempty"`
	Insurer string `json:"insurer"`
	Lot     string `json:"lot,omitempty"`
	Event   string `json:"event"`
	Code    string `json:"code,omitempty"`
	Amount  int64  `json:"amount,omitempty"`
}

// Recorder appends ops to a JSON-lines file, one line per op, safe for
// concurrent use. Each line is written whole (a crash loses at most the
// op being written).
type Recorder struct {
	mu sync.Mutex
	w  *bufio.Writer
	f  *os.File
}

// NewRecorder creates (or appends to) the history file at path.
func NewRecorder(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return &Recorder{f: f, w: bufio.NewWriter(f)}, nil
}

// Add records op.
func (r *Recorder) Add(op Op) {
	b, _ := json.Marshal(op)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w.Write(b)
	r.w.WriteByte('\n')
	if r.w.Buffered() > 64<<10 {
		r.w.Flush()
	}
}

// Close flushes and closes the file.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.w.Flush(); err != nil {
		r.f.Close()
		return err
	}
	return r.f.Close()
}

// ReadHistory reads a JSON-lines history; a torn last line is ignored.
func ReadHistory(r io.Reader) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var op Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			continue
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	SortOps(ops)
	return ops, nil
}

// ReadHistoryFiles reads and merges several history files.
func ReadHistoryFiles(paths ...string) ([]Op, error) {
	var all []Op
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		ops, err := ReadHistory(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("history %s: %w", p, err)
		}
		all = append(all, ops...)
	}
	SortOps(all)
	return all, nil
}

// SortOps orders ops by start time.
func SortOps(ops []Op) {
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].T.Before(ops[j].T) })
}
