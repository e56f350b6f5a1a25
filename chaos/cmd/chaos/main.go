// Command chaos runs the fault campaign ('make chaos', docs/reliability.md).
//
//	chaos run [--duration 10m] [--seed N] [--rate 8] [--out DIR] [--bin DIR] [--faults k1,k2]
//	chaos check --out DIR      # the checker again on a campaign's files
//	chaos cleanup              # remove what an interrupted campaign left
//
// 'inner' and 'load' are the campaign's own parts: the runner inside the
// hub namespace and the load generator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fsegate/fsegate/chaos"
	"github.com/fsegate/fsegate/chaos/campaign"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/insurers"
)

const usage = `Usage: chaos run|check|cleanup [flags]

  chaos run --duration 10m --seed 7      a campaign (root: network namespaces)
  chaos check --out DIR                  the checker again on a campaign's history
  chaos cleanup                          remove namespaces, processes, mounts left
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "inner":
		fs := flag.NewFlagSet("inner", flag.ExitOnError)
		config := fs.String("config", "", "config file written by run")
		fs.Parse(os.Args[2:])
		var cfg campaign.Config
		if cfg, err = campaign.ReadConfig(*config); err == nil {
			if cfg.Insurers, cfg.GatewaySeed, err = devInsurers(); err == nil {
				err = campaign.Inner(ctx, cfg)
			}
		}
	case "load":
		err = loadCmd(ctx, os.Args[2:])
	case "check":
		err = checkCmd(os.Args[2:])
	case "cleanup":
		var unlock func()
		if unlock, err = campaign.Lock(); err == nil {
			err = campaign.Cleanup()
			unlock()
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: error: %v\n", err)
		os.Exit(1)
	}
}

func runCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var cfg campaign.Config
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "how long faults are injected and sheets sent")
	fs.DurationVar(&cfg.DrainMax, "drain", 10*time.Minute, "how long the drain may take at most")
	fs.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()%100000), "seed of the faults and the load")
	fs.Float64Var(&cfg.Rate, "rate", 8, "sheets per second offered")
	fs.DurationVar(&cfg.MaxHold, "max-hold", 0, "cap on how long a fault lasts (0: each kind's own; pauses always outlast the ack wait)")
	fs.IntVar(&cfg.Gateways, "gateways", 3, "gateways (2 or 3)")
	fs.StringVar(&cfg.Bin, "bin", "bin", "directory of nats-server, gateway (-tags chaos) and chaos")
	fs.StringVar(&cfg.Gateway, "gateway", "gateway-chaos", "gateway binary in --bin (gateway-broken: the deliberately broken build)")
	fs.StringVar(&cfg.Out, "out", "", "results directory (default data/chaos/<time>-seed-N)")
	faults := fs.String("faults", "", "comma-separated fault kinds (default all: "+strings.Join(campaign.FaultKinds, ",")+")")
	fs.Parse(args)
	if *faults != "" {
		cfg.Faults = strings.Split(*faults, ",")
		for _, k := range cfg.Faults {
			if !contains(campaign.FaultKinds, k) {
				return fmt.Errorf("unknown fault kind %q", k)
			}
		}
	}
	if cfg.Out == "" {
		cfg.Out = filepath.Join("data", "chaos", fmt.Sprintf("%s-seed-%d", time.Now().UTC().Format("20060102T150405"), cfg.Seed))
	}
	var err error
	if cfg.Out, err = filepath.Abs(cfg.Out); err != nil {
		return err
	}
	if cfg.Bin, err = filepath.Abs(cfg.Bin); err != nil {
		return err
	}
	return campaign.Run(ctx, cfg)
}

func loadCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var cfg campaign.LoadConfig
	gws := fs.String("gateways", "", "comma-separated gateway URLs")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "corpus seed")
	fs.Float64Var(&cfg.Rate, "rate", 8, "sheets per second")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "sending time")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Minute, "drain time at most")
	fs.StringVar(&cfg.History, "history", "load.jsonl", "history file")
	fs.StringVar(&cfg.Roots, "roots", "", "PEM file of the gateways' certificate")
	fs.Parse(args)
	cfg.Gateways = strings.Split(*gws, ",")
	cfg.Out = os.Stdout
	var err error
	if cfg.Practitioners, err = dev.Practitioners(0); err != nil {
		return err
	}
	if cfg.Tariffs, err = dev.Tariffs(); err != nil {
		return err
	}
	return campaign.Load(ctx, cfg)
}

func checkCmd(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	out := fs.String("out", "", "a campaign's results directory")
	fs.Parse(args)
	ops, err := chaos.ReadHistoryFiles(filepath.Join(*out, "runner.jsonl"), filepath.Join(*out, "load.jsonl"))
	if err != nil {
		return err
	}
	snap, err := chaos.ReadSnapshot(filepath.Join(*out, "snapshot.json"))
	if err != nil {
		return err
	}
	rep := chaos.Check(ops, snap)
	fmt.Println(rep.Summary())
	for _, v := range rep.Violations {
		fmt.Println("VIOLATION", v)
	}
	for _, s := range rep.Stories {
		fmt.Println(s)
	}
	if !rep.OK() {
		return errors.New("checks failed")
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// devInsurers are the development insurer directory the campaign's
// gateways and mock insurers run with (--dev) and the gateway's test nkey
// seed, the runner's NATS user.
func devInsurers() (*insurers.Directory, []byte, error) {
	dir, err := dev.Insurers()
	if err != nil {
		return nil, nil, err
	}
	seed, err := dev.Seed("gateway")
	if err != nil {
		return nil, nil, err
	}
	return dir, seed, nil
}
