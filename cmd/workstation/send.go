package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/outbox"
)

func init() {
	program.Add(&cli.Command{Name: "send", Summary: "send signed care sheets to the gateway (through the durable outbox)", Run: runSend})
	program.Add(&cli.Command{Name: "outbox", Summary: "list what waits in the outbox; --send sends it now", Run: runOutbox})
}

const sendUsage = `Usage: workstation send [--gateway URL] [--outbox DIR] FILE...

Sends signed care sheets to the gateway over HTTPS, authenticated with the
card's authentication key (TLS 1.2 client certificate). Each sheet is first
written to the durable outbox (fsync'd) and kept there until its final state:
when the gateway cannot be reached the sheet waits and is sent by
'workstation outbox --send' or 'workstation serve'. Sending the same sheet
twice is harmless: the gateway answers with its first receipt.

A signed prescription (a PDF from 'workstation prescribe') is sent as it is:
the gateway keeps it, and pharmacy claims may then reference its id.

Prints the receipt of each sheet, or every reason of a refusal.
Exit status: 0 when every sheet is receipted, 1 when one is refused or
waits offline, 2 on misuse.

Examples:
  workstation send --dev signed/*.xml
  workstation send --dev rx.pdf                 # a signed prescription
  workstation send --gateway https://gw.example:8443 --pin-file ~/.pin sheet.signed.xml
`

const outboxUsage = `Usage: workstation outbox [--send] [--outbox DIR]

Lists the sheets of the outbox: waiting to be sent (pending), receipted by
the gateway, refused (to correct), or final (kept as the legal copy for 90
days). With --send, sends every pending sheet whose retry time has come.

Examples:
  workstation outbox
  workstation outbox --send --dev
`

// addOutboxFlag defines --outbox on fs.
func addOutboxFlag(fs *flag.FlagSet, env *cli.Env) *string {
	return fs.String("outbox", defaultOutbox(env), "outbox `directory` (the signed sheets, kept until final)")
}

// defaultOutbox is the outbox in the user's data directory (XDG:
// $XDG_DATA_HOME/fsegate/outbox, else ~/.local/share/fsegate/outbox): the
// signed sheets are data, the practitioner's legal copies, not
// configuration.
func defaultOutbox(env *cli.Env) string {
	if d := env.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "fsegate", "outbox")
	}
	if h := env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "fsegate", "outbox")
	}
	return "fsegate-outbox"
}

// oldOutbox is where the outbox was by default before it moved to the
// data directory: in the configuration directory ($XDG_CONFIG_HOME, else
// ~/.config).
func oldOutbox(env *cli.Env) string {
	if d := env.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "fsegate", "outbox")
	}
	if h := env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "fsegate", "outbox")
	}
	return ""
}

// openOutbox opens the outbox in dir and says on stderr which one the
// command uses. The default outbox first takes in the entries of an
// outbox left at the old default place, and says so.
func openOutbox(env *cli.Env, dir string) (*outbox.Outbox, error) {
	ob, err := outbox.Open(dir, nil)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stderr, "workstation: outbox %s\n", dir)
	old := oldOutbox(env)
	if old == "" || dir != defaultOutbox(env) || old == dir {
		return ob, nil
	}
	moved, left, err := ob.Adopt(old)
	switch {
	case errors.Is(err, outbox.ErrLocked):
		fmt.Fprintf(env.Stderr, "workstation: the old outbox %s is in use by another workstation process (an older version?); its sheets move here when it stops\n", old)
	case err != nil:
		return nil, cli.WithHint(err, "move its sheets/ and state/ files into "+dir+" by hand, or name it with --outbox "+old)
	case moved > 0:
		fmt.Fprintf(env.Stderr, "workstation: moved %d sheets from the old outbox %s (configuration directory) to %s\n", moved, old, dir)
	}
	if len(left) > 0 {
		fmt.Fprintf(env.Stderr, "workstation: %d sheets stay in the old outbox %s: other sheets under the same numbers are in %s (%s); 'workstation outbox --outbox %s' lists them\n", len(left), old, dir, strings.Join(left, ", "), old)
	}
	return ob, nil
}

func runSend(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "send", sendUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	dir := addOutboxFlag(fs, env)
	confPath := addConfigFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	files, err := workstation.SheetFiles(fs.Args())
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return cli.Usagef("send needs at least one signed care sheet")
	}
	ob, err := openOutbox(env, *dir)
	if err != nil {
		return err
	}
	var keys, pdfs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if workstation.IsPrescription(b) {
			// The gateway keeps it for the pharmacy claims that will
			// reference it.
			pdfs = append(pdfs, f)
			continue
		}
		sh, err := workstation.Decode(f, b)
		if err != nil {
			return err
		}
		e, send, err := workstation.KeepSigned(ob, sh, b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if !send {
			fmt.Fprintf(env.Stdout, "%s: already sent and final (%s): not sent again\n", e.Key, e.FinalState)
			continue
		}
		keys = append(keys, e.Key)
	}
	if len(pdfs) > 0 {
		if err := sendPrescriptions(ctx, env, cf, gf, pdfs); err != nil {
			return err
		}
	}
	if len(keys) == 0 {
		return nil
	}
	waiting, err := workstation.Pending(ob, keys)
	if err != nil {
		return err
	}
	return sendKeys(ctx, env, cf, gf, ob, waiting, keys)
}

// mayWait keeps of waiting the sheets the card of sender may send, and
// says first how many it sends and how many of other practitioners stay.
func mayWait(env *cli.Env, sender *workstation.Sender, waiting []string) ([]string, error) {
	ok, others, err := workstation.MayWait(sender, waiting)
	if err != nil {
		return nil, err
	}
	if len(ok) > 0 {
		fmt.Fprintf(env.Stdout, "sending first %d sheets that waited in the outbox\n", len(ok))
	}
	if others > 0 {
		fmt.Fprintf(env.Stdout, "%d sheets of other practitioners wait in the outbox: their card sends them\n", others)
	}
	return ok, nil
}

// sendPrescriptions posts signed PDF prescriptions. They do not go through
// the outbox: the prescriber keeps the signed PDF file itself, and sending
// it again is harmless.
func sendPrescriptions(ctx context.Context, env *cli.Env, cf *cardFlags, gf *gatewayFlags, files []string) error {
	_, cl, closeAll, err := connect(ctx, env, cf, gf)
	if err != nil {
		return err
	}
	defer closeAll()
	failed := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		raw, err := cl.SendPrescription(ctx, b)
		var p *client.Problem
		switch {
		case errors.As(err, &p):
			failed++
			fmt.Fprintf(env.Stdout, "%s: refused\n", f)
			printProblem(env.Stdout, p)
			continue
		case err != nil:
			return gatewayHint(fmt.Errorf("%s: %w", f, err), gf.URL)
		}
		var got struct {
			ID         string `json:"id"`
			Prescriber string `json:"prescriber"`
		}
		_ = json.Unmarshal(raw, &got)
		fmt.Fprintf(env.Stdout, "%s: prescription %s stored (prescriber %s)\n", f, got.ID, got.Prescriber)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d prescriptions refused", failed, len(files))
	}
	return nil
}

func runOutbox(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "outbox", outboxUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	dir := addOutboxFlag(fs, env)
	send := fs.Bool("send", false, "send the pending sheets now")
	confPath := addConfigFlag(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	ob, err := openOutbox(env, *dir)
	if err != nil {
		return err
	}
	if *send {
		// The due sheets, and those refused for a cause outside their
		// content (a prescription not yet uploaded, an unknown insurer):
		// sent again, in case the cause is gone.
		keys, err := workstation.Due(ob)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			fmt.Fprintln(env.Stdout, "outbox: nothing to send")
			return nil
		}
		return sendKeys(ctx, env, cf, gf, ob, nil, keys)
	}
	all, err := ob.List()
	if err != nil {
		return err
	}
	counts := map[outbox.State]int{}
	for _, e := range all {
		counts[e.State]++
		line := fmt.Sprintf("%-20s %-9s", e.Key, e.State)
		switch e.State {
		case outbox.Pending:
			if e.LastError != "" {
				line += fmt.Sprintf(" %d tries, next %s: %s", e.Attempts, e.NextTry.Local().Format("15:04:05"), e.LastError)
			}
		case outbox.Refused:
			line += fmt.Sprintf(" %v", e.Codes)
		case outbox.Final:
			line += " " + e.FinalState
		}
		fmt.Fprintln(env.Stdout, line)
	}
	fmt.Fprintf(env.Stdout, "outbox %s: %d pending, %d receipted, %d refused, %d final\n", ob.Dir(),
		counts[outbox.Pending], counts[outbox.Receipted], counts[outbox.Refused], counts[outbox.Final])
	return nil
}

// sendKeys sends the outbox entries waiting (of earlier runs), then keys,
// with the card's session: each is checked against the card's holder
// before the card logs in to the gateway; one of keys the card may not
// send (another practitioner's, a billing number outside the card's
// situations) stays in the outbox and is reported, one of waiting stays
// there and is counted.
func sendKeys(ctx context.Context, env *cli.Env, cf *cardFlags, gf *gatewayFlags, ob *outbox.Outbox, waiting, keys []string) error {
	sess, err := cf.session(ctx, env, nil)
	if err != nil {
		return err
	}
	defer sess.Close()
	sender := &workstation.Sender{Outbox: ob, Session: sess, Connect: gf.client}
	defer sender.Close()
	if waiting, err = mayWait(env, sender, waiting); err != nil {
		return err
	}
	keys = append(waiting, keys...)
	var refused, offline, held int
	err = sender.SendAll(ctx, keys, func(res workstation.SendResult) bool {
		key := res.Key
		switch res.Outcome {
		case workstation.Receipted:
			again := ""
			if res.Receipt.Again {
				again = " (sent before: first receipt)"
			}
			fmt.Fprintf(env.Stdout, "%s: %s%s\n", key, res.Receipt.State, again)
		case workstation.Refused:
			refused++
			fmt.Fprintf(env.Stdout, "%s: refused\n", key)
			printProblem(env.Stdout, res.Problem)
		case workstation.Offline:
			offline++
			fmt.Fprintf(env.Stdout, "%s: kept in the outbox, not sent: %v\n", key, res.Cause)
		case workstation.Held:
			held++
			fmt.Fprintf(env.Stdout, "%s: kept in the outbox, not sent with this card\n", key)
			for _, r := range workstation.Reasons(res.Held) {
				fmt.Fprintf(env.Stdout, "  %s\n", r)
			}
		}
		return true
	})
	switch {
	case err != nil:
		return gatewayHint(err, gf.URL)
	case offline > 0:
		return offlineHint(fmt.Errorf("%d of %d sheets wait in the outbox (%s)", offline, len(keys), ob.Dir()), gf.URL)
	case held > 0:
		return cli.WithHint(fmt.Errorf("%d of %d sheets may not be sent with this card (%s's): kept in the outbox, not sent", held, len(keys), sess.Holder().NationalID),
			"put the card of the practitioner they name in the reader (one with a billing situation for their billing number) and run 'workstation outbox --send' again")
	case refused > 0:
		return fmt.Errorf("%d of %d sheets refused", refused, len(keys))
	}
	return nil
}

// printProblem prints every reason of a refusal, indented.
func printProblem(w io.Writer, p *client.Problem) {
	if len(p.Errors) == 0 {
		fmt.Fprintf(w, "  %s\n", p.Title)
	}
	for _, e := range p.Errors {
		at := ""
		if e.Path != "" {
			at = " at " + e.Path
		}
		fmt.Fprintf(w, "  %s%s: %s\n", e.Code, at, e.Message)
		if h := workstation.ExternalHint(e.Code); h != "" {
			fmt.Fprintf(w, "    %s\n", h)
		}
	}
}
