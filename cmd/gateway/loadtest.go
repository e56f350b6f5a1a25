package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/loadgen"
	"github.com/fsegate/fsegate/internal/cli"
)

func init() {
	program.Add(&cli.Command{Name: "loadtest", Summary: "send pre-signed sheets at a rate and account for every one", Run: runLoadtest})
}

const loadtestUsage = `Usage: gateway loadtest [flags]

Sends synthetic care sheets, pre-signed with the software keys of the test
cards (fixtures/pki/cards), to a gateway over keep-alive mTLS connections
(one client certificate per practitioner), at --rate sheets per second (0:
as fast as it goes), then follows every notice to the end and prints
throughput, latency percentiles (receipt, ARL, final state) and the exact
accounting: sent, receipted, refused, final, missing, duplicated.

Signing the corpus costs about 1 ms of CPU per sheet; it is cached in
--corpus and reused while fresh. The gateway must not know the sheets yet
(start it on a new --data-dir): a sheet sent twice gets its first receipt.

Exit status: 0 when every receipted sheet reached exactly one final state
(or, with --follow=false, every sheet was receipted), 1 otherwise.

Examples:
  gateway loadtest --dev --sheets 180000 --rate 2600 --connections 8  # make loadtest
  gateway loadtest --dev --sheets 60000 --rate 1000       # 1,000/s end to end
  gateway loadtest --dev --sheets 2000 --follow=false
`

func runLoadtest(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "loadtest", loadtestUsage)
	url := fs.String("gateway", "https://127.0.0.1:8443", "gateway `URL`")
	sheets := fs.Int("sheets", 10000, "number of care sheets")
	rate := fs.Float64("rate", 0, "sheets per second (0: as fast as the connections go)")
	pracs := fs.Int("practitioners", len(dev.Senders), "number of practitioners (test cards) sending")
	conns := fs.Int("connections", 4, "keep-alive connections per practitioner")
	corpus := fs.String("corpus", "", "corpus cache `file` (default data/loadtest-N-SEED.corpus)")
	seed := fs.Uint64("seed", 1, "generator seed (sheet numbers derive from it)")
	follow := fs.Bool("follow", true, "follow notices until every sheet is final")
	followFor := fs.Duration("follow-for", 3*time.Minute, "how long to follow notices at most")
	roots := fs.String("roots", "", "PEM `file` of the CAs of the gateway's certificate")
	devMode := fs.Bool("dev", env.Dev(), "trust the fixtures' test root for the gateway's certificate")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to `file` (what the client costs)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *sheets <= 0 || *sheets > 200000 {
		return cli.Usagef("--sheets must be between 1 and 200000, got %d", *sheets)
	}
	pool := x509.NewCertPool()
	switch {
	case *roots != "":
		b, err := os.ReadFile(*roots)
		if err != nil {
			return err
		}
		pool.AppendCertsFromPEM(b)
	case *devMode:
		b, _ := fixtures.ReadFile("pki/root.crt")
		pool.AppendCertsFromPEM(b)
	default:
		pool = nil
	}
	ps, err := dev.Practitioners(*pracs)
	if err != nil {
		return err
	}
	if *corpus == "" {
		*corpus = filepath.Join("data", fmt.Sprintf("loadtest-%d-%d.corpus", *sheets, *seed))
	}
	c, err := loadgen.LoadCorpus(*corpus)
	if err != nil || time.Since(c.Made) > 24*time.Hour || len(c.Sheets) != *sheets {
		fmt.Fprintf(env.Stdout, "signing %d sheets for %d practitioners (cached in %s)…\n", *sheets, len(ps), *corpus)
		t0 := time.Now()
		tariffs, err := dev.Tariffs()
		if err != nil {
			return err
		}
		c, err = loadgen.Prepare(ctx, ps, tariffs, *sheets, *seed, time.Now(), func(n int) {
			if n%10000 == 0 {
				fmt.Fprintf(env.Stdout, "  signed %d/%d\n", n, *sheets)
			}
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "signed %d sheets in %s\n", len(c.Sheets), time.Since(t0).Round(time.Millisecond))
		if err := os.MkdirAll(filepath.Dir(*corpus), 0o755); err == nil {
			if err := c.Save(*corpus); err != nil {
				fmt.Fprintf(env.Stderr, "gateway: warning: corpus not cached: %v\n", err)
			}
		}
	} else {
		fmt.Fprintf(env.Stdout, "using the corpus of %s (%d sheets, signed %s)\n", *corpus, len(c.Sheets), c.Made.Format(time.RFC3339))
	}
	fmt.Fprintf(env.Stdout, "sending %d sheets to %s (rate %s, %d practitioners × %d connections)…\n", len(c.Sheets), *url, rateLabel(*rate), len(ps), *conns)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := loadgen.Run(ctx, loadgen.Config{URL: *url, Roots: pool, Rate: *rate, Connections: *conns, Follow: *follow, FollowFor: *followFor, Out: env.Stdout}, ps, c)
	if rep != nil {
		fmt.Fprint(env.Stdout, rep)
	}
	if err != nil {
		return err
	}
	switch {
	case rep.Errors > 0 || rep.Receipted+rep.Refused != len(c.Sheets):
		return fmt.Errorf("%d transport errors, %d of %d sheets receipted", rep.Errors, rep.Receipted, len(c.Sheets))
	case rep.Refused > 0:
		return fmt.Errorf("%d sheets refused: %v (a corpus the gateway already has? start it on a new --data-dir)", rep.Refused, rep.RefusedCodes)
	case *follow && (rep.Missing > 0 || rep.Duplicated > 0):
		return errors.New("accounting failed: missing or duplicated final states")
	}
	return nil
}

func rateLabel(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f/s", r)
}
