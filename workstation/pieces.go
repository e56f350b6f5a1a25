package workstation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsegate/fsegate/client"
)

// Pieces sends what a batch folder holds besides its sheets, with the
// sender's client: the signed prescriptions first (sheets claim against
// them), then the SCOR piece of each receipted sheet that waits for one
// (folder.go says where they are). Its methods are safe for concurrent
// use: After is called from the batch's sender.
type Pieces struct {
	// Sender is the batch's: its client carries the pieces.
	Sender *Sender
	// Files maps an outbox key to the file of its sheet, where its SCOR
	// piece is looked for.
	Files map[string]string

	mu       sync.Mutex
	sent     map[string]string // outbox key → piece file sent
	missing  []string          // sheets that wait for a piece the folder lacks
	failures []error
}

// SendPrescriptions posts the signed prescriptions of files; a refused
// one is handed to refused (its sheets are then refused
// PRESCRIPTION_UNKNOWN, and sent again by a later run once it is fixed).
// The error is the client's or a file's: stop then.
func (p *Pieces) SendPrescriptions(ctx context.Context, files []string, refused func(file string, why *client.Problem)) (sent, bad int, err error) {
	if len(files) == 0 {
		return 0, 0, nil
	}
	cl, err := p.Sender.Client(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return sent, bad, err
		}
		_, err = cl.SendPrescription(ctx, data)
		var pr *client.Problem
		switch {
		case errors.As(err, &pr):
			bad++
			refused(f, pr)
		case err != nil:
			return sent, bad, err
		default:
			sent++
		}
	}
	return sent, bad, nil
}

// After sends the SCOR piece of a receipted sheet that waits for one
// (res.AwaitsSCOR), when its file has one beside it (SCORFile); a sheet
// without is counted missing.
func (p *Pieces) After(ctx context.Context, res SendResult) {
	if !res.AwaitsSCOR() {
		return
	}
	p.mu.Lock()
	file, ok := SCORFile(p.Files[res.Key])
	p.mu.Unlock()
	if !ok {
		p.mu.Lock()
		p.missing = append(p.missing, res.Key)
		p.mu.Unlock()
		return
	}
	err := p.send(ctx, res.Receipt.Billing, res.Receipt.Number, file)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failures = append(p.failures, fmt.Errorf("%s: SCOR piece %s: %w", res.Key, file, err))
		return
	}
	if p.sent == nil {
		p.sent = map[string]string{}
	}
	p.sent[res.Key] = file
}

func (p *Pieces) send(ctx context.Context, billing, number, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	cl, err := p.Sender.Client(ctx)
	if err != nil {
		return err
	}
	_, err = cl.SendSCOR(ctx, billing, number, data)
	return err
}

// PiecesReport is what became of a batch's SCOR pieces.
type PiecesReport struct {
	Failures []error           // pieces that could not be sent
	Missing  []string          // outbox keys of sheets that wait for a piece the folder lacks
	Sent     int               // pieces sent
	Acked    int               // of those, acknowledged by the insurer
	Refused  map[string]string // outbox key → the insurer's reason, for the pieces refused
	// Unsure is true when the gateway could not be asked about the
	// pieces sent: none is counted acknowledged.
	Unsure bool
}

// Waiting counts the pieces missing, not sent, refused, or not known to
// be acknowledged when the report was made.
func (r *PiecesReport) Waiting() int {
	n := len(r.Failures) + len(r.Missing) + len(r.Refused)
	if r.Unsure {
		n += r.Sent
	}
	return n
}

// Wait waits (up to within) for the pieces sent to reach a final state at
// the gateway (acknowledged or refused by the insurer) and reports.
func (p *Pieces) Wait(ctx context.Context, within time.Duration) *PiecesReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := &PiecesReport{Failures: p.failures, Missing: p.missing, Sent: len(p.sent), Refused: map[string]string{}}
	if len(p.sent) == 0 {
		return rep
	}
	cl, err := p.Sender.Client(ctx)
	if err != nil {
		rep.Unsure = true
		return rep
	}
	keys := make([]string, 0, len(p.sent))
	for k := range p.sent {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	deadline := time.Now().Add(within)
	for _, key := range keys {
		billing, number, _ := strings.Cut(key, "-")
		var st *client.Status
		for {
			st, err = cl.Sheet(ctx, billing, number)
			if err == nil && st.SCOR.Final() || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		switch {
		case err == nil && st.SCOR != nil && st.SCOR.State == "acknowledged":
			rep.Acked++
		case err == nil && st.SCOR != nil && st.SCOR.State == "refused":
			rep.Refused[key] = st.SCOR.Reason
		}
	}
	return rep
}
