package queue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fsegate/fsegate/queue"
)

// BenchmarkSubmit measures the intake protocol alone (publish, then KV
// create) against an in-process JetStream, 8 submitters at a time.
func BenchmarkSubmit(b *testing.B) {
	e := newEnv(b)
	nc, err := nats.Connect(e.url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	e.cfg.Conn = nc
	e.cfg.Limits = func(string) queue.Limits { return queue.Limits{MaxAge: time.Second} }
	q := e.open(b)
	signed := make([]byte, 5000)
	var next atomic.Int64
	b.SetParallelism(benchPar)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := fmt.Sprintf("%09d", next.Add(1))
			s := sheet("751000019", n, "d"+n)
			s.Signed = signed
			if _, err := q.Submit(context.Background(), s); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sheets/s")
}

var benchPar = 4
