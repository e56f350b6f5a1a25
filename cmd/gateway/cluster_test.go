package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/gateway/loadgen"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/queue"
)

// corpusSeed gives each test of this file its own sheet numbers.
var corpusSeed atomic.Uint64

func init() { corpusSeed.Store(uint64(time.Now().UnixNano()%1000) + 100) }

// natsCluster is a 3-node JetStream cluster accepting the directory's nkey
// users (the gateway's and one per insurer).
func natsCluster(t *testing.T, maxStore int64) *testenv.Cluster {
	t.Helper()
	dir, err := dev.Insurers()
	if err != nil {
		t.Fatal(err)
	}
	users, err := insurers.NATSUsers(dir)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.NATSCluster(t, testenv.ClusterConfig{Users: users, MaxStore: maxStore})
}

// clusterGateways starts n gateways on the cluster with 3 replicas; the
// first one also runs the mock insurers (once for the whole cluster).
func clusterGateways(t *testing.T, c *testenv.Cluster, n int, args ...string) []*Main {
	t.Helper()
	var gws []*Main
	for i := range n {
		a := append([]string{"--nats-url", c.URLs(), "--replicas", "3", "--lot-max-age", "1s"}, args...)
		if i == 0 {
			a = append(a, "--mock-insurers")
		}
		gws = append(gws, startGateway(t, a...))
	}
	return gws
}

func loadRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	b, err := fixtures.ReadFile("pki/root.crt")
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(b)
	return p
}

// prepareLoad signs n sheets over the billing test cards.
func prepareLoad(t testing.TB, n int) ([]*loadgen.Practitioner, *loadgen.Corpus) {
	t.Helper()
	ps, err := dev.Practitioners(0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadgen.Prepare(context.Background(), ps, devTariffs(t), n, corpusSeed.Add(1), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ps, c
}

func gatewayURLs(gws ...*Main) []string {
	var us []string
	for _, g := range gws {
		us = append(us, "https://"+g.APIAddr())
	}
	return us
}

// checkReport fails unless every sheet sent was receipted and reached
// exactly one final state.
func checkReport(t *testing.T, rep *loadgen.Report, n int) {
	t.Helper()
	if rep.Sent != n || rep.Receipted != n || rep.Refused != 0 || rep.Errors != 0 {
		t.Errorf("sent %d, receipted %d, refused %d %v, errors %d; want %d sent and receipted", rep.Sent, rep.Receipted, rep.Refused, rep.RefusedCodes, rep.Errors, n)
	}
	if rep.Final != rep.Receipted || rep.Missing != 0 || rep.Duplicated != 0 {
		t.Errorf("final %d, missing %d, duplicated %d; want %d final, 0 missing, 0 duplicated", rep.Final, rep.Missing, rep.Duplicated, rep.Receipted)
	}
}

// lotAccounting checks, through the queue, that every sheet of the corpus
// is final at each of its destinations and sits in exactly one lot of that
// insurer (so no lot was built twice, whichever gateway built it), and that
// each such lot is done (its ARL and every return applied; with two ack
// routers a lot's returns may be applied before its ARL, which then
// changes nothing).
func lotAccounting(t *testing.T, q *queue.Queue, c *loadgen.Corpus) (lots int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A lot turns done after its sheets' states are final (the ack router
	// records it once the returns' notices and history are stored, and a
	// crashed gateway's returns come again after the AckWait): wait for
	// every lot to end, bounded, then check.
	var in map[string][]string // insurer/sheet key → lots holding it
	var done map[string]bool
	var state map[string]string
	for until := time.Now().Add(45 * time.Second); ; {
		keys, err := q.Topology().Batches.ListKeysFiltered(ctx, "lot.>")
		if err != nil {
			t.Fatal(err)
		}
		in, done, state, lots = map[string][]string{}, map[string]bool{}, map[string]string{}, 0
		ended := true
		for k := range keys.Keys() {
			id := strings.TrimPrefix(k, "lot.")
			rec, err := q.Lot(ctx, id)
			if err != nil {
				t.Fatalf("lot %s: %v", id, err)
			}
			lots++
			done[id] = rec.State == queue.LotDone
			ended = ended && (rec.State == queue.LotDone || rec.State == queue.LotDead)
			state[id] = rec.State + fmt.Sprintf(" attempt %d, %d done of %d", rec.Attempt, len(rec.Done), len(rec.Sheets))
			for _, s := range rec.Sheets {
				in[rec.Insurer+"/"+s.Key] = append(in[rec.Insurer+"/"+s.Key], id)
			}
		}
		if ended || time.Now().After(until) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	bad := 0
	for _, s := range c.Sheets {
		st, err := q.Status(ctx, s.Billing, s.Number)
		if err != nil {
			t.Errorf("sheet %s.%s: %v", s.Billing, s.Number, err)
			bad++
			continue
		}
		if !st.Final() {
			t.Errorf("sheet %s: state %s, not final", st.Key(), st.State)
			bad++
		}
		for _, d := range st.Destinations {
			ls := in[d.Insurer+"/"+st.Key()]
			if len(ls) != 1 || ls[0] != d.Lot || !done[d.Lot] {
				t.Errorf("sheet %s at %s: in lots %v (status says %q, lot %s); want exactly that one lot, done", st.Key(), d.Insurer, ls, d.Lot, state[d.Lot])
				bad++
			}
		}
		if bad > 10 {
			t.Fatal("too many errors")
		}
	}
	return lots
}

// TestClusterTwoGateways runs two gateways on a 3-node JetStream cluster
// (streams and KV with 3 replicas): intake on both, the batcher and the ack
// router as shared durable consumers, the mock insurers once. A load split
// over both gateways is followed to the end.
func TestClusterTwoGateways(t *testing.T) {
	c := natsCluster(t, 0)
	gws := clusterGateways(t, c, 2)
	const n = 300
	ps, corpus := prepareLoad(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := loadgen.Run(ctx, loadgen.Config{URLs: gatewayURLs(gws...), Roots: loadRoots(t), Connections: 2, Follow: true, FollowFor: 90 * time.Second}, ps, corpus)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 gateways, 3-node cluster, replicas 3:\n%s", rep)
	checkReport(t, rep, n)
	lots := lotAccounting(t, gws[1].Queue(), corpus)
	t.Logf("accounting: sent %d, receipted %d, final %d, missing %d, duplicated %d, in %d lots, each sheet in exactly one lot; %.0f sheets/s receipted with 2 gateways",
		rep.Sent, rep.Receipted, rep.Final, rep.Missing, rep.Duplicated, lots, rep.Throughput())
}

// TestClusterNodeLoss stops one NATS node of three while two gateways take
// a load; the accounting stays exact (a sheet refused during the failover
// is sent again, as a workstation does, and gets its receipt).
func TestClusterNodeLoss(t *testing.T) {
	c := natsCluster(t, 0)
	gws := clusterGateways(t, c, 2)
	const n = 300
	ps, corpus := prepareLoad(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		time.Sleep(400 * time.Millisecond)
		c.Stop(0)
		t.Logf("node n1 stopped at %s", time.Now().Format("15:04:05.000"))
	}()
	cfg := loadgen.Config{URLs: gatewayURLs(gws...), Roots: loadRoots(t), Rate: 400, Connections: 2, Follow: true, FollowFor: 90 * time.Second}
	rep, err := loadgen.Run(ctx, cfg, ps, corpus)
	<-stopped
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first pass, node lost under load:\n%s", rep)
	retried := resendUnreceipted(t, ctx, cfg, ps, corpus, rep, gws[1].Queue())
	if rep.Duplicated != 0 {
		t.Errorf("duplicated final states: %d", rep.Duplicated)
	}
	lots := lotAccounting(t, gws[0].Queue(), corpus)
	t.Logf("accounting: sent %d, receipted %d at first, %d sent again after a refusal, final %d of %d, missing 0, duplicated %d, in %d lots",
		rep.Sent, rep.Receipted, retried, n, n, rep.Duplicated, lots)
	c.Restart(0)
}

// resendUnreceipted sends again, once the load is over, the sheets that got
// no receipt (a refusal or a transport error while NATS failed over), as the
// workstation's outbox does, and waits until every sheet of the corpus is
// final.
func resendUnreceipted(t *testing.T, ctx context.Context, cfg loadgen.Config, ps []*loadgen.Practitioner, corpus *loadgen.Corpus, rep *loadgen.Report, q *queue.Queue) int {
	t.Helper()
	if rep.Refused+rep.Errors > 0 {
		for code := range rep.RefusedCodes {
			if code != "QUEUE_UNAVAILABLE" && code != "STORAGE_FULL" {
				t.Errorf("refused with %s during the fault: only transient refusals are expected", code)
			}
		}
		// The gateway is the judge of which sheets it has: send the whole
		// corpus again; receipted sheets get their first receipt back.
		cfg.Follow = false
		again, err := loadgen.Run(ctx, cfg, ps, corpus)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("second pass (whole corpus again):\n%s", again)
		if again.Receipted != len(corpus.Sheets) {
			t.Errorf("second pass: %d receipted of %d", again.Receipted, len(corpus.Sheets))
		}
	}
	waitCorpusFinal(t, q, corpus, 60*time.Second)
	return rep.Refused + rep.Errors
}

// waitCorpusFinal waits until every sheet of the corpus is final.
func waitCorpusFinal(t *testing.T, q *queue.Queue, corpus *loadgen.Corpus, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	left := corpus.Sheets
	for len(left) > 0 && ctx.Err() == nil {
		var still []loadgen.Sheet
		for _, s := range left {
			st, err := q.Status(ctx, s.Billing, s.Number)
			if err != nil || !st.Final() {
				still = append(still, s)
			}
		}
		left = still
		if len(left) > 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	if len(left) > 0 {
		t.Fatalf("%d sheets not final after %s (first %s.%s)", len(left), timeout, left[0].Billing, left[0].Number)
	}
}
