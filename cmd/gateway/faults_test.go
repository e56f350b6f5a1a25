package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/loadgen"
	"github.com/fsegate/fsegate/insurers/mock"
)

// Faults under load. Each test sends a bounded load, injects one fault,
// and prints its accounting; expected everywhere: every sheet receipted
// (sent again after a refusal, as a workstation does) and final exactly
// once, none lost, none duplicated.

// crash stops a gateway the way kill -9 would, in-process: connections
// cut, no drain, nothing flushed, in-flight work abandoned mid-step (the
// NATS connection closed under it).
func crash(m *Main) {
	m.closed.Store(true)
	m.ready.Store(false)
	_ = m.api.Close()
	_ = m.admin.Close()
	m.nc.Close()
	m.stop()
	m.queue.Close()
	for _, mi := range m.mocks {
		_ = mi.Stop()
	}
}

// TestFaultGatewayCrash crashes one gateway of two (in-process: its NATS
// connection and listeners are cut without drain, a subprocess kill -9 is
// cmd/gateway/kill_test.go's) while both take a load on a 3-node cluster.
// The sheets that got no receipt are sent again to the survivor, which
// also takes over the lots the dead one was building and watching.
func TestFaultGatewayCrash(t *testing.T) {
	c := natsCluster(t, 0)
	gws := clusterGateways(t, c, 2)
	const n = 300
	ps, corpus := prepareLoad(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		time.Sleep(300 * time.Millisecond)
		crash(gws[1])
	}()
	cfg := loadgen.Config{URLs: gatewayURLs(gws...), Roots: loadRoots(t), Rate: 400, Connections: 2}
	rep, err := loadgen.Run(ctx, cfg, ps, corpus)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first pass, gateway 2 of 2 crashed under load:\n%s", rep)
	if rep.Refused+rep.Errors == 0 {
		t.Log("note: the crash came after the last sheet to gateway 2")
	}
	cfg.URLs = gatewayURLs(gws[0])
	again, err := loadgen.Run(ctx, cfg, ps, corpus)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second pass, whole corpus to the survivor:\n%s", again)
	if again.Receipted != n {
		t.Errorf("second pass: %d receipted of %d", again.Receipted, n)
	}
	waitCorpusFinal(t, gws[0].Queue(), corpus, 60*time.Second)
	lots := lotAccounting(t, gws[0].Queue(), corpus)
	t.Logf("accounting: sent %d, receipted %d before the crash, %d refused or cut, all %d receipted and final after resending, each in exactly one lot (%d lots), 0 lost",
		rep.Sent, rep.Receipted, rep.Refused+rep.Errors, n, lots)
}

// faultLoad runs n sheets through one gateway with embedded NATS and the
// mock insurers playing sc, follows them to the end and checks the
// accounting.
func faultLoad(t *testing.T, sc *mock.Scenario, n int, follow time.Duration) *loadgen.Report {
	t.Helper()
	m := startGatewayWith(t, func(m *Main) { m.Scenario = sc }, "--mock-insurers", "--lot-max-age", "500ms")
	ps, corpus := prepareLoad(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), follow+30*time.Second)
	defer cancel()
	rep, err := loadgen.Run(ctx, loadgen.Config{URL: "https://" + m.APIAddr(), Roots: loadRoots(t), Connections: 2, Follow: true, FollowFor: follow}, ps, corpus)
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, n)
	lots := lotAccounting(t, m.Queue(), corpus)
	t.Logf("accounting: sent %d, receipted %d, final %d, missing %d, duplicated %d, in %d lots\n%s", rep.Sent, rep.Receipted, rep.Final, rep.Missing, rep.Duplicated, lots, rep)
	return rep
}

// TestFaultInsurerOutage: every insurer takes no lot for its first 4
// seconds, then comes back; the lots waiting in its consumer are taken
// then, nothing is lost nor sent twice.
func TestFaultInsurerOutage(t *testing.T) {
	faultLoad(t, &mock.Scenario{Name: "outage-4s", Outages: []mock.Outage{{Start: 0, Duration: 4 * time.Second}}}, 150, 60*time.Second)
}

// TestFaultInsurerDuplicates: every insurer answers everything twice (same
// ids), payments before returns before the ARL (fixtures/scenarios/chaotic):
// the ack router applies each once, states only forward.
func TestFaultInsurerDuplicates(t *testing.T) {
	sc, err := dev.Scenario("chaotic")
	if err != nil {
		t.Fatal(err)
	}
	faultLoad(t, sc, 150, 60*time.Second)
}

// TestFaultStorageFull: FSE_SHEETS reaches its byte limit (set small here,
// as a full disk budget would): new sheets are refused with 503
// STORAGE_FULL, none already receipted is lost, and once room returns the
// refused ones are taken.
func TestFaultStorageFull(t *testing.T) {
	m := startGateway(t, "--mock-insurers", "--lot-max-age", "500ms")
	const n = 120
	ps, corpus := prepareLoad(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := loadgen.Config{URL: "https://" + m.APIAddr(), Roots: loadRoots(t), Connections: 2}
	first := &loadgen.Corpus{Sheets: corpus.Sheets[:n/2]}
	rep, err := loadgen.Run(ctx, cfg, ps, first)
	if err != nil || rep.Receipted != n/2 {
		t.Fatalf("before the limit: %d receipted of %d, %v", rep.Receipted, n/2, err)
	}
	// Room for about 10 more sheets.
	sheets := m.Queue().Topology().Sheets
	info, err := sheets.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	was := info.Config.MaxBytes
	setMax := func(b int64) {
		t.Helper()
		sc := info.Config
		sc.MaxBytes = b
		if _, err := m.Queue().Topology().JS.UpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	setMax(int64(info.State.Bytes) + 10*int64(len(corpus.Sheets[0].Signed)+200))
	full, err := loadgen.Run(ctx, cfg, ps, &loadgen.Corpus{Sheets: corpus.Sheets[n/2:]})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("storage full:\n%s", full)
	if full.RefusedCodes["STORAGE_FULL"] == 0 || full.Refused != full.RefusedCodes["STORAGE_FULL"] || full.Errors != 0 {
		t.Fatalf("with FSE_SHEETS full: refused %d %v, errors %d; want STORAGE_FULL refusals only", full.Refused, full.RefusedCodes, full.Errors)
	}
	// One refusal seen through the client: 503, retryable.
	cl := newClient(t, m, ps[0].Profile)
	for _, s := range corpus.Sheets[n/2:] {
		if s.P != 0 {
			continue
		}
		if _, err := cl.SendSheet(ctx, s.Signed); err != nil {
			var p *client.Problem
			if !errors.As(err, &p) || p.Status != 503 || !p.Has("STORAGE_FULL") || !p.Retryable() {
				t.Fatalf("refusal when full: %v; want 503 STORAGE_FULL, retryable", err)
			}
			break
		}
	}
	// The sheets receipted before the limit still go all the way.
	waitCorpusFinal(t, m.Queue(), first, 60*time.Second)
	// Room again: everything refused is taken on the next send.
	setMax(was)
	again, err := loadgen.Run(ctx, cfg, ps, corpus)
	if err != nil {
		t.Fatal(err)
	}
	if again.Receipted != n {
		t.Fatalf("after room returned: %d receipted of %d (%v)", again.Receipted, n, again.RefusedCodes)
	}
	waitCorpusFinal(t, m.Queue(), corpus, 60*time.Second)
	lots := lotAccounting(t, m.Queue(), corpus)
	t.Logf("accounting: %d receipted before the limit, then %d receipted and %d refused STORAGE_FULL; after room returned all %d receipted and final, each in exactly one lot (%d lots), 0 lost",
		rep.Receipted, full.Receipted, full.Refused, n, lots)
}
