package mock

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/lot"
)

// env is an embedded NATS configured with the directory's users, and the
// gateway's side of the wire (streams and consumers, as queue/topology.go
// creates them).
type env struct {
	t   *testing.T
	dir *insurers.Directory
	url string
	js  jetstream.JetStream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := fixtureDirectory(t)
	users, err := insurers.NATSUsers(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Nkeys: users})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	auth, _ := insurers.NATSAuth(fixtureSeed(t, "gateway"))
	nc, err := nats.Connect(s.ClientURL(), auth)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return &env{t: t, dir: dir, url: s.ClientURL(), js: js}
}

// live creates FSE_LOTS, FSE_ACKS and the insurer's consumer.
func (e *env) live(id string, ackWait time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: lot.Live.Stream, Subjects: []string{lot.Live.LotPrefix + ".>"}}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "FSE_ACKS", Subjects: []string{lot.Live.AckPrefix + ".>"}}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.CreateOrUpdateConsumer(ctx, lot.Live.Stream, jetstream.ConsumerConfig{Durable: id, FilterSubject: lot.Live.LotSubject(id), AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) insurer(id string) *insurers.Insurer {
	in, ok := e.dir.Insurer(id)
	if !ok {
		e.t.Fatalf("no insurer %s", id)
	}
	return in
}

func (e *env) start(id string, sc *Scenario, wire lot.Wire) *Insurer {
	e.t.Helper()
	in := e.insurer(id)
	seed := fixtureSeed(e.t, id)
	chk := devChecker(e.t, in.Kind, nil)
	m, err := Start(context.Background(), Config{NATSURL: e.url, Insurer: in, NKeySeed: seed, Scenario: sc, Checker: chk, Wire: wire})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { m.Stop() })
	return m
}

// made is a lot sent with what its sheets must get.
type made struct {
	lot    *lot.Lot
	sheets []*Made
}

func (e *env) send(id string, seq uint64, brks ...string) *made {
	e.t.Helper()
	sh := fixtureSheets(e.t, time.Now())
	in := e.insurer(id)
	out := &made{}
	var sheets []lot.Sheet
	for n, b := range brks {
		m, err := sh.Make(context.Background(), in, int(seq)*1000+n+1, b, seq*100+uint64(n))
		if err != nil {
			e.t.Fatal(err)
		}
		out.sheets = append(out.sheets, m)
		sheets = append(sheets, lot.NewSheet(m.Sheet.Practitioner.Billing, m.Sheet.Number, m.Signed))
	}
	key := id + ".751000019"
	out.lot = &lot.Lot{ID: lot.NewID(id, key, seq), Attempt: 1, Seq: seq, Key: key, Insurer: id, Billing: "751000019", Created: time.Now().UTC(), Sheets: sheets}
	e.publish(out.lot)
	return out
}

func (e *env) publish(l *lot.Lot) {
	e.t.Helper()
	b, err := l.Encode()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), lot.Live.LotSubject(l.Insurer), b, jetstream.WithMsgID(l.MsgID())); err != nil {
		e.t.Fatal(err)
	}
}

// acks reads what the insurer published on its ack subject, in order,
// until until() holds (or fails the test after 30 s).
type acks struct {
	mu        sync.Mutex
	all       []*lot.Ack      // transfers read as paid returns (lot.Transfer.AsReturns)
	transfers []*lot.Transfer // as published
}

func (e *env) listen(id string) *acks {
	e.t.Helper()
	a := &acks{}
	oc, err := e.js.OrderedConsumer(context.Background(), "FSE_ACKS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{lot.Live.AckSubject(id)}})
	if err != nil {
		e.t.Fatal(err)
	}
	cc, err := oc.Consume(func(m jetstream.Msg) {
		if lot.IsTransfer(m.Data()) {
			t, err := lot.DecodeTransfer(m.Data())
			if err != nil {
				e.t.Errorf("transfer does not decode: %v", err)
				return
			}
			a.mu.Lock()
			a.all = append(a.all, t.AsReturns()...)
			a.transfers = append(a.transfers, t)
			a.mu.Unlock()
			return
		}
		x, err := lot.DecodeAck(m.Data())
		if err != nil {
			e.t.Errorf("ack does not decode: %v", err)
			return
		}
		a.mu.Lock()
		a.all = append(a.all, x)
		a.mu.Unlock()
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cc.Stop)
	return a
}

func (a *acks) wait(t *testing.T, what string, cond func([]*lot.Ack) bool) []*lot.Ack {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.mu.Lock()
		all := append([]*lot.Ack(nil), a.all...)
		a.mu.Unlock()
		if cond(all) {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: got %d acknowledgements: %s", what, len(all), describe(all))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(all []*lot.Ack) string {
	var b strings.Builder
	for _, a := range all {
		b.WriteString("\n  " + a.ID)
		if a.ARL != nil {
			b.WriteString(" ARL " + posneg(a.ARL.Positive))
		}
		for _, r := range a.Returns {
			b.WriteString(" " + r.Key() + "=" + string(r.Status))
		}
	}
	return b.String()
}

// finals maps each sheet key to its final returns (distinct ids).
func finals(all []*lot.Ack, tp map[string]bool) map[string]map[string]lot.Return {
	out := map[string]map[string]lot.Return{}
	for _, a := range all {
		for _, r := range a.Returns {
			if r.Status.Final(tp[r.Key()]) {
				if out[r.Key()] == nil {
					out[r.Key()] = map[string]lot.Return{}
				}
				out[r.Key()][r.ID] = r
			}
		}
	}
	return out
}

func arls(all []*lot.Ack) []*lot.Ack {
	var out []*lot.Ack
	for _, a := range all {
		if a.ARL != nil {
			out = append(out, a)
		}
	}
	return out
}

func tpOf(ms ...*made) map[string]bool {
	tp := map[string]bool{}
	for _, m := range ms {
		for i, s := range m.sheets {
			tp[m.lot.Sheets[i].Key()] = s.TiersPayant
		}
	}
	return tp
}

func allFinal(tp map[string]bool) func([]*lot.Ack) bool {
	return func(all []*lot.Ack) bool { return len(finals(all, tp)) == len(tp) }
}

func TestDefaultScenarioAnswersEverything(t *testing.T) {
	e := newEnv(t)
	e.live("cpam751", 30*time.Second)
	a := e.listen("cpam751")
	e.start("cpam751", nil, lot.Live)
	m := e.send("cpam751", 1, "", "", "TOTAL_AMO")
	tp := tpOf(m)
	all := a.wait(t, "every final return", allFinal(tp))
	if got := arls(all); len(got) != 1 || !got[0].ARL.Positive || got[0].Lot != m.lot.ID {
		t.Fatalf("ARLs: %s", describe(got))
	}
	if all[0].ARL == nil {
		t.Fatalf("first answer is not the ARL: %s", describe(all))
	}
	fin := finals(all, tp)
	for i, s := range m.sheets {
		key := m.lot.Sheets[i].Key()
		if len(fin[key]) != 1 {
			t.Fatalf("sheet %s: %d finals", key, len(fin[key]))
		}
		for _, r := range fin[key] {
			switch {
			case !s.Valid:
				if r.Status != lot.Rejected || r.Reason.Code != lot.CodeRules || !strings.Contains(r.Reason.Label, "TOTAL_AMO") {
					t.Errorf("invalid sheet %s: got %s %v, want rejected RET_RULES naming TOTAL_AMO", key, r.Status, r.Reason)
				}
			case s.TiersPayant:
				if r.Status != lot.Paid || r.Amount != s.Pay || r.Amount <= 0 {
					t.Errorf("sheet %s: got %s %d, want paid %d", key, r.Status, r.Amount, s.Pay)
				}
			default:
				if r.Status != lot.Accepted {
					t.Errorf("sheet %s: got %s, want accepted", key, r.Status)
				}
			}
		}
	}
	// The lot message was acknowledged: nothing pending on the consumer.
	c, _ := e.js.Consumer(context.Background(), lot.Live.Stream, "cpam751")
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lot not acknowledged: pending %d, ack pending %d", info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, e *env, a *acks, m *made)
	}{
		{"reject by field", `{seed: 1, rejects: [{field: practitioner/billing, value: "751000019", code: R_TEST, label: rejet de test}]}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				all := a.wait(t, "rejections", allFinal(tpOf(m)))
				for _, r := range finals(all, tpOf(m)) {
					for _, x := range r {
						if x.Status != lot.Rejected || x.Reason.Code != "R_TEST" {
							t.Errorf("got %s %v, want rejected R_TEST", x.Status, x.Reason)
						}
					}
				}
			}},
		{"reject by line code", `{rejects: [{line: "NOPE", code: R_NONE}, {line: "G", code: R_G}, {line: "GS", code: R_G}, {line: "APC", code: R_G}, {line: "VG", code: R_G}]}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				all := a.wait(t, "finals", allFinal(tpOf(m)))
				for i, s := range m.sheets {
					codes := map[string]bool{}
					for _, l := range s.Sheet.Lines {
						codes[LineCode(&l)] = true
					}
					want := lot.Paid
					if codes["G"] || codes["GS"] || codes["APC"] || codes["VG"] {
						want = lot.Rejected
					} else if !s.TiersPayant {
						want = lot.Accepted
					}
					for _, x := range finals(all, tpOf(m))[m.lot.Sheets[i].Key()] {
						if x.Status != want {
							t.Errorf("sheet with lines %v: got %s, want %s", codes, x.Status, want)
						}
					}
				}
			}},
		{"negative ARL", `{negative_arl: {first: 1, code: LOT_FUTURE, label: lot daté dans le futur}}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				a.wait(t, "a negative ARL", func(all []*lot.Ack) bool { return len(arls(all)) == 1 })
				time.Sleep(300 * time.Millisecond)
				all := a.wait(t, "", func([]*lot.Ack) bool { return true })
				if len(all) != 1 || all[0].ARL.Positive || all[0].ARL.Reason.Code != "LOT_FUTURE" {
					t.Fatalf("got %s, want one negative ARL LOT_FUTURE and nothing else", describe(all))
				}
				// The re-sent attempt is accepted.
				l := *m.lot
				l.Attempt = 2
				e.publish(&l)
				all = a.wait(t, "finals of attempt 2", allFinal(tpOf(m)))
				if got := arls(all); len(got) != 2 || !got[1].ARL.Positive || got[1].Attempt != 2 {
					t.Fatalf("ARLs: %s", describe(got))
				}
			}},
		{"duplicates", `{duplicates: {rate: 1}}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				tp := tpOf(m)
				all := a.wait(t, "every answer twice", func(all []*lot.Ack) bool {
					return len(arls(all)) == 2 && allFinal(tp)(all)
				})
				if arls(all)[0].ID != arls(all)[1].ID {
					t.Fatal("duplicate ARLs have different ids")
				}
				for k, f := range finals(all, tp) {
					if len(f) != 1 {
						t.Errorf("sheet %s: %d distinct final ids, want 1", k, len(f))
					}
				}
			}},
		{"out of order", `{out_of_order: true}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				all := a.wait(t, "ARL", func(all []*lot.Ack) bool { return len(arls(all)) == 1 })
				if all[len(all)-1].ARL == nil || all[0].ARL != nil {
					t.Fatalf("want the ARL last: %s", describe(all))
				}
			}},
		{"no answer after ARL", `{no_answer: {first: 1, after: arl}}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				a.wait(t, "ARL", func(all []*lot.Ack) bool { return len(arls(all)) == 1 })
				time.Sleep(300 * time.Millisecond)
				all := a.wait(t, "", func([]*lot.Ack) bool { return true })
				if len(all) != 1 {
					t.Fatalf("got %s, want the ARL only", describe(all))
				}
			}},
		{"outage of the next lot", `{outages: [{lots: 1}]}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				// Ignored once, redelivered after AckWait (1 s here), then answered.
				all := a.wait(t, "finals after redelivery", allFinal(tpOf(m)))
				if len(arls(all)) != 1 {
					t.Fatalf("ARLs: %s", describe(arls(all)))
				}
			}},
		{"slow consumer with delays", `{slow_consumer: 100ms, delays: {arl: 50ms, returns: 50ms, payments: 50ms}}`,
			func(t *testing.T, e *env, a *acks, m *made) {
				a.wait(t, "finals", allFinal(tpOf(m)))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := LoadScenario([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			e.live("cpam751", time.Second)
			a := e.listen("cpam751")
			e.start("cpam751", sc, lot.Live)
			m := e.send("cpam751", 1, "", "", "")
			tt.check(t, e, a, m)
		})
	}
}

func TestScenarioSeedReplays(t *testing.T) {
	sc := &Scenario{Seed: 42}
	other := &Scenario{Seed: 43}
	same, diff := 0, 0
	for i := 0; i < 200; i++ {
		id := "751000019.00000" + string(rune('0'+i%10)) + string(rune('a'+i/10))
		first, again := sc.hit(0.5, "x", id), sc.hit(0.5, "x", id)
		if first == again {
			same++
		}
		if sc.hit(0.5, "x", id) != other.hit(0.5, "x", id) {
			diff++
		}
	}
	if same != 200 || diff == 0 {
		t.Fatalf("same seed: %d/200 identical choices; other seed: %d differ", same, diff)
	}
}

func TestFixtureScenariosLoad(t *testing.T) {
	ents, err := fs.ReadDir(fixtures.FS(), "scenarios")
	if err != nil || len(ents) < 5 {
		t.Fatalf("fixtures/scenarios: %v (%d files)", err, len(ents))
	}
	for _, e := range ents {
		if _, err := LoadScenario(fixture(t, "scenarios/"+e.Name())); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
	for _, bad := range []string{`{colour: red}`, `{rejects: [{code: X}]}`, `{rejects: [{rate: 2, code: X}]}`, `{rejects: [{rate: 0.1, code: lower}]}`, `{no_answer: {after: payments}}`, `{outages: [{lots: 1, duration: 1s}]}`} {
		if _, err := LoadScenario([]byte(bad)); err == nil {
			t.Errorf("scenario %s loaded; want an error", bad)
		}
	}
}
