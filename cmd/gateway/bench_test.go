package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
)

// signedSheets returns n distinct signed sheets (doctor, billing
// 751000019, spread over four AMO insurers), signed once per test binary:
// signing is not what is measured.
var (
	poolMu sync.Mutex
	pool   [][]byte
)

const benchPoolSize = 3000

func signedSheets(t testing.TB, n int) [][]byte {
	t.Helper()
	poolMu.Lock()
	defer poolMu.Unlock()
	if len(pool) < n {
		sm := newSheetMaker(t)
		ids := []string{"cpam751", "cpam931", "cpam131", "msa751"}
		for i := len(pool); i < n; i++ {
			pool = append(pool, sm.make(ids[i%len(ids)], 100000+i, "", uint64(i)).Signed)
		}
	}
	return pool[:n]
}

func signedPool(b *testing.B) [][]byte { return signedSheets(b, benchPoolSize) }

// BenchmarkIntake measures signed sheets verified and durably queued
// (receipt after the PubAck) over keep-alive mTLS connections, 32
// at a time. Past benchPoolSize sheets per run the pool wraps and the re-sends
// take the "same sheet again" path. Each b.N round starts a fresh gateway,
// so at -benchtime 1s the small rounds are dominated by cold starts: the
// figures of docs/operations.md come from -benchtime 3000x.
func BenchmarkIntake(b *testing.B) { benchIntake(b, "interval") }

// BenchmarkIntakeClearStore is BenchmarkIntake with the store in clear
// (--store-cipher none): what encryption at rest costs, by difference.
func BenchmarkIntakeClearStore(b *testing.B) { benchIntake(b, "interval", "--store-cipher", "none") }

// BenchmarkIntakeSyncAlways is BenchmarkIntake with --sync always: every
// JetStream write fsync'd before its acknowledgement (docs/protocol.md).
func BenchmarkIntakeSyncAlways(b *testing.B) { benchIntake(b, "always") }

func benchIntake(b *testing.B, syncMode string, extra ...string) {
	pool := signedPool(b)
	m := startGateway(b, append([]string{"--lot-max-age", "1s", "--sync", syncMode}, extra...)...)
	// 4 clients of 8 keep-alive connections each, 32 requests in flight:
	// how many practices' workstations and pharmacies send at once.
	clients := make([]*client.Client, 4)
	for i := range clients {
		clients[i] = newClient(b, m, "doctor")
	}
	ctx := context.Background()
	// Open the keep-alive connections first: the TLS handshakes (a card
	// signs one per connection) are not what is measured.
	var wg sync.WaitGroup
	for _, c := range clients {
		for range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = c.Sheet(ctx, "751000019", "000000000") }()
		}
	}
	wg.Wait()
	var next, worker atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := clients[int(worker.Add(1))%len(clients)]
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := c.SendSheet(ctx, pool[int(i)%len(pool)]); err != nil {
				var p *client.Problem
				if errors.As(err, &p) {
					b.Errorf("sheet %d refused: %v %+v", i, p, p.Errors)
				} else {
					b.Error(err)
				}
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sheets/s")
}

// BenchmarkVerifyOnly runs the same sheets through the checks of the
// intake (decode, signature and trust, signer, rules, route) without the
// queue nor HTTP: the ceiling BenchmarkIntake is compared with.
func BenchmarkVerifyOnly(b *testing.B) {
	pool := signedPool(b)
	m := startGateway(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, res := m.intake.Check(ctx, pool[int(i)%len(pool)], "899700218896"); len(res.Errors) > 0 {
				b.Errorf("sheet %d: %+v", i, res.Errors)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sheets/s")
}
