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

// benchPool is a pool of distinct signed sheets (doctor, billing
// 751000017), signed once per test binary: signing is not what is measured.
var (
	benchOnce  sync.Once
	benchPool  [][]byte
	benchError error
)

const benchPoolSize = 3000

func signedPool(b *testing.B) [][]byte {
	benchOnce.Do(func() {
		sm := newSheetMaker(b)
		ids := []string{"cpam751", "cpam931", "cpam131", "msa751"}
		for i := 0; i < benchPoolSize; i++ {
			made := sm.make(ids[i%len(ids)], 100000+i, "", uint64(i))
			benchPool = append(benchPool, made.Signed)
		}
	})
	if benchError != nil {
		b.Fatal(benchError)
	}
	return benchPool
}

// BenchmarkIntake measures signed sheets verified and durably queued
// (receipt after the PubAck) over keep-alive mTLS connections, 8 at a
// time. Past benchPoolSize sheets per run the pool wraps and the re-sends
// take the "same sheet again" path: keep -benchtime at 1s or ≤ 3000x.
func BenchmarkIntake(b *testing.B) {
	pool := signedPool(b)
	m := startGateway(b, "--lot-max-age", "1s")
	c := newClient(b, m, "doctor")
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
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
			if _, res := m.pipe.check(ctx, pool[int(i)%len(pool)], "899700218896"); len(res.Errors) > 0 {
				b.Errorf("sheet %d: %+v", i, res.Errors)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sheets/s")
}
