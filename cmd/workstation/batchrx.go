package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation"
)

// The batch folder's prescriptions and SCOR pieces (their conventions:
// package workstation, folder.go).

// batchRx sends a batch's prescriptions and SCOR pieces.
type batchRx struct {
	env    *cli.Env
	sender *workstation.Sender
	files  map[string]string // outbox key → sheet file

	mu       sync.Mutex
	pieces   map[string]string // outbox key → piece file sent
	missing  []string          // sheets that wait for a piece the folder lacks
	failures []string
}

// sendPrescriptions posts the folder's prescriptions first; a refused one
// is reported (its sheets are then refused PRESCRIPTION_UNKNOWN, and sent
// again by a later run once it is fixed).
func (b *batchRx) sendPrescriptions(ctx context.Context, files []string) (sent, refused int, err error) {
	if len(files) == 0 {
		return 0, 0, nil
	}
	cl, err := b.sender.Client(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return sent, refused, err
		}
		_, err = cl.SendPrescription(ctx, data)
		var p *client.Problem
		switch {
		case errors.As(err, &p):
			refused++
			fmt.Fprintf(b.env.Stdout, "%s: prescription refused\n", f)
			printProblem(b.env.Stdout, p)
		case err != nil:
			return sent, refused, err
		default:
			sent++
		}
	}
	return sent, refused, nil
}

// after sends the SCOR piece of a receipted sheet that waits for one.
func (b *batchRx) after(ctx context.Context, res workstation.SendResult) {
	if !res.AwaitsSCOR() {
		return
	}
	file, ok := workstation.SCORFile(b.files[res.Key])
	if !ok {
		b.mu.Lock()
		b.missing = append(b.missing, res.Key)
		b.mu.Unlock()
		return
	}
	err := b.sendPiece(ctx, res.Receipt.Billing, res.Receipt.Number, file)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.failures = append(b.failures, fmt.Sprintf("%s: SCOR piece %s: %v", res.Key, file, err))
		return
	}
	b.pieces[res.Key] = file
}

func (b *batchRx) sendPiece(ctx context.Context, billing, number, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	cl, err := b.sender.Client(ctx)
	if err != nil {
		return err
	}
	_, err = cl.SendSCOR(ctx, billing, number, data)
	return err
}

// finish waits (up to within) for the pieces sent to be acknowledged and
// prints what became of them; it returns how many are not acknowledged.
func (b *batchRx) finish(ctx context.Context, within time.Duration) int {
	out := b.env.Stdout
	b.mu.Lock()
	defer b.mu.Unlock()
	bad := len(b.failures) + len(b.missing)
	for _, f := range b.failures {
		fmt.Fprintln(out, f)
	}
	for _, k := range b.missing {
		fmt.Fprintf(out, "%s: waits for its SCOR piece (the scanned paper prescription): put it beside the sheet as .scor.pdf or .scor.jpg and run again, or 'workstation scor'\n", k)
	}
	if len(b.pieces) == 0 {
		return bad
	}
	cl, err := b.sender.Client(ctx)
	if err != nil {
		return bad + len(b.pieces)
	}
	deadline := time.Now().Add(within)
	acked, refused := 0, 0
	for key := range b.pieces {
		billing, number, _ := strings.Cut(key, "-")
		var st *client.Status
		for {
			st, err = cl.Sheet(ctx, billing, number)
			if err == nil && st.SCOR.Final() || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		switch {
		case err == nil && st.SCOR != nil && st.SCOR.State == "acknowledged":
			acked++
		case err == nil && st.SCOR != nil && st.SCOR.State == "refused":
			refused++
			fmt.Fprintf(out, "%s: SCOR piece refused by the insurer (%s): scan it again and run again\n", key, st.SCOR.Reason)
		}
	}
	fmt.Fprintf(out, "SCOR: %d pieces sent, %d acknowledged", len(b.pieces), acked)
	if left := len(b.pieces) - acked - refused; left > 0 {
		fmt.Fprintf(out, ", %d not yet acknowledged ('workstation status' follows them)", left)
	}
	fmt.Fprintln(out)
	return bad + refused
}
