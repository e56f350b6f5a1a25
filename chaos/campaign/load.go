package campaign

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/fsegate/fsegate/chaos"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/loadgen"
)

// LoadConfig is the load generator's: it sends the corpus to the gateways
// at Rate for Duration (a sheet refused for want of the queue, or without
// an answer, is sent again, as a workstation's outbox does), mixes in
// resends, doublons and state reads, follows every billing number's
// notices and confirms them, then follows until every receipted sheet is
// final (at most Drain); every operation goes to the history.
type LoadConfig struct {
	Gateways []string
	Seed     uint64
	Rate     float64
	Duration time.Duration
	Drain    time.Duration
	History  string
	// Roots is the PEM file of the gateways' certificate.
	Roots string
	Out   io.Writer
	// Practitioners send the sheets, priced with Tariffs (NGAP): 'chaos
	// load' gives the fixtures' test cards and table (fixtures/dev).
	Practitioners []*loadgen.Practitioner
	Tariffs       *fse.Tariffs
}

type loadSheet struct {
	loadgen.Sheet
	digest string
	// doublon: another sheet under the same key (nil: none).
	doublon       []byte
	doublonDigest string
}

type load struct {
	cfg     LoadConfig
	ps      []*loadgen.Practitioner
	via     [][]*client.Client // gateway → practitioner → client
	rec     *chaos.Recorder
	mu      sync.Mutex
	rnd     *rand.Rand
	done    []int // indexes of receipted sheets
	isDone  map[int]bool
	pending map[int]bool // sent, no receipt yet
	final   map[int]bool
	sheets  []loadSheet
}

// Load runs the load generator.
func Load(ctx context.Context, cfg LoadConfig) error {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	ps := cfg.Practitioners
	if len(ps) == 0 || cfg.Tariffs == nil {
		return errors.New("campaign: no practitioners or no tariffs to make the load")
	}
	n := int(cfg.Rate*cfg.Duration.Seconds()) + 1
	now := time.Now()
	corpus, err := loadgen.Prepare(ctx, ps, cfg.Tariffs, n, cfg.Seed, now, nil)
	if err != nil {
		return err
	}
	// Doublons: the same numbers (the base derives from seed mod 4000),
	// other content.
	nd := max(1, n/20)
	doublons, err := loadgen.Prepare(ctx, ps, cfg.Tariffs, nd, cfg.Seed+4000, now, nil)
	if err != nil {
		return err
	}
	l := &load{cfg: cfg, ps: ps, rnd: rand.New(rand.NewPCG(cfg.Seed, 7)), isDone: map[int]bool{}, pending: map[int]bool{}, final: map[int]bool{}}
	for i, s := range corpus.Sheets {
		ls := loadSheet{Sheet: s, digest: digestOf(s.Signed)}
		if i < nd {
			d := doublons.Sheets[i]
			if d.Billing == s.Billing && d.Number == s.Number {
				if dg := digestOf(d.Signed); dg != ls.digest {
					ls.doublon, ls.doublonDigest = d.Signed, dg
				}
			}
		}
		l.sheets = append(l.sheets, ls)
	}
	roots := x509.NewCertPool()
	b, err := os.ReadFile(cfg.Roots)
	if err != nil {
		return err
	}
	roots.AppendCertsFromPEM(b)
	for _, u := range cfg.Gateways {
		var cs []*client.Client
		for _, p := range ps {
			cert := p.TLS
			cl, err := client.New(client.Config{URL: u, Certificate: &cert, Roots: roots, Connections: 4, Timeout: 8 * time.Second})
			if err != nil {
				return err
			}
			defer cl.Close()
			cs = append(cs, cl)
		}
		l.via = append(l.via, cs)
	}
	if l.rec, err = chaos.NewRecorder(cfg.History); err != nil {
		return err
	}
	defer l.rec.Close()
	fmt.Fprintf(cfg.Out, "load: %d sheets (%d doublons ready) at %.1f/s to %d gateways\n", n, nd, cfg.Rate, len(cfg.Gateways))

	sendEnd := time.Now().Add(cfg.Duration)
	followCtx, stopFollow := context.WithCancel(ctx)
	var followers sync.WaitGroup
	billings := map[string]int{}
	for i, p := range ps {
		if _, ok := billings[p.Prac.Billing]; !ok {
			billings[p.Prac.Billing] = i
		}
	}
	drained := make(chan struct{})
	for billing, pi := range billings {
		followers.Add(1)
		go func() { defer followers.Done(); l.follow(followCtx, billing, pi, drained) }()
	}
	l.send(ctx, sendEnd)
	fmt.Fprintf(cfg.Out, "load: sending over, %d receipted; draining\n", len(l.done))
	l.drain(ctx, time.Now().Add(cfg.Drain))
	close(drained)
	// The followers read until their billing number has nothing left.
	waitDone := make(chan struct{})
	go func() { followers.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(60 * time.Second):
		stopFollow()
		<-waitDone
	}
	stopFollow()
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(cfg.Out, "load: %d receipted, %d final, %d never receipted\n", len(l.done), len(l.final), len(l.pending))
	return nil
}

// digestOf is the sheet's content digest (fse.Sheet.ContentDigest), as
// the gateway computes it.
func digestOf(signed []byte) string {
	s, err := fse.Decode(signed)
	if err != nil {
		return ""
	}
	d := s.ContentDigest()
	return hex.EncodeToString(d[:])
}

func (l *load) client(p int) (string, *client.Client) {
	l.mu.Lock()
	g := l.rnd.IntN(len(l.via))
	l.mu.Unlock()
	return fmt.Sprintf("g%d", g+1), l.via[g][p]
}

// sendOne posts one variant of sheet i and records it.
func (l *load) sendOne(ctx context.Context, i int, variant string) (ok, retry bool) {
	s := l.sheets[i]
	body, digest := s.Signed, s.digest
	if variant == chaos.Doublon {
		body, digest = s.doublon, s.doublonDigest
	}
	gw, cl := l.client(s.P)
	op := chaos.Op{T: time.Now(), Kind: chaos.OpSend, Proc: gw, Key: s.Billing + "." + s.Number, Variant: variant, Sent: digest}
	r, err := cl.SendSheet(ctx, body)
	op.End = time.Now()
	var p *client.Problem
	switch {
	case err == nil:
		op.Result, op.Digest, op.Again, op.Corrects = chaos.Receipted, r.Digest, r.Again, r.Corrects
		ok = true
	case errors.As(err, &p):
		op.Result, op.HTTP, op.Codes = chaos.Refused, p.Status, p.Codes()
		retry = p.Retryable()
	default:
		op.Result, op.Detail, retry = chaos.Failed, err.Error(), true
	}
	l.rec.Add(op)
	return ok, retry
}

// send offers the corpus at the rate until end; failed sends are retried
// with a backoff; resends, doublons and state reads are mixed in.
func (l *load) send(ctx context.Context, end time.Time) {
	jobs := make(chan func(), 256)
	var wg sync.WaitGroup
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j()
			}
		}()
	}
	var retries sync.WaitGroup
	var original func(i int, attempt int)
	original = func(i, attempt int) {
		ok, retry := l.sendOne(ctx, i, chaos.Original)
		l.mu.Lock()
		switch {
		case ok:
			delete(l.pending, i)
			if !l.isDone[i] {
				l.isDone[i] = true
				l.done = append(l.done, i)
			}
		case !retry:
			delete(l.pending, i) // refused for good: nothing to follow
		}
		l.mu.Unlock()
		if ok || !retry || ctx.Err() != nil {
			return
		}
		// A workstation's outbox: again, later, maybe elsewhere.
		retries.Add(1)
		go func() {
			defer retries.Done()
			d := min(time.Duration(attempt+1)*500*time.Millisecond, 5*time.Second)
			if sleepCtx(ctx, d) {
				original(i, attempt+1)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / l.cfg.Rate)
	start := time.Now()
	for i := range l.sheets {
		at := start.Add(time.Duration(i) * interval)
		if at.After(end) || ctx.Err() != nil {
			break
		}
		if !sleepCtx(ctx, time.Until(at)) {
			break
		}
		l.mu.Lock()
		l.pending[i] = true
		extra := l.rnd.IntN(100)
		var pick = -1
		if len(l.done) > 0 {
			pick = l.done[l.rnd.IntN(len(l.done))]
		}
		l.mu.Unlock()
		jobs <- func() { original(i, 0) }
		switch {
		case pick < 0:
		case extra < 5:
			jobs <- func() { l.sendOne(ctx, pick, chaos.Resend) }
		case extra < 10 && l.sheets[pick].doublon != nil:
			jobs <- func() { l.sendOne(ctx, pick, chaos.Doublon) }
		case extra < 25:
			jobs <- func() { l.status(ctx, pick) }
		}
	}
	close(jobs)
	wg.Wait()
	// Sheets still waiting for a receipt are retried during the drain.
	retries.Wait()
}

// status reads sheet i's state and records it; it reports whether the
// sheet is final.
func (l *load) status(ctx context.Context, i int) bool {
	s := l.sheets[i]
	gw, cl := l.client(s.P)
	op := chaos.Op{T: time.Now(), Kind: chaos.OpStatus, Proc: gw, Key: s.Billing + "." + s.Number}
	st, err := cl.Sheet(ctx, s.Billing, s.Number)
	op.End = time.Now()
	if err != nil {
		op.Result, op.Detail = chaos.Failed, err.Error()
		l.rec.Add(op)
		return false
	}
	for _, d := range st.Destinations {
		op.Dests = append(op.Dests, chaos.Dest{Insurer: d.Insurer, State: d.State, ExpectPayment: d.ExpectPayment, Lot: d.Lot, Code: d.Code, Amount: d.Amount})
	}
	l.rec.Add(op)
	if st.Final() {
		l.mu.Lock()
		l.final[i] = true
		l.mu.Unlock()
		return true
	}
	return false
}

// drain retries what has no receipt yet and reads the state of every
// receipted sheet until all are final, or until the deadline.
func (l *load) drain(ctx context.Context, until time.Time) {
	for time.Now().Before(until) && ctx.Err() == nil {
		l.mu.Lock()
		var pend, open []int
		for i := range l.pending {
			pend = append(pend, i)
		}
		for _, i := range l.done {
			if !l.final[i] {
				open = append(open, i)
			}
		}
		l.mu.Unlock()
		if len(pend) == 0 && len(open) == 0 {
			return
		}
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		for _, i := range pend {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				ok, retry := l.sendOne(ctx, i, chaos.Original)
				l.mu.Lock()
				if ok || !retry {
					delete(l.pending, i)
				}
				if ok && !l.isDone[i] {
					l.isDone[i] = true
					l.done = append(l.done, i)
				}
				l.mu.Unlock()
			}()
		}
		for _, i := range open {
			sem <- struct{}{}
			wg.Add(1)
			go func() { defer func() { <-sem; wg.Done() }(); l.status(ctx, i) }()
		}
		wg.Wait()
		sleepCtx(ctx, time.Second)
	}
}

// follow reads and confirms billing's notices until the drain is over and
// nothing is left.
func (l *load) follow(ctx context.Context, billing string, p int, drained chan struct{}) {
	for ctx.Err() == nil {
		gw, cl := l.client(p)
		op := chaos.Op{T: time.Now(), Kind: chaos.OpNotices, Proc: gw, Billing: billing}
		ns, err := cl.Notices(ctx, billing, 2*time.Second)
		op.End = time.Now()
		if err != nil {
			op.Result, op.Detail = chaos.Failed, err.Error()
			l.rec.Add(op)
			sleepCtx(ctx, 500*time.Millisecond)
			continue
		}
		var last uint64
		for _, n := range ns {
			op.Notices = append(op.Notices, chaos.Notice{Seq: n.Seq, ID: n.ID, Number: n.Number, Insurer: n.Insurer, Lot: n.Lot, Event: n.Event, Code: n.Code, Amount: n.Amount})
			last = max(last, n.Seq)
		}
		l.rec.Add(op)
		if last > 0 {
			gw, cl := l.client(p)
			cop := chaos.Op{T: time.Now(), Kind: chaos.OpConfirm, Proc: gw, Billing: billing, Seq: last}
			err := cl.Confirm(ctx, billing, last)
			cop.End = time.Now()
			if err != nil {
				cop.Result, cop.Detail = chaos.Failed, err.Error()
			}
			l.rec.Add(cop)
			continue
		}
		select {
		case <-drained:
			return // the drain is over and nothing is left to read
		default:
		}
	}
}
