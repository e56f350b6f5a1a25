package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/gob"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/practices"
	"github.com/fsegate/fsegate/signature"
)

// Practitioner is one sender: its billing identity and its keys.
type Practitioner struct {
	Profile string
	Prac    fse.Practitioner
	TLS     tls.Certificate
	sigKey  crypto.Signer
	sigCert *x509.Certificate
}

// Sheet is one pre-signed sheet of the corpus.
type Sheet struct {
	P       int // index into the practitioners
	Billing string
	Number  string
	Signed  []byte
}

// Corpus is what a run sends.
type Corpus struct {
	Made   time.Time
	Seed   uint64
	Sheets []Sheet
}

// CardKeys are a card's two key pairs, PEM (a PKCS #8 key, a
// certificate): the signature pair signs the sheets, the authentication
// pair is the TLS client certificate.
type CardKeys struct {
	SigKey, SigCert   []byte
	AuthKey, AuthCert []byte
}

// NewPractitioner makes the sender of a card's keys (profile names it);
// its billing identity is the one dir gives today to the holder of the
// signature certificate. In development, fixtures/dev.Practitioners makes
// them from the test cards.
func NewPractitioner(profile string, keys CardKeys, dir *practices.Directory) (*Practitioner, error) {
	tc, err := tls.X509KeyPair(keys.AuthCert, keys.AuthKey)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(keys.SigKey)
	if blk == nil {
		return nil, errors.New("signature key: no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	cblk, _ := pem.Decode(keys.SigCert)
	if cblk == nil {
		return nil, errors.New("signature certificate: no PEM")
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, err
	}
	id := signature.IdentityOf(cert)
	p, err := dir.SheetPractitioner(id.NationalID, time.Now())
	if err != nil {
		return nil, err
	}
	return &Practitioner{Profile: profile, Prac: p, TLS: tc, sigKey: k.(crypto.Signer), sigCert: cert}, nil
}

// Prepare generates and signs n sheets spread over the practitioners,
// priced with tariffs (the NGAP table), using every core. progress, when
// set, is called as sheets are signed.
func Prepare(ctx context.Context, ps []*Practitioner, tariffs *fse.Tariffs, n int, seed uint64, now time.Time, progress func(done int)) (*Corpus, error) {
	c := &Corpus{Made: now, Seed: seed, Sheets: make([]Sheet, n)}
	// Numbers: distinct over the whole corpus (two practitioners may share a
	// billing number), derived from the seed so that corpora of different
	// seeds do not collide on one gateway.
	base := int(seed%4000)*200000 + 1
	var next atomic.Int64
	var done atomic.Int64
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				pi := i % len(ps)
				p := ps[pi]
				s, err := fse.Generate(r, fse.GenerateOptions{Now: now, Practitioners: []fse.Practitioner{p.Prac}, Tariffs: tariffs, Number: base + i})
				if err != nil {
					errs <- err
					return
				}
				signed, err := signature.SignOptions{Now: func() time.Time { return now }}.Sign(ctx, s.Encode(), signature.MessageSigner{Signer: p.sigKey}, []*x509.Certificate{p.sigCert})
				if err != nil {
					errs <- err
					return
				}
				c.Sheets[i] = Sheet{P: pi, Billing: p.Prac.Billing, Number: s.Number, Signed: signed}
				if d := done.Add(1); progress != nil && d%500 == 0 {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return c, ctx.Err()
}

// Save writes the corpus to a file.
func (c *Corpus) Save(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := gob.NewEncoder(w).Encode(c); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadCorpus reads a corpus saved by Save.
func LoadCorpus(path string) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var c Corpus
	if err := gob.NewDecoder(bufio.NewReader(f)).Decode(&c); err != nil {
		return nil, fmt.Errorf("corpus %s: %w", path, err)
	}
	return &c, nil
}

// Config is one run.
type Config struct {
	URL string
	// URLs, when set, are several gateways sharing one queue (cluster
	// mode): sheet i goes to URLs[i % len(URLs)], so every practitioner
	// sends through each of them; URL is then ignored.
	URLs        []string
	Roots       *x509.CertPool
	Rate        float64 // sheets per second; 0 = as fast as the connections go
	Connections int     // per practitioner (keep-alive); 4 by default
	Follow      bool    // follow notices until every receipted sheet is final
	FollowFor   time.Duration
	Out         io.Writer // progress lines, once per second
}

// Report is the run's accounting.
type Report struct {
	Sent, Receipted, Refused, Errors int
	RefusedCodes                     map[string]int
	Final, Missing, Duplicated       int
	SendDuration                     time.Duration
	Receipt, ARL, FinalLatency       Percentiles
}

// Percentiles of a latency.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Percentiles{N: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (n=%d)", p.P50.Round(time.Millisecond), p.P90.Round(time.Millisecond), p.P99.Round(time.Millisecond), p.Max.Round(time.Millisecond), p.N)
}

// Throughput is receipted sheets per second of sending.
func (r *Report) Throughput() float64 {
	if r.SendDuration <= 0 {
		return 0
	}
	return float64(r.Receipted) / r.SendDuration.Seconds()
}

func (r *Report) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "sent %d in %s: %.0f sheets/s receipted\n", r.Sent, r.SendDuration.Round(time.Millisecond), r.Throughput())
	fmt.Fprintf(&b, "receipted %d, refused %d %v, transport errors %d\n", r.Receipted, r.Refused, r.RefusedCodes, r.Errors)
	fmt.Fprintf(&b, "receipt latency: %s\n", r.Receipt)
	if r.ARL.N > 0 || r.Final > 0 || r.Missing > 0 {
		fmt.Fprintf(&b, "ARL latency:     %s\n", r.ARL)
		fmt.Fprintf(&b, "final latency:   %s\n", r.FinalLatency)
		fmt.Fprintf(&b, "final %d, missing %d, duplicated final states %d\n", r.Final, r.Missing, r.Duplicated)
	}
	return b.String()
}

type sent struct {
	at       time.Time
	receipt  time.Duration
	p        int
	ok       bool
	dests    map[string]*destSeen // by insurer, from the receipt
	arl      time.Duration
	finalLat time.Duration
	done     bool
}

// destSeen is what the notices said of one destination of a sheet.
type destSeen struct {
	finals   int  // final notices (paid, rejected, delivery_failed, returns_overdue)
	accepted bool // accepted: final when nothing is paid through us
}

func (st *sent) complete() bool {
	for _, d := range st.dests {
		if d.finals == 0 && !d.accepted {
			return false
		}
	}
	return len(st.dests) > 0
}

var finalEvents = map[string]bool{"paid": true, "rejected": true, "delivery_failed": true, "returns_overdue": true}

// Run sends the corpus and, with Follow, follows it to the end.
func Run(ctx context.Context, cfg Config, ps []*Practitioner, c *Corpus) (*Report, error) {
	if cfg.Connections <= 0 {
		cfg.Connections = 4
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	urls := cfg.URLs
	if len(urls) == 0 {
		urls = []string{cfg.URL}
	}
	// via[u][p] is practitioner p's keep-alive client to gateway u.
	via := make([][]*client.Client, len(urls))
	for u, url := range urls {
		via[u] = make([]*client.Client, len(ps))
		for i, p := range ps {
			cert := p.TLS
			cl, err := client.New(client.Config{URL: url, Certificate: &cert, Roots: cfg.Roots, Connections: cfg.Connections + 1}) // +1: the notice reader
			if err != nil {
				return nil, err
			}
			defer cl.Close()
			via[u][i] = cl
		}
	}
	clients := via[0]
	rep := &Report{RefusedCodes: map[string]int{}}
	state := make(map[string]*sent, len(c.Sheets))
	var mu sync.Mutex
	// Notices are followed while sending, so that the latencies are those
	// of the gateway, not of the time the sending took.
	tr := &tracker{mu: &mu, state: state, early: map[string][]client.Notice{}, arlAt: map[string]time.Time{}, sendEnd: make(chan struct{})}
	var followers sync.WaitGroup
	if cfg.Follow {
		tr.start(ctx, cfg, ps, clients, &followers)
	}
	var wg sync.WaitGroup
	var nSent, nOK atomic.Int64
	work := func(jobs chan int) {
		defer wg.Done()
		for i := range jobs {
			s := c.Sheets[i]
			t0 := time.Now()
			rc, err := via[i%len(via)][s.P].SendSheet(ctx, s.Signed)
			d := time.Since(t0)
			nSent.Add(1)
			mu.Lock()
			key := s.Billing + "." + s.Number
			st := &sent{at: t0, receipt: d, p: s.P}
			state[key] = st
			var p *client.Problem
			switch {
			case err == nil:
				st.ok = true
				st.dests = map[string]*destSeen{}
				for _, d := range rc.Destinations {
					st.dests[d.Insurer] = &destSeen{}
				}
				rep.Receipted++
				nOK.Add(1)
				tr.receipted(key, st)
			case errors.As(err, &p):
				rep.Refused++
				for _, code := range p.Codes() {
					rep.RefusedCodes[code]++
				}
			default:
				rep.Errors++
			}
			mu.Unlock()
		}
	}
	// Each practitioner sends on its own Connections connections to each
	// gateway, one worker per connection: a sheet waits for a connection
	// of its own practitioner, never for another's.
	queues := make([][]chan int, len(urls))
	for u := range queues {
		queues[u] = make([]chan int, len(ps))
		for p := range ps {
			queues[u][p] = make(chan int, 4096)
			for range cfg.Connections {
				wg.Add(1)
				go work(queues[u][p])
			}
		}
	}
	stopTicker := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-stopTicker:
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				fmt.Fprintf(cfg.Out, "  %5.0fs  sent %d, receipted %d (%.0f/s)\n", el, nSent.Load(), nOK.Load(), float64(nOK.Load())/el)
			}
		}
	}()
	start := time.Now()
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	for i := range c.Sheets {
		if interval > 0 {
			if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
				time.Sleep(wait)
			}
		}
		select {
		case queues[i%len(queues)][c.Sheets[i].P] <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, qs := range queues {
		for _, q := range qs {
			close(q)
		}
	}
	wg.Wait()
	rep.SendDuration = time.Since(start)
	close(stopTicker)
	tr.sendingDone(cfg.FollowFor)
	rep.Sent = int(nSent.Load())
	var lat []time.Duration
	for _, st := range state {
		if st.ok {
			lat = append(lat, st.receipt)
		}
	}
	rep.Receipt = percentiles(lat)
	if !cfg.Follow {
		return rep, ctx.Err()
	}
	followers.Wait()
	return rep, tr.account(ctx, clients, rep)
}

// tracker matches notices to the sheets sent, while they are being sent.
type tracker struct {
	mu       *sync.Mutex
	state    map[string]*sent
	early    map[string][]client.Notice // notices of sheets whose receipt is not in yet
	arlAt    map[string]time.Time       // first ARL notice of each lot
	pending  int                        // receipted sheets not yet final
	end      time.Time                  // sending done + FollowFor; zero while sending
	sendEnd  chan struct{}
	firstErr error
}

// receipted counts a receipted sheet (with t.mu held) and applies the
// notices that came before its receipt.
func (t *tracker) receipted(key string, st *sent) {
	t.pending++
	for _, n := range t.early[key] {
		t.apply(st, n)
	}
	delete(t.early, key)
}

func (t *tracker) sendingDone(followFor time.Duration) {
	if followFor == 0 {
		followFor = 2 * time.Minute
	}
	t.mu.Lock()
	t.end = time.Now().Add(followFor)
	t.mu.Unlock()
	close(t.sendEnd)
}

// apply records notice n of sheet st (t.mu held).
func (t *tracker) apply(st *sent, n client.Notice) {
	now := n.Time
	if n.Lot != "" && st.arl == 0 {
		if at, ok := t.arlAt[n.Lot]; ok {
			st.arl = at.Sub(st.at)
		}
	}
	d := st.dests[n.Insurer]
	if d == nil {
		return
	}
	switch {
	case finalEvents[n.Event]:
		d.finals++
	case n.Event == "accepted":
		d.accepted = true
	}
	if !st.done && st.complete() {
		st.done = true
		st.finalLat = now.Sub(st.at)
		t.pending--
	}
}

// start follows every practice's notices (one reader per billing number)
// until each receipted sheet is final, or FollowFor after the sending
// ended, confirming them as it goes.
func (t *tracker) start(ctx context.Context, cfg Config, ps []*Practitioner, clients []*client.Client, wg *sync.WaitGroup) {
	done := make(chan struct{})
	var closeOnce sync.Once
	seenBilling := map[string]bool{}
	for i, p := range ps {
		if seenBilling[p.Prac.Billing] {
			continue
		}
		seenBilling[p.Prac.Billing] = true
		wg.Add(1)
		go func(cl *client.Client, billing string) {
			defer wg.Done()
			// A notice may be delivered again (it stays until confirmed,
			// and a confirmation read back from another replica may lag):
			// count each sequence once.
			seen := map[uint64]bool{}
			for {
				select {
				case <-done:
					return
				default:
				}
				t.mu.Lock()
				over := !t.end.IsZero() && time.Now().After(t.end)
				t.mu.Unlock()
				if over {
					return
				}
				ns, err := cl.Notices(ctx, billing, 2*time.Second)
				if err != nil {
					t.mu.Lock()
					if t.firstErr == nil {
						t.firstErr = err
					}
					t.mu.Unlock()
					return
				}
				now := time.Now()
				var last uint64
				t.mu.Lock()
				for _, n := range ns {
					last = max(last, n.Seq)
					if seen[n.Seq] {
						continue
					}
					seen[n.Seq] = true
					// Latencies are measured when the notice is read.
					n.Time = now
					if n.Number == "" {
						if n.Event == "arl_positive" && n.Lot != "" {
							if _, ok := t.arlAt[n.Lot]; !ok {
								t.arlAt[n.Lot] = now
							}
						}
						continue
					}
					key := billing + "." + n.Number
					st := t.state[key]
					if st == nil {
						t.early[key] = append(t.early[key], n)
						continue
					}
					if st.ok {
						t.apply(st, n)
					}
				}
				left := t.pending
				t.mu.Unlock()
				if last > 0 {
					_ = cl.Confirm(ctx, billing, last)
				}
				select {
				case <-t.sendEnd:
					if left <= 0 {
						closeOnce.Do(func() { close(done) })
						return
					}
				default:
				}
			}
		}(clients[i], p.Prac.Billing)
	}
}

// account judges every receipted sheet once the following is over.
func (t *tracker) account(ctx context.Context, clients []*client.Client, rep *Report) error {
	state := t.state
	// The gateway's own status is the judge of "final": accepted is final
	// only where nothing is paid through us. Ask it for every sheet whose
	// notices left a doubt.
	var arl, fin []time.Duration
	for key, st := range state {
		if !st.ok {
			continue
		}
		final := st.done
		if final {
			for _, d := range st.dests {
				if d.finals == 0 {
					final = false // accepted only: ask
				}
			}
		}
		if !final {
			// Accepted may still wait for its payment, which follows at
			// once in most scenarios: ask until final or the follow ends.
			billing, number := key[:9], key[10:]
			for {
				s, err := clients[st.p].Sheet(ctx, billing, number)
				final = err == nil && s.Final()
				if final || !time.Now().Before(t.end) || ctx.Err() != nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if final && !st.done {
				st.finalLat = time.Since(st.at)
			}
		}
		dup := false
		for _, d := range st.dests {
			if d.finals > 1 {
				dup = true
			}
		}
		switch {
		case !final:
			rep.Missing++
		case dup:
			rep.Duplicated++
			rep.Final++
		default:
			rep.Final++
		}
		if st.arl > 0 {
			arl = append(arl, st.arl)
		}
		if final && st.finalLat > 0 {
			fin = append(fin, st.finalLat)
		}
	}
	rep.ARL = percentiles(arl)
	rep.FinalLatency = percentiles(fin)
	return t.firstErr
}
