package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// BenchmarkBatchDay is a practice's day through the real path: N care
// sheets (FSEGATE_BENCH_SHEETS, 500 by default) in a folder, one
// 'workstation batch' (the binary, as a user runs it) signing with the
// virtual card in a vpcd reader through pcscd, with a per-signature delay
// (FSEGATE_BENCH_DELAY, 200ms by default, a real CPS's order of magnitude),
// sending to a real gateway. It reports the wall time, the signatures per
// PIN entry and the sheets per second. scripts/pharmacy-day.sh runs it
// (about 100 s: not part of 'make test').
//
//	go test ./cmd/workstation -run '^$' -bench BatchDay -benchtime 1x
func BenchmarkBatchDay(b *testing.B) {
	n := 500
	if v := os.Getenv("FSEGATE_BENCH_SHEETS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	delay := 200 * time.Millisecond
	if v := os.Getenv("FSEGATE_BENCH_DELAY"); v != "" {
		delay, _ = time.ParseDuration(v)
	}
	g := newTestGateway(b)
	g.start()
	cps, err := dev.Card("doctor", virtual.Options{Delay: delay})
	if err != nil {
		b.Fatal(err)
	}
	reader := testenv.InsertCard(b, cps)
	_, bin := binaries(b)
	summary := regexp.MustCompile(`card: (\d+) signatures with (\d+) PIN entry`)
	for i := 0; b.Loop(); i++ {
		dir := b.TempDir()
		if out, err := runBin(bin, dir, nil, "generate", "--count", fmt.Sprint(n), "--seed", fmt.Sprint(900+i), "--profession", "doctor", "--out-dir", "in"); err != nil {
			b.Fatalf("generate: %v\n%s", err, out)
		}
		start := time.Now()
		out, err := runBin(bin, dir, []string{"FSEGATE_PIN=1234"}, "batch", "--progress", "none", "--reader", reader.Name, "--gateway", g.URL, "--outbox", filepath.Join(dir, "ob"), "in")
		wall := time.Since(start)
		if err != nil {
			b.Fatalf("batch: %v\n%s", err, out)
		}
		m := summary.FindStringSubmatch(out)
		if m == nil {
			b.Fatalf("no card summary in:\n%s", out)
		}
		sigs, _ := strconv.Atoi(m[1])
		pins, _ := strconv.Atoi(m[2])
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(float64(sigs)/float64(max(pins, 1)), "signatures/PIN")
		b.ReportMetric(float64(n)/wall.Seconds(), "sheets/s")
		b.Logf("%d sheets, %s delay per signature: wall %s, %d signatures, %d PIN entry\n%s", n, delay, wall.Round(time.Millisecond), sigs, pins, out)
	}
}

func runBin(bin, dir string, env []string, args ...string) (string, error) {
	cmd := execCommand(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FSEGATE_DEV=1", "FSEGATE_VIRTUAL_CARD="), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
