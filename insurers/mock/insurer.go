package mock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/lot"
)

// Config starts one mock insurer. Insurer and Checker are required.
type Config struct {
	// NATSURL is the server to connect to.
	NATSURL string
	// TLS, when set, is the client TLS of the connection (a gateway whose
	// NATS listener requires TLS).
	TLS *tls.Config
	// Insurer is the directory entry: its id names the consumer and the
	// subjects, its kind says which share it pays.
	Insurer *insurers.Insurer
	// NKeySeed authenticates as the insurer's own NATS user; nil connects
	// without credentials (an open test server).
	NKeySeed []byte
	// Scenario scripts the behaviour; nil is a well-behaved insurer.
	Scenario *Scenario
	// Seed, when not zero, replaces the scenario's seed.
	Seed uint64
	// Checker checks each sheet (FSEChecker in production).
	Checker SheetChecker
	// Wire is where lots come from and answers go; the zero value is
	// lot.Live. 'gateway insurer --conformance' uses lot.Conformance.
	Wire lot.Wire
	// Logger gets one line per lot; nil discards.
	Logger *slog.Logger
	// Now is the insurer's clock (creation times, payment dates); nil
	// means time.Now.
	Now func() time.Time
	// OnAck is called after each acknowledgement is published (tests).
	OnAck func(*lot.Ack)
	// OnTransfer is called after each transfer is published (tests).
	OnTransfer func(*lot.Transfer)
}

// Insurer is a running mock insurer endpoint.
type Insurer struct {
	cfg    Config
	id     string
	sc     *Scenario
	nc     *nats.Conn
	js     jetstream.JetStream
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  time.Time

	mu         sync.Mutex
	deliveries int                  // lot messages taken
	outageLots int                  // deliveries still to ignore (Outage.Lots)
	seen       map[string]*memo     // sheet key → what was answered
	pending    []*due               // transfer lines not yet published
	yearCaps   map[string]*fse.Caps // per patient (NIR and rank) and year: what the yearly caps have counted
	nudge      chan struct{}        // a lot handed payments to the payer
	stats      Stats
}

// Stats count what the insurer did.
type Stats struct {
	Lots      int // lot messages taken
	Ignored   int // left unacknowledged (outage)
	ARLs      int // ARLs published (negative included)
	Negative  int // negative ARLs
	Returns   int // returns published (accepted, rejected, signalement)
	Payments  int // sheets paid in published transfers
	Reversals int // payments reversed in published transfers
	Transfers int // transfers published
	Published int // acknowledgement and transfer messages published, duplicates included
}

type memo struct {
	digest [32]byte
	status lot.Status // Accepted or Rejected
	reason *lot.Reason
	tp     bool
	pay    int64
	signal bool
	// participation and franchises are what the patient owes for this
	// sheet after the yearly caps (recorded in the accepted return, never
	// deducted from a payment).
	participation, franchises int64
	paying                    bool // handed to the payer
	paid                      bool // in a published transfer: never paid again
}

// Start connects as the insurer's NATS user and starts taking lots from
// its durable consumer (which the gateway creates: Start never creates
// streams or consumers, and waits for them if they are not there yet).
func Start(ctx context.Context, cfg Config) (*Insurer, error) {
	if cfg.Insurer == nil {
		return nil, errors.New("mock insurer: no insurer")
	}
	if cfg.Checker == nil {
		return nil, fmt.Errorf("mock insurer %s: no sheet checker", cfg.Insurer.ID)
	}
	if cfg.Wire == (lot.Wire{}) {
		cfg.Wire = lot.Live
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sc := &Scenario{}
	if cfg.Scenario != nil {
		c := *cfg.Scenario
		sc = &c
	}
	if cfg.Seed != 0 {
		sc.Seed = cfg.Seed
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := cfg.Insurer.ID
	opts := []nats.Option{
		nats.Name("fsegate mock insurer " + id),
		nats.CustomInboxPrefix(lot.InboxPrefix(id)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if cfg.NKeySeed != nil {
		auth, err := insurers.NATSAuth(cfg.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("mock insurer %s: %w", id, err)
		}
		opts = append(opts, auth)
	}
	if cfg.TLS != nil {
		opts = append(opts, nats.Secure(cfg.TLS))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("mock insurer %s: connect: %w", id, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("mock insurer %s: %w", id, err)
	}
	i := &Insurer{cfg: cfg, id: id, sc: sc, nc: nc, js: js, log: log.With("insurer", id), start: cfg.Now(), seen: map[string]*memo{}, yearCaps: map[string]*fse.Caps{}, nudge: make(chan struct{}, 1)}
	for _, o := range sc.Outages {
		i.outageLots += o.Lots
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	i.cancel = cancel
	i.wg.Add(2)
	go i.run(runCtx)
	go i.payer(runCtx)
	return i, nil
}

// Stop stops taking lots, abandons answers not yet sent (their lots stay
// unacknowledged and come back), and closes the connection.
func (i *Insurer) Stop() error {
	i.cancel()
	i.wg.Wait()
	i.nc.Close()
	return nil
}

// ID is the insurer's id.
func (i *Insurer) ID() string { return i.id }

// Stats returns a copy of the counters.
func (i *Insurer) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.stats
}

func (i *Insurer) run(ctx context.Context) {
	defer i.wg.Done()
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		if d := i.inOutage(); d > 0 {
			sleep(ctx, d)
			continue
		}
		if cons == nil {
			c, err := i.js.Consumer(ctx, i.cfg.Wire.Stream, i.cfg.Wire.Consumer(i.id))
			if err != nil {
				if ctx.Err() == nil {
					i.log.Debug("waiting for the lot consumer", "err", err)
				}
				sleep(ctx, 250*time.Millisecond)
				continue
			}
			cons = c
		}
		n := 16
		if i.sc.SlowConsumer > 0 {
			sleep(ctx, i.sc.SlowConsumer)
			n = 1
		}
		fctx, fcancel := context.WithTimeout(ctx, time.Second)
		batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
		if err != nil {
			fcancel()
			if ctx.Err() == nil {
				i.log.Debug("fetch", "err", err)
				sleep(ctx, 250*time.Millisecond)
			}
			continue
		}
		for m := range batch.Messages() {
			i.take(ctx, m)
		}
		fcancel()
	}
}

// inOutage is how long the current outage window still lasts.
func (i *Insurer) inOutage() time.Duration {
	el := i.cfg.Now().Sub(i.start)
	for _, o := range i.sc.Outages {
		if o.Duration > 0 && el >= o.Start && el < o.Start+o.Duration {
			return o.Start + o.Duration - el
		}
	}
	return 0
}

func (i *Insurer) take(ctx context.Context, m jetstream.Msg) {
	if lot.IsSCOR(m.Data()) {
		i.takeSCOR(ctx, m)
		return
	}
	i.mu.Lock()
	idx := i.deliveries
	i.deliveries++
	i.stats.Lots++
	if i.outageLots > 0 {
		i.outageLots--
		i.stats.Ignored++
		i.mu.Unlock()
		i.log.Info("outage: lot left unacknowledged")
		return
	}
	i.mu.Unlock()
	l, err := lot.DecodeLot(m.Data())
	if err != nil {
		if l == nil || l.Attempt < 1 {
			// Nobody can be answered: end the delivery, the gateway's
			// delivery deadline reports it.
			i.log.Warn("lot does not decode and names no lot id", "err", err)
			m.Term()
			return
		}
		l.Sheets = nil
		plan := &plan{arl: i.arl(l, &lot.Reason{Code: lot.CodeFormat, Label: label(err)})}
		i.wg.Add(1)
		go i.answer(ctx, m, l, plan)
		return
	}
	p := i.plan(l, idx)
	i.wg.Add(1)
	go i.answer(ctx, m, l, p)
}

// plan is what the insurer will publish about one lot delivery.
type plan struct {
	arl     *lot.Ack
	arl2    *lot.Ack // misbehave: a second ARL
	returns *lot.Ack
	dues    []*due // paid in transfers
	silent  string // no_answer: "-" nothing, "arl" ARL only, "returns" no payments
}

func (i *Insurer) arl(l *lot.Lot, neg *lot.Reason) *lot.Ack {
	a := &lot.Ack{
		ID: lot.AckID(i.id, l.ID, l.Attempt, lot.LevelARL, 1), Insurer: i.id, Lot: l.ID, Attempt: l.Attempt,
		Created: i.cfg.Now().UTC(),
		ARL:     &lot.ARL{ID: lot.ARLID(i.id, l.ID, l.Attempt), Positive: neg == nil, Reason: neg},
	}
	return a
}

func (i *Insurer) plan(l *lot.Lot, idx int) *plan {
	sc := i.sc
	now := i.cfg.Now()
	p := &plan{}
	if sc.hit(sc.NoAnswer.Rate, "no_answer", l.MsgID()) || idx < sc.NoAnswer.First {
		p.silent = sc.NoAnswer.After
		if p.silent == "" {
			p.silent = "-"
		}
	}
	var neg *lot.Reason
	switch err := l.Verify(); {
	case l.Insurer != i.id:
		neg = &lot.Reason{Code: lot.CodeNotOurs, Label: "lot addressed to " + l.Insurer}
	case err != nil:
		neg = &lot.Reason{}
		errors.As(err, &neg)
	case l.Created.After(now.Add(5 * time.Minute)):
		neg = &lot.Reason{Code: lot.CodeFuture, Label: "lot daté dans le futur"}
	case idx < sc.NegativeARL.First || sc.hit(sc.NegativeARL.Rate, "negative_arl", l.MsgID()):
		neg = &lot.Reason{Code: lot.CodeScenario, Label: "lot refusé (scénario)"}
		if sc.NegativeARL.Code != "" {
			neg.Code = sc.NegativeARL.Code
		}
		if sc.NegativeARL.Label != "" {
			neg.Label = sc.NegativeARL.Label
		}
	}
	p.arl = i.arl(l, neg)
	if sc.Misbehave.DuplicateARL {
		a := *p.arl
		arl := *a.ARL
		arl.ID += "-bis"
		a.ARL, a.ID = &arl, a.ID+"-bis"
		p.arl2 = &a
	}
	if neg != nil {
		return p
	}
	ret := &lot.Ack{ID: lot.AckID(i.id, l.ID, l.Attempt, lot.LevelReturns, 1), Insurer: i.id, Lot: l.ID, Attempt: l.Attempt, Created: now.UTC()}
	for n := range l.Sheets {
		s := &l.Sheets[n]
		if n == 0 && sc.Misbehave.MissingReturn {
			continue
		}
		m := i.judge(s)
		id := func(st lot.Status) string { return lot.ReturnID(i.id, s.Billing, s.Number, s.Digest, st) }
		r := lot.Return{ID: id(m.status), Billing: s.Billing, Number: s.Number, Status: m.status, Reason: m.reason}
		if m.status == lot.Accepted {
			r.Participation, r.Franchises = m.participation, m.franchises
		}
		ret.Returns = append(ret.Returns, r)
		if m.signal {
			ret.Returns = append(ret.Returns, lot.Return{ID: id(lot.Signalement), Billing: s.Billing, Number: s.Number, Status: lot.Signalement,
				Reason: &lot.Reason{Code: lot.CodeSignalement, Label: "signalement (scénario)"}})
		}
		if m.status == lot.Accepted && m.tp {
			p.dues = append(p.dues, i.dueOf(s, l.ID, m, now))
		}
	}
	if len(ret.Returns) > 0 {
		p.returns = ret
	}
	return p
}

// judge decides a sheet once: a sheet seen again with the same bytes gets
// the same answer; another sheet under a number already accepted is a
// doublon.
func (i *Insurer) judge(s *lot.Sheet) *memo {
	key := s.Key()
	i.mu.Lock()
	old := i.seen[key]
	i.mu.Unlock()
	if old != nil && old.digest == s.Digest {
		return old
	}
	m := &memo{digest: s.Digest, status: lot.Accepted}
	switch {
	case old != nil && old.status != lot.Rejected:
		m.status, m.reason = lot.Rejected, &lot.Reason{Code: lot.CodeDoublon, Label: "DOUBLON DE FSE"}
	default:
		c, err := i.cfg.Checker.Check(s.Signed)
		switch {
		case err != nil:
			m.status, m.reason = lot.Rejected, &lot.Reason{Code: lot.CodeSheetFormat, Label: label(err)}
		case c.Reject != nil:
			m.status, m.reason = lot.Rejected, c.Reject
		default:
			if r := i.sc.reject(key, c); r != nil {
				m.status, m.reason = lot.Rejected, r
			} else {
				m.tp, m.pay = c.TiersPayant, c.Pay
				m.participation, m.franchises = i.caps(c)
				m.signal = i.sc.hit(i.sc.Signalements.Rate, "signalement", key)
			}
		}
	}
	i.mu.Lock()
	if old == nil || old.status == lot.Rejected {
		i.seen[key] = m // a correction replaces a rejected sheet
	}
	i.mu.Unlock()
	return m
}

// reject applies the scenario's reject rules to a sheet that passed.
func (s *Scenario) reject(key string, c *Checked) *lot.Reason {
	for n, r := range s.Rejects {
		if r.Field != "" && c.Fields[r.Field] != r.Value {
			continue
		}
		if r.Line != "" && !contains(c.Lines, r.Line) {
			continue
		}
		if r.Rate > 0 && !s.hit(r.Rate, fmt.Sprintf("reject/%d", n), key) {
			continue
		}
		lbl := r.Label
		if lbl == "" {
			lbl = "rejet (scénario)"
		}
		return &lot.Reason{Code: r.Code, Label: lbl}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// answer publishes the plan with the scenario's delays, then acknowledges
// the lot message. If ctx ends first the lot stays unacknowledged.
func (i *Insurer) answer(ctx context.Context, m jetstream.Msg, l *lot.Lot, p *plan) {
	defer i.wg.Done()
	sc := i.sc
	type step struct {
		delay time.Duration
		acks  []*lot.Ack
		dues  []*due
	}
	steps := []step{{delay: sc.Delays.ARL, acks: []*lot.Ack{p.arl, p.arl2}}, {delay: sc.Delays.Returns, acks: []*lot.Ack{p.returns}}, {delay: sc.Delays.Payments, dues: p.dues}}
	switch p.silent {
	case "-":
		steps = nil
	case "arl":
		steps = steps[:1]
	case "returns":
		steps = steps[:2]
	}
	if sc.OutOfOrder {
		for a, b := 0, len(steps)-1; a < b; a, b = a+1, b-1 {
			steps[a].acks, steps[b].acks = steps[b].acks, steps[a].acks
			steps[a].dues, steps[b].dues = steps[b].dues, steps[a].dues
		}
	}
	// Keep the lot message ours while waiting (AckWait).
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				m.InProgress()
			}
		}
	}()
	for _, st := range steps {
		if !sleep(ctx, st.delay) {
			return
		}
		if len(st.dues) > 0 && !i.pay(ctx, st.dues) {
			return // not acked: the lot comes back, its unpaid sheets are paid then
		}
		for _, a := range st.acks {
			if a == nil {
				continue
			}
			if err := i.publish(ctx, a); err != nil {
				i.log.Warn("publish acknowledgement", "lot", l.ID, "err", err)
				return // not acked: the lot comes back and is answered again, same ids
			}
		}
	}
	if err := m.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		i.log.Warn("ack lot", "lot", l.ID, "err", err)
		return
	}
	i.log.Info("lot answered", "lot", l.ID, "attempt", l.Attempt, "sheets", len(l.Sheets), "arl_positive", p.arl.ARL.Positive, "silent", p.silent)
}

func (i *Insurer) publish(ctx context.Context, a *lot.Ack) error {
	b, err := a.Encode()
	if err != nil {
		return err
	}
	subj := i.cfg.Wire.AckSubject(i.id)
	if _, err := i.js.Publish(ctx, subj, b, jetstream.WithMsgID(a.ID)); err != nil {
		return err
	}
	dup := i.sc.hit(i.sc.Duplicates.Rate, "duplicate", a.ID)
	if dup {
		// The same acknowledgement again, past JetStream's dedup window
		// as a redelivery would be: the gateway must apply it once.
		if _, err := i.js.Publish(ctx, subj, b, jetstream.WithMsgID(a.ID+".dup")); err != nil {
			return err
		}
	}
	i.mu.Lock()
	i.stats.Published++
	if dup {
		i.stats.Published++
	}
	if a.ARL != nil {
		i.stats.ARLs++
		if !a.ARL.Positive {
			i.stats.Negative++
		}
	}
	i.stats.Returns += len(a.Returns)
	i.mu.Unlock()
	if i.cfg.OnAck != nil {
		i.cfg.OnAck(a)
		if dup {
			i.cfg.OnAck(a)
		}
	}
	return nil
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// caps applies the yearly caps of the participation forfaitaire and the
// franchises over the sheets this insurer has seen for the same patient
// (fse.Caps, the rules' own implementation): what this sheet's patient owes,
// recorded in the return. One fse.Caps per patient and care year; only an
// AMO recovers them; a sheet is counted once (judge decides each sheet
// once).
func (i *Insurer) caps(c *Checked) (participation, franchises int64) {
	if c.Sheet == nil || c.Breakdown == nil || i.cfg.Insurer.Kind != insurers.AMO {
		return 0, 0
	}
	who := c.Sheet.Patient.NIR + "." + strconv.Itoa(c.Sheet.Patient.Rank) + "." + strconv.Itoa(c.Sheet.CareDate.Year)
	i.mu.Lock()
	defer i.mu.Unlock()
	cp := i.yearCaps[who]
	if cp == nil {
		cp = &fse.Caps{}
		i.yearCaps[who] = cp
	}
	p, f := cp.Apply(c.Sheet, c.Breakdown, c.Money)
	return int64(p), int64(f)
}
