package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/problem"
)

// KitConfig runs the conformance kit against one insurer endpoint, which
// must be pointed at the conformance wire (lot.Conformance): 'gateway
// insurer --conformance', or a real insurer's test endpoint.
type KitConfig struct {
	NATSURL string
	// NKeySeed authenticates the kit; it creates the FSE_CONFORMANCE
	// stream and the insurer's consumer on it, so it needs the gateway's
	// rights. nil connects without credentials.
	NKeySeed []byte
	Insurer  *insurers.Insurer
	// Sheets makes the test sheets (fixtures/dev.Sheets in development).
	Sheets *Sheets
	// Timeout bounds the whole run; 0 means 60 s. Answers are also held
	// to the insurer's ARL deadline when it is shorter.
	Timeout time.Duration
	// Grace is how long the kit keeps listening after the last expected
	// answer, to catch extra ones; 0 means 500 ms.
	Grace  time.Duration
	Logger *slog.Logger
}

// Rules the kit checks, as named in the report.
const (
	RuleForm      = "form"                     // every answer decodes and names the insurer
	RuleKnownLot  = "known-lot"                // every answer is about a lot attempt that was sent
	RuleOneARL    = "one-arl"                  // exactly one ARL per lot attempt (repeats keep their id)
	RuleARLResult = "arl-result"               // positive for sound lots, negative for a lot with a bad digest
	RuleARLTimely = "arl-timely"               // every ARL within the ARL deadline
	RuleNegative  = "no-return-after-negative" // no return for a lot attempt answered by a negative ARL
	RuleOneFinal  = "one-final"                // exactly one final return per sheet (repeats keep their id)
	RuleOutcome   = "outcome"                  // valid sheets accepted or paid, invalid ones and doublons rejected
	RuleAmount    = "amount"                   // each payment is the AMO share computed line by line; lot totals add up
	RuleIDsStable = "ids-stable"               // a re-sent lot's sheets get the same return ids
)

// Result is one line of the report.
type Result struct {
	Rule   string
	Case   string
	Pass   bool
	Detail string
}

// Report is the outcome of a conformance run.
type Report struct {
	Insurer string
	Results []Result
}

// Failed reports whether any rule failed.
func (r *Report) Failed() bool {
	for _, x := range r.Results {
		if !x.Pass {
			return true
		}
	}
	return false
}

// Failures lists the failed results.
func (r *Report) Failures() []Result {
	var out []Result
	for _, x := range r.Results {
		if !x.Pass {
			out = append(out, x)
		}
	}
	return out
}

// WriteTable prints the pass/fail table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RULE\tCASE\tRESULT\tDETAIL\n")
	for _, x := range r.Results {
		res := "pass"
		if !x.Pass {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Rule, x.Case, res, x.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := len(r.Failures())
	if n == 0 {
		_, err := fmt.Fprintf(w, "insurer %s: conformant (%d checks passed)\n", r.Insurer, len(r.Results))
		return err
	}
	_, err := fmt.Fprintf(w, "insurer %s: NOT conformant (%d of %d checks failed)\n", r.Insurer, n, len(r.Results))
	return err
}

type expectSheet struct {
	key     string
	digest  [32]byte
	valid   bool
	tp      bool
	pay     int64
	doublon bool
}

func (e *expectSheet) ident() string { return fmt.Sprintf("%s/%x", e.key, e.digest[:8]) }

type kcase struct {
	name    string
	lot     *lot.Lot
	copies  int  // deliveries of the same attempt (duplicate delivery)
	arlPos  bool // expected ARL
	sheets  []*expectSheet
	sentAt  time.Time
	resends string // name of the case whose lot this one re-sends
}

type received struct {
	ack *lot.Ack
	at  time.Time
}

// ErrNoAnswer is returned by Conformance when the insurer answered none of
// the test lots: not an endpoint of the conformance wire (an insurer
// serving only the live one), or not running.
var ErrNoAnswer = errors.New("conformance: the insurer answered nothing")

// Conformance runs the catalogue against the insurer and reports every rule.
// An error means the kit could not run (no NATS, no stream rights), or
// that the insurer answered nothing at all (ErrNoAnswer: there is nothing
// to judge), not that the insurer failed.
func Conformance(ctx context.Context, cfg KitConfig) (*Report, error) {
	if cfg.Insurer == nil || cfg.Sheets == nil {
		return nil, errors.New("conformance: insurer and sheets are required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Grace == 0 {
		cfg.Grace = 500 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := cfg.Insurer
	w := lot.Conformance
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout+10*time.Second)
	defer cancel()

	opts := []nats.Option{nats.Name("fsegate conformance kit")}
	if cfg.NKeySeed != nil {
		auth, err := insurers.NATSAuth(cfg.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		opts = append(opts, auth)
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("conformance: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: w.Stream, Subjects: []string{w.LotPrefix + ".>", w.AckPrefix + ".>"},
		MaxAge: 24 * time.Hour, Duplicates: time.Minute, MaxBytes: 256 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("conformance: stream %s: %w", w.Stream, err)
	}
	for _, subj := range []string{w.LotSubject(in.ID), w.AckSubject(in.ID)} {
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return nil, fmt.Errorf("conformance: purge %s: %w", subj, err)
		}
	}
	_ = js.DeleteConsumer(ctx, w.Stream, w.Consumer(in.ID))
	if _, err := js.CreateOrUpdateConsumer(ctx, w.Stream, jetstream.ConsumerConfig{
		Durable: w.Consumer(in.ID), FilterSubject: w.LotSubject(in.ID),
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: 5,
	}); err != nil {
		return nil, fmt.Errorf("conformance: consumer %s: %w", in.ID, err)
	}

	// Listen to the answers before sending anything.
	var mu sync.Mutex
	var got []received
	var bad []string
	oc, err := js.OrderedConsumer(ctx, w.Stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{w.AckSubject(in.ID)}})
	if err != nil {
		return nil, fmt.Errorf("conformance: read answers: %w", err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		if lot.IsTransfer(m.Data()) {
			// A transfer's paid lines are the final returns of their
			// sheets, whatever attempt of their lot they came in.
			t, err := lot.DecodeTransfer(m.Data())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				bad = append(bad, err.Error())
			case t.Insurer != in.ID:
				bad = append(bad, fmt.Sprintf("transfer %s names insurer %s", t.ID, t.Insurer))
			default:
				for _, a := range t.AsReturns() {
					got = append(got, received{a, time.Now()})
				}
			}
			return
		}
		a, err := lot.DecodeAck(m.Data())
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case a.Insurer != in.ID:
			bad = append(bad, fmt.Sprintf("answer %s names insurer %s", a.ID, a.Insurer))
		default:
			got = append(got, received{a, time.Now()})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("conformance: read answers: %w", err)
	}
	defer cc.Stop()

	cases, phase2, err := catalogue(ctx, cfg)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(cfg.Timeout)
	send := func(cs []*kcase) error {
		for _, c := range cs {
			b, err := c.lot.Encode()
			if err != nil {
				return fmt.Errorf("conformance: case %s: %w", c.name, err)
			}
			c.sentAt = time.Now()
			for n := 0; n < c.copies; n++ {
				id := c.lot.MsgID()
				if n > 0 {
					id += fmt.Sprintf(".copy%d", n)
				}
				if _, err := js.Publish(ctx, w.LotSubject(in.ID), b, jetstream.WithMsgID(id)); err != nil {
					return fmt.Errorf("conformance: send case %s: %w", c.name, err)
				}
			}
			log.Info("sent", "case", c.name, "lot", c.lot.ID, "attempt", c.lot.Attempt, "sheets", len(c.lot.Sheets))
		}
		return nil
	}
	done := func(cs []*kcase) bool {
		mu.Lock()
		defer mu.Unlock()
		return complete(cs, got)
	}
	wait := func(cs []*kcase) {
		for time.Now().Before(deadline) && !done(cs) {
			if !sleep(ctx, 50*time.Millisecond) {
				return
			}
		}
	}
	if err := send(cases); err != nil {
		return nil, err
	}
	wait(cases)
	mu.Lock()
	silent := len(got) == 0 && len(bad) == 0
	mu.Unlock()
	if silent {
		// Nothing to judge: every rule would fail, some pass vacuously.
		what := "none was taken from " + w.LotSubject(in.ID)
		if c, err := js.Consumer(ctx, w.Stream, w.Consumer(in.ID)); err == nil {
			if ci, err := c.Info(ctx); err == nil && ci.Delivered.Consumer > 0 {
				what = fmt.Sprintf("lots were taken (%d deliveries) but no answer came on %s", ci.Delivered.Consumer, w.AckSubject(in.ID))
			}
		}
		return nil, fmt.Errorf("%w: %d test lots sent to %s, no answer within %s: %s", ErrNoAnswer, len(cases), in.ID, cfg.Timeout, what)
	}
	if err := send(phase2); err != nil {
		return nil, err
	}
	all := append(cases, phase2...)
	wait(all)
	sleep(ctx, cfg.Grace)
	mu.Lock()
	defer mu.Unlock()
	arlDeadline := cfg.Timeout
	if in.Deadlines.ARL > 0 && in.Deadlines.ARL < arlDeadline {
		arlDeadline = in.Deadlines.ARL
	}
	return evaluate(in.ID, all, got, bad, arlDeadline), nil
}

// catalogue builds the test lots: phase 1 (valid, invalid sheet, bad
// digest, duplicate delivery), then phase 2 (re-sent lot, doublon), sent
// once phase 1 is answered.
func catalogue(ctx context.Context, cfg KitConfig) (phase1, phase2 []*kcase, err error) {
	in := cfg.Insurer
	run := time.Now().UnixNano()
	runID := fmt.Sprintf("k%x", run/1e6)
	base := int(run/1e6%99000)*10000 + 100000 // 9-digit numbers unique per run
	seq := uint64(0)
	n := 0
	mk := func(brk string) (*expectSheet, lot.Sheet, error) {
		n++
		m, err := cfg.Sheets.Make(ctx, in, base+n, brk, uint64(run)+uint64(n))
		if err != nil {
			return nil, lot.Sheet{}, err
		}
		s := lot.NewSheet(m.Sheet.Practitioner.Billing, m.Sheet.Number, m.Signed)
		return &expectSheet{key: s.Key(), digest: s.Digest, valid: m.Valid, tp: m.TiersPayant, pay: m.Pay}, s, nil
	}
	newLot := func(name string, sheets []lot.Sheet) *lot.Lot {
		seq++
		key := in.ID + "." + cfg.Sheets.Practitioner.Billing + "." + runID
		return &lot.Lot{ID: lot.NewID(in.ID, key, seq), Attempt: 1, Seq: seq, Key: key, Insurer: in.ID,
			Billing: cfg.Sheets.Practitioner.Billing, Created: time.Now().UTC(), Sheets: sheets}
	}
	build := func(name string, brks ...string) (*kcase, error) {
		c := &kcase{name: name, copies: 1, arlPos: true}
		var sheets []lot.Sheet
		for _, b := range brks {
			e, s, err := mk(b)
			if err != nil {
				return nil, err
			}
			c.sheets = append(c.sheets, e)
			sheets = append(sheets, s)
		}
		c.lot = newLot(name, sheets)
		return c, nil
	}
	valid, err := build("valid", "", "", "")
	if err != nil {
		return nil, nil, err
	}
	brk, err := breakable(ctx, cfg, base)
	if err != nil {
		return nil, nil, err
	}
	invalid, err := build("invalid-sheet", "", brk)
	if err != nil {
		return nil, nil, err
	}
	digest, err := build("bad-digest", "")
	if err != nil {
		return nil, nil, err
	}
	digest.lot.Sheets[0].Digest[0] ^= 0xff
	digest.arlPos = false
	dup, err := build("duplicate-delivery", "", "")
	if err != nil {
		return nil, nil, err
	}
	dup.copies = 2

	resent := &kcase{name: "resent-lot", copies: 1, arlPos: true, resends: "valid", sheets: valid.sheets}
	l := *valid.lot
	l.Attempt = 2
	resent.lot = &l
	doublon := &kcase{name: "doublon", copies: 1, arlPos: true}
	m, err := cfg.Sheets.Make(ctx, in, 0, "", uint64(run)+999)
	if err != nil {
		return nil, nil, err
	}
	m.Sheet.Number = valid.lot.Sheets[0].Number // same number, other content
	signed, err := signAgain(ctx, cfg.Sheets, m.Sheet)
	if err != nil {
		return nil, nil, err
	}
	ds := lot.NewSheet(m.Sheet.Practitioner.Billing, m.Sheet.Number, signed)
	doublon.sheets = []*expectSheet{{key: ds.Key(), digest: ds.Digest, doublon: true}}
	doublon.lot = newLot("doublon", []lot.Sheet{ds})
	return []*kcase{valid, invalid, digest, dup}, []*kcase{resent, doublon}, nil
}

func signAgain(ctx context.Context, s *Sheets, sh *fse.Sheet) ([]byte, error) {
	return signSheet(ctx, s, sh)
}

// breakable finds a rule the generator can break for this practitioner.
func breakable(ctx context.Context, cfg KitConfig, base int) (string, error) {
	for _, c := range []problem.Code{fse.CodeTotalAMO, fse.CodeAMOShare, fse.CodeTotalSplit, fse.CodeNGAPTariff} {
		code := string(c)
		m, err := cfg.Sheets.Make(ctx, cfg.Insurer, base, code, 1)
		if err == nil && !m.Valid {
			return code, nil
		}
	}
	for _, code := range fse.Breakable() {
		m, err := cfg.Sheets.Make(ctx, cfg.Insurer, base, code, 1)
		if err == nil && !m.Valid {
			return code, nil
		}
	}
	return "", errors.New("conformance: the generator breaks no rule for this practitioner")
}

// finals returns, per sheet identity, the distinct final return ids and
// their returns.
func finalsOf(cases []*kcase, got []received) map[string]map[string]lot.Return {
	byLot := map[string]*kcase{}
	for _, c := range cases {
		byLot[c.lot.MsgID()] = c
		if first := byLot[c.lot.ID+".0"]; first == nil || c.lot.Attempt < first.lot.Attempt {
			byLot[c.lot.ID+".0"] = c // a transfer's returns (attempt 0): the lot's first attempt
		}
	}
	out := map[string]map[string]lot.Return{}
	for _, g := range got {
		c := byLot[g.ack.Lot+"."+fmt.Sprint(g.ack.Attempt)]
		if c == nil {
			continue
		}
		for _, r := range g.ack.Returns {
			e := c.sheet(r.Key())
			if e == nil || !r.Status.Final(e.tp) {
				continue
			}
			id := e.ident()
			if out[id] == nil {
				out[id] = map[string]lot.Return{}
			}
			out[id][r.ID] = r
		}
	}
	return out
}

func (c *kcase) sheet(key string) *expectSheet {
	for _, e := range c.sheets {
		if e.key == key {
			return e
		}
	}
	return nil
}

// complete: every case has its ARL and, when positive, every sheet a final
// return.
func complete(cases []*kcase, got []received) bool {
	fin := finalsOf(cases, got)
	for _, c := range cases {
		var arl *lot.ARL
		for _, g := range got {
			if g.ack.Lot == c.lot.ID && g.ack.Attempt == c.lot.Attempt && g.ack.ARL != nil {
				arl = g.ack.ARL
			}
		}
		if arl == nil {
			return false
		}
		if !arl.Positive {
			continue
		}
		for _, e := range c.sheets {
			if len(fin[e.ident()]) == 0 {
				return false
			}
		}
	}
	return true
}

func evaluate(insurer string, cases []*kcase, got []received, bad []string, arlDeadline time.Duration) *Report {
	r := &Report{Insurer: insurer}
	add := func(rule, cs string, fails []string) {
		if len(fails) == 0 {
			r.Results = append(r.Results, Result{Rule: rule, Case: cs, Pass: true})
			return
		}
		d := fails[0]
		if len(fails) > 1 {
			d += fmt.Sprintf(" (and %d more)", len(fails)-1)
		}
		r.Results = append(r.Results, Result{Rule: rule, Case: cs, Detail: d})
	}
	add(RuleForm, "all", bad)
	sent := map[string]bool{}
	for _, c := range cases {
		sent[c.lot.MsgID()] = true
		sent[c.lot.ID+".0"] = true // a transfer's returns name the lot, not an attempt
	}
	var unknown []string
	for _, g := range got {
		if !sent[g.ack.Lot+"."+fmt.Sprint(g.ack.Attempt)] {
			unknown = append(unknown, fmt.Sprintf("answer %s about lot %s attempt %d, never sent", g.ack.ID, g.ack.Lot, g.ack.Attempt))
		}
	}
	add(RuleKnownLot, "all", unknown)
	fin := finalsOf(cases, got)
	byName := map[string]*kcase{}
	for _, c := range cases {
		byName[c.name] = c
	}
	for _, c := range cases {
		arls := map[string]*received{}
		var returns []received
		for k := range got {
			g := &got[k]
			if g.ack.Lot != c.lot.ID || g.ack.Attempt != c.lot.Attempt {
				continue
			}
			if g.ack.ARL != nil {
				if _, ok := arls[g.ack.ARL.ID]; !ok {
					arls[g.ack.ARL.ID] = g
				}
			} else {
				returns = append(returns, *g)
			}
		}
		var f []string
		switch len(arls) {
		case 1:
		case 0:
			f = append(f, fmt.Sprintf("no ARL for lot %s attempt %d", c.lot.ID, c.lot.Attempt))
		default:
			f = append(f, fmt.Sprintf("%d ARLs with different ids for lot %s attempt %d: %s", len(arls), c.lot.ID, c.lot.Attempt, strings.Join(keys(arls), ", ")))
		}
		add(RuleOneARL, c.name, f)
		f = nil
		first := (*received)(nil)
		for _, a := range arls {
			if a.ack.ARL.Positive != c.arlPos {
				f = append(f, fmt.Sprintf("ARL %s is %s, want %s", a.ack.ARL.ID, posneg(a.ack.ARL.Positive), posneg(c.arlPos)))
			}
			if first == nil || a.at.Before(first.at) {
				first = a
			}
		}
		if len(arls) > 0 {
			add(RuleARLResult, c.name, f)
			f = nil
			if d := first.at.Sub(c.sentAt); d > arlDeadline {
				f = append(f, fmt.Sprintf("ARL after %s, deadline %s", d.Round(time.Millisecond), arlDeadline))
			}
			add(RuleARLTimely, c.name, f)
		}
		if !c.arlPos {
			f = nil
			for _, g := range returns {
				f = append(f, fmt.Sprintf("answer %s returns sheets of a lot refused by its ARL", g.ack.ID))
			}
			add(RuleNegative, c.name, f)
			continue
		}
		// Sheets: one final each, the right outcome, the right amount.
		var fo, fout, famt []string
		var want, paid int64
		for _, e := range c.sheets {
			finals := fin[e.ident()]
			switch len(finals) {
			case 1:
			case 0:
				fo = append(fo, fmt.Sprintf("no final return for sheet %s", e.key))
			default:
				fo = append(fo, fmt.Sprintf("%d final returns with different ids for sheet %s", len(finals), e.key))
			}
			for _, ret := range finals {
				switch {
				case e.doublon || !e.valid:
					if ret.Status != lot.Rejected {
						fout = append(fout, fmt.Sprintf("sheet %s: %s, want rejected (%s)", e.key, ret.Status, map[bool]string{true: "doublon", false: "invalid"}[e.doublon]))
					}
				case e.tp:
					if ret.Status != lot.Paid {
						fout = append(fout, fmt.Sprintf("sheet %s: %s, want paid", e.key, ret.Status))
						continue
					}
					paid += ret.Amount
					want += e.pay
					if ret.Amount != e.pay {
						famt = append(famt, fmt.Sprintf("sheet %s paid %d cents, want %d (AMO share of its lines)", e.key, ret.Amount, e.pay))
					}
				default:
					if ret.Status != lot.Accepted {
						fout = append(fout, fmt.Sprintf("sheet %s: %s, want accepted", e.key, ret.Status))
					}
				}
			}
		}
		if len(famt) == 0 && paid != want {
			famt = append(famt, fmt.Sprintf("lot paid %d cents in all, want %d", paid, want))
		}
		add(RuleOneFinal, c.name, fo)
		add(RuleOutcome, c.name, fout)
		add(RuleAmount, c.name, famt)
		if c.resends != "" {
			var fs []string
			orig := byName[c.resends]
			ids := func(cs *kcase) map[string]bool {
				m := map[string]bool{}
				for _, g := range got {
					if g.ack.Lot == cs.lot.ID && g.ack.Attempt == cs.lot.Attempt {
						for _, ret := range g.ack.Returns {
							m[ret.ID] = true
						}
					}
				}
				return m
			}
			a, b := ids(orig), ids(c)
			for id := range b {
				if !a[id] {
					fs = append(fs, fmt.Sprintf("return id %s of attempt %d was not given for attempt %d", id, c.lot.Attempt, orig.lot.Attempt))
				}
			}
			sort.Strings(fs)
			add(RuleIDsStable, c.name, fs)
		}
	}
	return r
}

func posneg(b bool) string {
	if b {
		return "positive"
	}
	return "negative"
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
