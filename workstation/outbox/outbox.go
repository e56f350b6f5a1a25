package outbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"syscall"
	"time"
)

// State of a sheet in the outbox.
type State string

const (
	// Pending: signed and stored, no receipt yet (never sent, or the
	// gateway could not be reached, or the send failed in transit).
	Pending State = "pending"
	// Receipted: the gateway queued it durably; waiting for the insurer.
	Receipted State = "receipted"
	// Refused: the gateway refused it with error codes; it waits for a
	// correction (a new signed sheet with the same number).
	Refused State = "refused"
	// Final: the sheet reached a final state at the insurer (paid,
	// accepted, rejected, …); kept as the legal copy until pruned.
	Final State = "final"
)

// Entry is one sheet's record.
type Entry struct {
	Key        string    `json:"key"`
	Billing    string    `json:"billing"`
	Number     string    `json:"number"`
	Digest     string    `json:"sha256"`            // of the signed bytes
	Source     string    `json:"source,omitempty"`  // the caller's digest of the unsigned sheet (PutSource)
	Content    string    `json:"content,omitempty"` // the digest of the sheet's content without its signature (PutSheet)
	State      State     `json:"state"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Attempts   int       `json:"attempts"`
	NextTry    time.Time `json:"next_try,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	Receipt    []byte    `json:"receipt,omitempty"`     // the gateway's receipt, as received (JSON)
	Codes      []string  `json:"codes,omitempty"`       // refusal codes
	FinalState string    `json:"final_state,omitempty"` // paid, accepted, rejected, …
	FinalAt    time.Time `json:"final_at,omitzero"`
}

// Outbox is a directory of signed sheets. Safe for concurrent use within
// one process; two processes on one outbox are serialised by the caller
// (the workstation holds a lock file).
type Outbox struct {
	dir string
	now func() time.Time
	mu  sync.Mutex
}

// Errors.
var (
	ErrConflict = errors.New("another signed sheet with the same billing number and number is already in the outbox")
	ErrNotFound = errors.New("no such sheet in the outbox")
	errBadKey   = errors.New("invalid billing number or sheet number")
)

var keyPart = regexp.MustCompile(`^[0-9]{1,20}$`)

// Key is the outbox key of a sheet.
func Key(billing, number string) (string, error) {
	if !keyPart.MatchString(billing) || !keyPart.MatchString(number) {
		return "", fmt.Errorf("%w: %q, %q", errBadKey, billing, number)
	}
	return billing + "-" + number, nil
}

// Open opens (creating if needed) the outbox in dir. now may be nil.
func Open(dir string, now func() time.Time) (*Outbox, error) {
	if now == nil {
		now = time.Now
	}
	for _, d := range []string{dir, filepath.Join(dir, "sheets"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open outbox: %w", err)
		}
	}
	return &Outbox{dir: dir, now: now}, nil
}

// ErrLocked is returned by Lock when another process holds the outbox.
var ErrLocked = errors.New("the outbox is in use by another workstation process")

// Lock takes the outbox's lock file (flock, released by the kernel when
// the process dies), so that two workstation processes never send from
// one outbox at once. It fails at once with ErrLocked when it is held.
func (o *Outbox) Lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(o.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", ErrLocked, o.dir)
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Dir is the outbox directory.
func (o *Outbox) Dir() string { return o.dir }

// Put stores a signed sheet durably before it is sent. Putting the same
// bytes again is a no-op returning the existing entry. Other bytes under the
// same key are refused with ErrConflict, unless the earlier sheet was
// refused by the gateway or rejected by the insurer: then this one is its
// correction and replaces it.
func (o *Outbox) Put(billing, number string, signed []byte) (*Entry, error) {
	return o.PutSource(billing, number, signed, "")
}

// PutSource is Put that also records source, the caller's digest of the
// unsigned sheet the signed one was made from (Entry.Source): a batch run
// again over the same folder knows which files it has already signed, and
// which refused ones were corrected since.
func (o *Outbox) PutSource(billing, number string, signed []byte, source string) (*Entry, error) {
	return o.PutSheet(billing, number, signed, source, "")
}

// PutSheet is PutSource that also records content, the digest of the
// sheet's content without its signature (Entry.Content): the same sheet
// signed again (another signing time, other signed bytes) is the same
// sheet, not a second one under its number, as it is for the gateway.
func (o *Outbox) PutSheet(billing, number string, signed []byte, source, content string) (*Entry, error) {
	key, err := Key(billing, number)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	sum := sha256.Sum256(signed)
	digest := hex.EncodeToString(sum[:])
	if e, err := o.get(key); err == nil {
		if e.Digest == digest || (content != "" && e.Content == content) {
			return e, nil
		}
		if e.State != Refused && !(e.State == Final && e.FinalState == "rejected") {
			return nil, fmt.Errorf("%w (%s, state %s)", ErrConflict, key, e.State)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err := writeDurable(o.sheetPath(key), signed); err != nil {
		return nil, fmt.Errorf("store signed sheet %s: %w", key, err)
	}
	now := o.now().UTC()
	e := &Entry{Key: key, Billing: billing, Number: number, Digest: digest, Source: source, Content: content, State: Pending, Created: now, Updated: now}
	if err := o.save(e); err != nil {
		return nil, err
	}
	return e, nil
}

// Get returns the entry of key.
func (o *Outbox) Get(key string) (*Entry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.get(key)
}

// Signed returns the signed bytes of key, exactly as stored.
func (o *Outbox) Signed(key string) ([]byte, error) {
	b, err := os.ReadFile(o.sheetPath(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return b, err
}

// List returns every entry, oldest first.
func (o *Outbox) List() ([]*Entry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	names, err := filepath.Glob(filepath.Join(o.dir, "state", "*.json"))
	if err != nil {
		return nil, err
	}
	out := make([]*Entry, 0, len(names))
	for _, n := range names {
		e, err := o.get(trimExt(filepath.Base(n)))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

// Due returns the pending entries whose next try is due now.
func (o *Outbox) Due() ([]*Entry, error) {
	all, err := o.List()
	if err != nil {
		return nil, err
	}
	now := o.now()
	var out []*Entry
	for _, e := range all {
		if e.State == Pending && !e.NextTry.After(now) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Backoff is the wait before the n-th retry (n ≥ 1): 2 s doubling to 5 min.
func Backoff(n int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < n && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// Failed records a send that did not reach a verdict (network down, 5xx):
// the sheet stays pending and is tried again after a backoff.
func (o *Outbox) Failed(key string, cause error) error {
	return o.update(key, func(e *Entry) {
		e.Attempts++
		e.LastError = cause.Error()
		e.NextTry = o.now().Add(Backoff(e.Attempts))
	})
}

// Receipted records the gateway's receipt. A sheet already final stays
// final: the receipt of a re-send ("sent before") says nothing new, and
// the final notices it would wait for were given already.
func (o *Outbox) Receipted(key string, receipt []byte) error {
	return o.update(key, func(e *Entry) {
		e.Attempts++
		if e.State == Final {
			return
		}
		e.State = Receipted
		e.Receipt = append([]byte(nil), receipt...)
		e.LastError, e.NextTry, e.Codes = "", time.Time{}, nil
	})
}

// Refused records a refusal with its codes; the sheet waits for a correction.
func (o *Outbox) Refused(key string, codes []string) error {
	return o.update(key, func(e *Entry) {
		e.Attempts++
		e.State = Refused
		e.Codes = append([]string(nil), codes...)
		e.NextTry = time.Time{}
	})
}

// Resend puts a receipted sheet back to pending: the gateway no longer
// knows it (its receipt was lost with a store), so it is sent again.
func (o *Outbox) Resend(key string) error {
	return o.update(key, func(e *Entry) {
		if e.State == Receipted {
			e.State = Pending
			e.NextTry = time.Time{}
		}
	})
}

// Finalize records the sheet's final state at the insurer.
func (o *Outbox) Finalize(key, finalState string) error {
	return o.update(key, func(e *Entry) {
		if e.State == Final {
			return
		}
		e.State = Final
		e.FinalState = finalState
		e.FinalAt = o.now().UTC()
	})
}

// Prune removes sheets that reached their final state more than keep ago
// (at least 90 days: the legal retention of the electronic double). It
// returns the keys removed.
func (o *Outbox) Prune(keep time.Duration) ([]string, error) {
	if keep < 90*24*time.Hour {
		return nil, fmt.Errorf("prune: keep %s is under the legal 90 days", keep)
	}
	all, err := o.List()
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cut := o.now().Add(-keep)
	var removed []string
	for _, e := range all {
		if e.State != Final || e.FinalAt.After(cut) {
			continue
		}
		// State first: a crash in between leaves an orphan sheet file,
		// never a state pointing at nothing.
		if err := os.Remove(o.statePath(e.Key)); err != nil {
			return removed, err
		}
		if err := os.Remove(o.sheetPath(e.Key)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, e.Key)
	}
	return removed, syncDir(filepath.Join(o.dir, "state"))
}

func (o *Outbox) update(key string, f func(*Entry)) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, err := o.get(key)
	if err != nil {
		return err
	}
	f(e)
	e.Updated = o.now().UTC()
	return o.save(e)
}

func (o *Outbox) get(key string) (*Entry, error) {
	b, err := os.ReadFile(o.statePath(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("outbox state %s: %w", key, err)
	}
	return &e, nil
}

func (o *Outbox) save(e *Entry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	if err := writeDurable(o.statePath(e.Key), append(b, '\n')); err != nil {
		return fmt.Errorf("store outbox state %s: %w", e.Key, err)
	}
	return nil
}

func (o *Outbox) sheetPath(key string) string { return filepath.Join(o.dir, "sheets", key+".xml") }
func (o *Outbox) statePath(key string) string { return filepath.Join(o.dir, "state", key+".json") }

func trimExt(name string) string { return name[:len(name)-len(filepath.Ext(name))] }

// writeDurable writes b to path atomically: temp file, fsync, rename, fsync
// of the directory. Readers see the old content or the new, never a part.
func writeDurable(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Adopt moves into o the entries of the outbox in dir old (an outbox whose
// default place changed): each signed sheet and its state are written
// durably in o, then removed from old, so that a crash in the middle
// leaves every sheet in one outbox at least and a second Adopt ends the
// move. An entry o already holds with the same signed bytes is dropped from
// old; one with other bytes stays in old and is listed in left (the caller
// says so). old's lock is taken first: a workstation process still using
// old makes Adopt fail with ErrLocked, nothing moved. old is removed when
// it ends empty. A missing old moves nothing.
func (o *Outbox) Adopt(old string) (moved int, left []string, err error) {
	if _, err := os.Stat(filepath.Join(old, "state")); errors.Is(err, os.ErrNotExist) {
		return 0, nil, nil
	}
	from := &Outbox{dir: old, now: o.now}
	unlock, err := from.Lock()
	if err != nil {
		return 0, nil, err
	}
	all, err := from.List()
	if err != nil {
		unlock()
		return 0, nil, fmt.Errorf("read the outbox %s: %w", old, err)
	}
	o.mu.Lock()
	for _, e := range all {
		var signed []byte
		signed, err = from.Signed(e.Key)
		if err != nil {
			break
		}
		if have, gerr := o.get(e.Key); gerr == nil {
			if have.Digest != e.Digest {
				left = append(left, e.Key)
				continue
			}
		} else if !errors.Is(gerr, ErrNotFound) {
			err = gerr
			break
		} else {
			if err = writeDurable(o.sheetPath(e.Key), signed); err != nil {
				break
			}
			if err = o.save(e); err != nil {
				break
			}
			moved++
		}
		if err = os.Remove(from.statePath(e.Key)); err != nil {
			break
		}
		if err = os.Remove(from.sheetPath(e.Key)); err != nil {
			break
		}
	}
	o.mu.Unlock()
	unlock()
	if err != nil {
		return moved, left, fmt.Errorf("move the outbox %s to %s: %w", old, o.dir, err)
	}
	if len(left) == 0 {
		// Only what an outbox holds; anything else keeps old in place.
		for _, p := range []string{filepath.Join(old, "sheets"), filepath.Join(old, "state"), filepath.Join(old, "lock"), old} {
			if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				break
			}
		}
	}
	return moved, left, nil
}
