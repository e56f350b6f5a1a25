//go:build chaos

package main

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The campaign's clock: the wall clock plus an offset in nanoseconds read
// from the file named by $FSEGATE_CHAOS_CLOCK (re-read every 100 ms), so
// that the runner makes the gateway's clock jump without touching the
// machine's (libfaketime cannot move Go's clock).
func init() {
	path := os.Getenv("FSEGATE_CHAOS_CLOCK")
	if path == "" {
		return
	}
	var offset atomic.Int64
	read := func() {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			offset.Store(n)
		}
	}
	read()
	go func() {
		for range time.Tick(100 * time.Millisecond) {
			read()
		}
	}()
	buildClock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
}
