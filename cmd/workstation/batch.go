package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"

	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/outbox"
)

func init() {
	program.Add(&cli.Command{Name: "batch", Summary: "check, sign (one PIN entry) and send every sheet of a folder", Run: runBatch})
}

const batchUsage = `workstation batch — check, sign and send every care sheet of a folder

Usage:
  workstation batch [--gateway URL] [--outbox DIR] [--offline] [flags] DIR

Every .xml or .json care sheet of DIR is checked with the caisse's rules;
the valid unsigned ones are signed with the CPS card with ONE PIN entry,
each written to the durable outbox (fsync'd) before it is sent, then sent
to the gateway while the next ones are being signed. Sheets of DIR that are
already signed are sent as they are.

Safe to run again on the same folder: sheets the outbox already holds are
not signed again; those already receipted are not sent again; those still
waiting (gateway down, workstation killed) are sent now. A refused sheet
corrected in DIR is signed and sent again as its correction.

On a terminal a progress bar shows the count, the rate and the time left;
otherwise one plain line per signed sheet goes to standard error. At the
end a summary: signed, sent, already sent, refused and invalid sheets with
every reason (to correct and run again), queued offline.

Exit status: 0 when every sheet is receipted, 1 when one is invalid,
refused or waits offline, 2 on misuse.

Examples:
  workstation batch --dev today/
  workstation batch --gateway https://gw.example:8443 --pin-file ~/.pin today/
  workstation batch --offline today/        # sign and queue now, send later
  FSEGATE_DEV=1 FSEGATE_VIRTUAL_CARD=doctor FSEGATE_PIN=1234 workstation batch in/
`

// batchSummary counts a batch: what package workstation tallies, and
// the card's and the SCOR pieces' figures.
type batchSummary struct {
	workstation.Tally
	PINEntries  int
	SCORWaiting int // SCOR pieces missing or not acknowledged
	SignTime    time.Duration
}

func runBatch(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "batch", batchUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	dir := addOutboxFlag(fs, env)
	offline := fs.Bool("offline", false, "sign and queue in the outbox only; send later (outbox --send, serve)")
	progress := fs.String("progress", "auto", "progress display: `auto`, bar, lines or none")
	nowFlag := fs.String("now", "", "check and sign as if at this time (RFC 3339); default: now")
	scorWait := fs.Duration("scor-wait", 60*time.Second, "how long to wait for the SCOR pieces sent to be acknowledged")
	tf := addTableFlags(fs, true)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("batch takes one folder (workstation batch DIR)")
	}
	if st, err := os.Stat(fs.Arg(0)); err != nil || !st.IsDir() {
		return cli.Usagef("batch: %s is not a folder", fs.Arg(0))
	}
	switch *progress {
	case "auto", "bar", "lines", "none":
	default:
		return cli.Usagef("--progress is auto, bar, lines or none")
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return err
	}
	opts, err := tf.options(now)
	if err != nil {
		return err
	}
	files, err := workstation.SheetFiles(fs.Args())
	if err != nil {
		return err
	}
	ob, err := openOutbox(env, *dir)
	if err != nil {
		return err
	}
	unlock, err := ob.Lock()
	if err != nil {
		return cli.WithHint(err, "wait for the other run to end; when 'workstation serve' runs, post the sheets to it instead")
	}
	defer unlock()

	// 1. Plan, before the card: what the outbox already knows, what is
	// invalid, what to sign.
	flow := &workstation.Flow{Rules: opts, AcceptSigned: true, Outbox: ob}
	sum := &batchSummary{Tally: workstation.Tally{Files: len(files)}}
	toSign, toSend, err := flow.PlanFiles(files, &sum.Tally)
	if err != nil {
		return err
	}

	// 2. The card, before the PIN: every sheet to sign or send must name
	// its holder as the practitioner.
	var sess *workstation.Session
	var waiting []string
	if len(toSign) > 0 || (len(toSend) > 0 && !*offline) {
		sess, err = cf.session(ctx, env, signingClock(*nowFlag, now))
		if err != nil {
			return err
		}
		defer sess.Close()
		toSign = sum.Holder(sess, toSign)
		toSend = sum.Holder(sess, toSend)
		// What waits in the outbox from earlier runs is sent first, when
		// this run sends anything (a run with nothing of its own to sign or
		// send asks no PIN for it).
		if !*offline && len(toSign)+len(toSend) > 0 {
			inFolder := make([]string, len(toSend))
			for i, sh := range toSend {
				inFolder[i] = sh.Key
			}
			if waiting, err = workstation.Pending(ob, inFolder); err != nil {
				return err
			}
			if waiting, err = mayWait(env, &workstation.Sender{Outbox: ob, Session: sess}, waiting); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(env.Stdout, "batch %s: %d sheets: %d to sign, %d waiting in the outbox, %d already sent, %d invalid or refused\n",
		fs.Arg(0), len(files), len(toSign), len(toSend), sum.AlreadySent, len(sum.Rejects))
	if len(toSign) == 0 && (len(toSend)+len(waiting) == 0 || *offline) {
		sum.Offline += len(toSend)
		return batchEnd(env, sum, ob, gf.URL, *offline)
	}

	// 3. One PIN entry; each sheet signed, kept, and sent while the next
	// ones are signed.
	b := &workstation.Batch{Flow: flow, Session: sess, Sent: batchSent(env, sum)}
	if !*offline {
		b.Sender = &workstation.Sender{Outbox: ob, Session: sess, Connect: gf.client}
		defer b.Sender.Close()
	}
	// Prescriptions first, then SCOR pieces after their sheets (batchrx.go).
	rxb := &workstation.Pieces{Sender: b.Sender, Files: map[string]string{}}
	if b.Sender != nil {
		for _, sh := range append(append([]*workstation.Sheet(nil), toSign...), toSend...) {
			rxb.Files[sh.Key] = sh.Name
		}
		if rxs := workstation.PrescriptionFiles(fs.Arg(0)); len(rxs) > 0 {
			b.BeforeSend = func(ctx context.Context) error {
				n, bad, err := sendFolderPrescriptions(ctx, env, rxb, rxs)
				if err != nil {
					return gatewayHint(err, gf.URL)
				}
				fmt.Fprintf(env.Stdout, "prescriptions: %d sent, %d refused\n", n, bad)
				return nil
			}
		}
		sent := b.Sent
		b.Sent = func(res workstation.SendResult) { sent(res); rxb.After(ctx, res) }
	}
	var p *progressView
	if len(toSign) > 0 {
		p = newProgress(env, *progress, len(toSign))
		b.Kept = func(done, _ int, key string) { p.step(done, key) }
	}
	pending := waiting
	for _, sh := range toSend {
		pending = append(pending, sh.Key)
	}
	st, runErr := b.Run(ctx, toSign, pending)
	if p != nil {
		p.finish()
	}
	sum.Signed, sum.SignTime, sum.PINEntries = st.Signed, st.SignTime, sess.PINEntries()
	sum.Offline += st.Queued
	if b.Sender != nil {
		sum.SCORWaiting = finishPieces(ctx, env, rxb, *scorWait)
	}
	if err := batchEnd(env, sum, ob, gf.URL, *offline); runErr == nil {
		return err
	}
	return cardHint(runErr)
}

// batchSent counts each send result in sum (from the sender's goroutine)
// and says once that the gateway is down.
func batchSent(env *cli.Env, sum *batchSummary) func(workstation.SendResult) {
	down := false
	return func(res workstation.SendResult) {
		sum.Count(res)
		if res.Outcome == workstation.Offline && !down {
			down = true
			fmt.Fprintf(env.Stderr, "batch: gateway not reachable (%v): the sheets wait in the outbox\n", res.Cause)
		}
	}
}

// batchEnd prints the summary and returns the exit error.
func batchEnd(env *cli.Env, sum *batchSummary, ob *outbox.Outbox, url string, offline bool) error {
	out := env.Stdout
	fmt.Fprintf(out, "summary: signed %d, sent %d", sum.Signed, sum.Sent)
	if sum.Again > 0 {
		fmt.Fprintf(out, " (%d had been received before)", sum.Again)
	}
	fmt.Fprintf(out, ", already sent %d, refused %d, invalid %d, queued offline %d\n", sum.AlreadySent, sum.Refused, sum.Invalid, sum.Offline)
	if sum.Signed > 0 {
		rate := float64(sum.Signed) / sum.SignTime.Seconds()
		fmt.Fprintf(out, "card: %d signatures with %d PIN entry in %s (%.1f/s)\n", sum.Signed, sum.PINEntries, sum.SignTime.Round(time.Millisecond), rate)
	}
	if len(sum.Rejects) > 0 {
		fmt.Fprintln(out, "to correct and run again:")
		for _, it := range sum.Rejects {
			name := it.File
			if name == "" {
				name = it.Key
			}
			fmt.Fprintf(out, "  %s\n", name)
			for _, r := range it.Reasons {
				fmt.Fprintf(out, "    %s\n", r)
			}
		}
	}
	bad := sum.Bad()
	switch {
	case sum.Offline > 0 && offline && bad == 0:
		fmt.Fprintf(out, "%d sheets queued in %s: 'workstation outbox --send' or 'workstation serve' sends them\n", sum.Offline, ob.Dir())
		return nil
	case sum.Offline > 0:
		return offlineHint(fmt.Errorf("%d sheets wait in the outbox (%s)", sum.Offline, ob.Dir()), url)
	case sum.OnlyExternal():
		return cli.WithHint(fmt.Errorf("%d of %d sheets refused for a cause outside the sheets", bad, sum.Files), "see each reason above; once its cause is gone, run the same command again: they are sent again as they are, the others not twice")
	case bad > 0:
		return cli.WithHint(fmt.Errorf("%d of %d sheets refused or invalid", bad, sum.Files), "correct them in the folder (for PRESCRIPTION_UNKNOWN or INSURER_UNKNOWN, see the reason) and run the same command again: the others are not sent twice")
	case sum.SCORWaiting > 0:
		return cli.WithHint(fmt.Errorf("%d SCOR pieces missing or not acknowledged", sum.SCORWaiting), "see the lines above; 'workstation status NUMBER' shows a sheet's piece")
	}
	return nil
}

// progress shows the signing progress: a bar on a terminal, plain lines
// otherwise.
type progressView struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	total int
	start time.Time
}

func newProgress(env *cli.Env, mode string, total int) *progressView {
	p := &progressView{w: env.Stderr, total: total, start: time.Now()}
	if mode == "auto" {
		mode = "lines"
		if isTerminal(env.Stderr) {
			mode = "bar"
		}
	}
	switch mode {
	case "bar":
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(env.Stderr),
			progressbar.OptionSetDescription("signing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("sheets"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	case "none":
		p.w = nil
	}
	return p
}

func (p *progressView) step(done int, key string) {
	if p.bar != nil {
		_ = p.bar.Set(done)
		return
	}
	if p.w == nil {
		return
	}
	el := time.Since(p.start)
	rate := float64(done) / el.Seconds()
	left := time.Duration(float64(p.total-done) / rate * float64(time.Second))
	fmt.Fprintf(p.w, "signed %d/%d %s (%.1f/s, %s left)\n", done, p.total, key, rate, left.Round(time.Second))
}

func (p *progressView) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
