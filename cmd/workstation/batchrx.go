package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation"
)

// The batch folder's prescriptions and SCOR pieces: package workstation
// sends them (Pieces; the folder's conventions in folder.go), this prints
// what became of them.

// sendFolderPrescriptions posts the folder's prescriptions first, printing each
// refusal.
func sendFolderPrescriptions(ctx context.Context, env *cli.Env, p *workstation.Pieces, files []string) (sent, refused int, err error) {
	return p.SendPrescriptions(ctx, files, func(file string, why *client.Problem) {
		fmt.Fprintf(env.Stdout, "%s: prescription refused\n", file)
		printProblem(env.Stdout, why)
	})
}

// finishPieces waits (up to within) for the SCOR pieces sent to be
// acknowledged and prints what became of them; it returns how many are
// missing, not sent, refused or not known to be acknowledged.
func finishPieces(ctx context.Context, env *cli.Env, p *workstation.Pieces, within time.Duration) int {
	out := env.Stdout
	rep := p.Wait(ctx, within)
	for _, err := range rep.Failures {
		fmt.Fprintln(out, err)
	}
	for _, k := range rep.Missing {
		fmt.Fprintf(out, "%s: waits for its SCOR piece (the scanned paper prescription): put it beside the sheet as .scor.pdf or .scor.jpg and run again, or 'workstation scor'\n", k)
	}
	if rep.Sent == 0 || rep.Unsure {
		return rep.Waiting()
	}
	keys := make([]string, 0, len(rep.Refused))
	for k := range rep.Refused {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "%s: SCOR piece refused by the insurer (%s): scan it again and run again\n", k, rep.Refused[k])
	}
	fmt.Fprintf(out, "SCOR: %d pieces sent, %d acknowledged", rep.Sent, rep.Acked)
	if left := rep.Sent - rep.Acked - len(rep.Refused); left > 0 {
		fmt.Fprintf(out, ", %d not yet acknowledged ('workstation status' follows them)", left)
	}
	fmt.Fprintln(out)
	return rep.Waiting()
}
