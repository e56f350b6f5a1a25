package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/sys/unix"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/internal/outbox"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
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

// batchItem is one file of the folder and what the batch does with it.
type batchItem struct {
	File    string
	Key     string
	Doc     []byte // the sheet to sign (XML)
	Source  string // digest of Doc
	Signed  bool   // the file is already signed
	Reasons []string
}

// batchSummary counts a batch.
type batchSummary struct {
	Files, Signed, Sent, Again, AlreadySent, Refused, Invalid, Offline int
	PINEntries                                                         int
	SignTime                                                           time.Duration
	Rejects                                                            []batchItem
}

func runBatch(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "batch", batchUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	dir := fs.String("outbox", defaultOutbox(), "outbox `directory`")
	offline := fs.Bool("offline", false, "sign and queue in the outbox only; send later (outbox --send, serve)")
	progress := fs.String("progress", "auto", "progress display: `auto`, bar, lines or none")
	nowFlag := fs.String("now", "", "check and sign as if at this time (RFC 3339); default: now")
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
	files, err := expandFiles(fs.Args())
	if err != nil {
		return err
	}
	ob, err := outbox.Open(*dir, nil)
	if err != nil {
		return err
	}
	unlock, err := ob.Lock()
	if err != nil {
		return cli.WithHint(err, "wait for the other run to end; when 'workstation serve' runs, post the sheets to it instead")
	}
	defer unlock()

	sum := &batchSummary{Files: len(files)}
	// 1. Plan: what the outbox already knows, what is invalid, what to sign.
	var toSign []*batchItem
	var toSend []string
	for _, file := range files {
		it, err := planItem(ctx, file, opts, ob, sum)
		if err != nil {
			return err
		}
		switch {
		case it == nil:
		case len(it.Reasons) > 0:
			sum.Rejects = append(sum.Rejects, *it)
		case it.Key != "" && it.Doc == nil:
			toSend = append(toSend, it.Key)
		default:
			toSign = append(toSign, it)
		}
	}
	fmt.Fprintf(env.Stdout, "batch %s: %d sheets: %d to sign, %d waiting in the outbox, %d already sent, %d invalid or refused\n",
		fs.Arg(0), len(files), len(toSign), len(toSend), sum.AlreadySent, len(sum.Rejects))
	if len(toSign) == 0 && (len(toSend) == 0 || *offline) {
		return batchEnd(env, sum, ob, gf.URL, *offline)
	}

	// 2. One card session: one PIN entry for every signature.
	c, err := cf.open(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close()
	prompt := cf.prompt(env)
	c.SetPINPrompt(func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		sum.PINEntries++
		return prompt(ctx, req)
	})

	// The PIN once, before the sender's TLS handshake and the signatures
	// both need it.
	if err := c.Login(ctx); err != nil {
		return cardHint(err)
	}

	// 3. The sender: sends what the signer puts in the outbox, as it comes.
	keys := make(chan string, len(toSign)+len(toSend))
	for _, k := range toSend {
		keys <- k
	}
	var wg sync.WaitGroup
	var sendErr error
	if !*offline {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendErr = batchSender(ctx, env, gf, c, ob, keys, sum)
		}()
	}

	// reopen opens the card again after a reset (the sender keeps its
	// established connection).
	var reopened []*card.Card
	defer func() {
		for _, rc := range reopened {
			rc.Close()
		}
	}()
	reopen := func(ctx context.Context) (*card.SignatureKey, error) {
		rc, err := cf.open(ctx, env)
		if err != nil {
			return nil, err
		}
		reopened = append(reopened, rc)
		rc.SetPINPrompt(func(ctx context.Context, req card.PINRequest) ([]byte, error) {
			sum.PINEntries++
			return prompt(ctx, req)
		})
		if err := rc.Login(ctx); err != nil {
			return nil, err
		}
		return rc.SignatureKey(ctx)
	}
	signErr := batchSign(ctx, env, c, reopen, toSign, ob, keys, sum, *progress, *nowFlag != "", now)
	close(keys)
	wg.Wait()
	if *offline {
		sum.Offline += len(toSend)
		for range keys {
			sum.Offline++
		}
	}
	if signErr != nil {
		batchEnd(env, sum, ob, gf.URL, *offline)
		return cardHint(signErr)
	}
	if sendErr != nil {
		batchEnd(env, sum, ob, gf.URL, *offline)
		return sendErr
	}
	return batchEnd(env, sum, ob, gf.URL, *offline)
}

// planItem reads one file and decides what the batch does with it: nil
// when there is nothing to do (already sent), Reasons when it cannot go,
// Doc == nil with a Key when the outbox already holds it signed and
// pending, else an item to sign.
func planItem(ctx context.Context, file string, opts fse.Options, ob *outbox.Outbox, sum *batchSummary) (*batchItem, error) {
	it := &batchItem{File: file}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var s *fse.Sheet
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		s, err = fse.DecodeJSON(raw)
		if err == nil {
			it.Doc = s.Encode()
		}
	} else {
		s, err = fse.Decode(raw)
		it.Doc = raw
	}
	if err != nil {
		sum.Invalid++
		it.Reasons = []string{"SHEET_MALFORMED: " + err.Error()}
		return it, nil
	}
	it.Signed = bytes.Contains(raw, []byte(signature.NSDSig))
	sd := sha256.Sum256(it.Doc)
	it.Source = hex.EncodeToString(sd[:])
	it.Key, err = outbox.Key(s.Practitioner.Billing, s.Number)
	if err != nil {
		sum.Invalid++
		it.Reasons = []string{"SHEET_MALFORMED: " + err.Error()}
		return it, nil
	}
	e, err := ob.Get(it.Key)
	switch {
	case errors.Is(err, outbox.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		same := e.Source == it.Source || e.Digest == it.Source
		switch {
		case e.State == outbox.Pending && same:
			it.Doc = nil // signed before a crash or an offline run: send it
			return it, nil
		case e.State == outbox.Pending || e.State == outbox.Receipted || (e.State == outbox.Final && e.FinalState != "rejected"):
			if !same {
				sum.Invalid++
				it.Reasons = []string{fmt.Sprintf("ALREADY_IN_OUTBOX: another sheet %s is in the outbox (%s): a number is used once", it.Key, e.State)}
				return it, nil
			}
			sum.AlreadySent++
			return nil, nil
		case same: // refused or rejected, not corrected since
			sum.Refused++
			for _, code := range e.Codes {
				it.Reasons = append(it.Reasons, code+" (refused before; correct the sheet and run again)")
			}
			if len(it.Reasons) == 0 {
				it.Reasons = []string{e.FinalState + " (correct the sheet and run again)"}
			}
			return it, nil
		}
		// A correction of a refused or rejected sheet: sign it again.
	}
	r := checkFile(ctx, file, opts)
	if !r.Valid {
		sum.Invalid++
		for _, f := range r.Errors {
			at := ""
			if f.Path != "" {
				at = " at " + f.Path
			}
			it.Reasons = append(it.Reasons, f.Code+at+": "+f.Message)
		}
		return it, nil
	}
	return it, nil
}

// batchSign signs toSign with the card's signature key, writes each to the
// outbox (fsync) and hands its key to the sender.
func batchSign(ctx context.Context, env *cli.Env, c *card.Card, reopen func(context.Context) (*card.SignatureKey, error), toSign []*batchItem, ob *outbox.Outbox, keys chan<- string, sum *batchSummary, mode string, fixedNow bool, now time.Time) error {
	if len(toSign) == 0 {
		return nil
	}
	reopens := 0
	var key *card.SignatureKey
	var chain []*x509.Certificate
	// Only unsigned sheets need the card's signature key (and the PIN).
	for _, it := range toSign {
		if !it.Signed {
			k, err := c.SignatureKey(ctx)
			if err != nil {
				return err
			}
			key, chain = k, []*x509.Certificate{k.Certificate()}
			break
		}
	}
	so := signature.SignOptions{Now: func() time.Time {
		if fixedNow {
			return now
		}
		return time.Now()
	}}
	p := newProgress(env, mode, len(toSign))
	defer p.finish()
	start := time.Now()
	defer func() { sum.SignTime = time.Since(start) }()
	for i, it := range toSign {
		if err := ctx.Err(); err != nil {
			return err
		}
		signed := it.Doc
		if !it.Signed {
			var err error
			signed, err = so.Sign(ctx, it.Doc, key, chain)
			if err != nil && errors.Is(err, card.ErrCardRemoved) && reopen != nil && reopens < 3 {
				// Another program reset the card, or it was pulled and put
				// back: open it again (the PIN is asked again) and go on.
				reopens++
				if k, rerr := reopen(ctx); rerr == nil {
					key = k
					signed, err = so.Sign(ctx, it.Doc, key, chain)
				}
			}
			if err != nil {
				return fmt.Errorf("%s: %w", it.File, err)
			}
			sum.Signed++
		}
		billing, number, _ := splitKey(it.Key)
		if _, err := ob.PutSource(billing, number, signed, it.Source); err != nil {
			return fmt.Errorf("%s: %w", it.File, err)
		}
		keys <- it.Key
		p.step(i+1, it.Key)
	}
	return nil
}

func splitKey(key string) (billing, number string, ok bool) {
	for i := range len(key) {
		if key[i] == '-' {
			return key[:i], key[i+1:], true
		}
	}
	return "", "", false
}

// batchSender sends the keys as they come. After the first transport
// failure (gateway down) it stops trying: the rest wait in the outbox.
func batchSender(ctx context.Context, env *cli.Env, gf *gatewayFlags, c *card.Card, ob *outbox.Outbox, keys <-chan string, sum *batchSummary) error {
	var cl *client.Client
	down := false
	for key := range keys {
		if down {
			sum.Offline++
			continue
		}
		if cl == nil {
			var err error
			if cl, err = gf.client(ctx, c); err != nil {
				return err
			}
			defer cl.Close()
		}
		res := sendOne(ctx, cl, ob, key)
		if res.Err != nil {
			return res.Err
		}
		switch res.Outcome {
		case outcomeReceipted:
			sum.Sent++
			if res.Receipt.Again {
				sum.Again++
			}
		case outcomeRefused:
			sum.Refused++
			it := batchItem{Key: key}
			for _, e := range res.Problem.Errors {
				at := ""
				if e.Path != "" {
					at = " at " + e.Path
				}
				it.Reasons = append(it.Reasons, e.Code+at+": "+e.Message)
			}
			if len(it.Reasons) == 0 {
				it.Reasons = []string{res.Problem.Title}
			}
			sum.Rejects = append(sum.Rejects, it)
		case outcomeOffline:
			sum.Offline++
			down = true
			fmt.Fprintf(env.Stderr, "batch: gateway not reachable (%v): the sheets wait in the outbox\n", res.Cause)
		}
	}
	return nil
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
	bad := sum.Refused + sum.Invalid
	switch {
	case sum.Offline > 0 && offline && bad == 0:
		fmt.Fprintf(out, "%d sheets queued in %s: 'workstation outbox --send' or 'workstation serve' sends them\n", sum.Offline, ob.Dir())
		return nil
	case sum.Offline > 0:
		return gatewayHint(fmt.Errorf("%d sheets wait in the outbox (%s)", sum.Offline, ob.Dir()), url)
	case bad > 0:
		return cli.WithHint(fmt.Errorf("%d of %d sheets refused or invalid", bad, sum.Files), "correct them in the folder and run the same command again: the others are not sent twice")
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
