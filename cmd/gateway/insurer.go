package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/insurers/mock"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature"
)

func init() {
	program.Add(&cli.Command{Name: "insurer", Summary: "run a mock insurer endpoint (scripted by a scenario)", Run: runInsurer})
}

const insurerUsage = `gateway insurer — a mock insurer endpoint, scripted by a scenario

Usage:
  gateway insurer --id ID --nats-url URL --nkey FILE [--scenario FILE] [flags]

Connects to the gateway's NATS as insurer ID's own user (nkey seed FILE),
takes its lots from its durable consumer on FSE_LOTS, checks each lot (count,
digests, every sheet's signature and rules) and answers on fse.acks.ID: the
ARL, then the returns, then the payments (the AMO share of each line). A
scenario (docs/insurers.md) scripts rejects, negative ARLs, delays, outages,
silences, duplicates and out-of-order answers; the same --seed replays the
same run. With --conformance it serves the conformance wire instead
(FSE_CONFORMANCE), for 'gateway conformance'. Stops on Ctrl-C.

Examples:
  gateway insurer --dev --id cpam751 --nats-url nats://127.0.0.1:4222
  gateway insurer --id cpam931 --nats-url nats://gw:4222 --nkey cpam931.nk \
      --directory insurers.yaml --trust /etc/fsegate/trust --scenario realistic.yaml --seed 7
  gateway insurer --dev --id amc1 --nats-url nats://127.0.0.1:4222 --conformance
`

func runInsurer(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "insurer", insurerUsage)
	id := fs.String("id", "", "insurer `id` of the directory (required)")
	url := fs.String("nats-url", "", "gateway's NATS `URL` (required)")
	nkey := fs.String("nkey", "", "nkey seed `file` of the insurer's NATS user (--dev: fixtures/nkeys/ID.nk)")
	scenario := fs.String("scenario", "", "scenario YAML `file` (default: a well-behaved insurer)")
	seed := fs.Uint64("seed", 0, "seed of the scenario's random choices (`N`, 0: the scenario's own)")
	directory := fs.String("directory", "", "insurer directory YAML `file` (--dev: fixtures/insurers.yaml)")
	trust := fs.String("trust", "", "trust `directory` (roots, intermediates, CRLs) to verify signatures")
	conformance := fs.Bool("conformance", false, "serve the conformance wire (FSE_CONFORMANCE) instead of FSE_LOTS")
	verbose := fs.Bool("v", false, "log every lot")
	devMode := fs.Bool("dev", env.Dev(), "development mode: fixtures' directory, nkeys and test PKI")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("insurer takes no arguments, got %q", fs.Args())
	}
	if *id == "" || *url == "" {
		return cli.Usagef("--id and --nats-url are required")
	}
	in, err := directoryInsurer(*directory, *devMode, *id)
	if err != nil {
		return err
	}
	seedBytes, err := nkeySeed(*nkey, *devMode, in.ID)
	if err != nil {
		return err
	}
	if seedBytes == nil {
		return cli.Usagef("--nkey is required (or --dev for the fixtures' test keys)")
	}
	if pub, err := insurers.PublicKey(seedBytes); err != nil || pub != in.NKey {
		return cli.WithHint(fmt.Errorf("nkey seed is not the key of insurer %s in the directory", in.ID), "the directory lists the public key of each insurer's seed")
	}
	var sc *mock.Scenario
	if *scenario != "" {
		if sc, err = mock.LoadScenarioFile(*scenario); err != nil {
			return err
		}
	}
	var checker *mock.FSEChecker
	switch {
	case *trust != "":
		ts, err := signature.LoadDir(*trust)
		if err != nil {
			return err
		}
		opts, err := dev.Options(nil)
		if err != nil {
			return err
		}
		checker = &mock.FSEChecker{Verifier: &signature.Verifier{Trust: ts}, Options: opts, Kind: in.Kind}
	case *devMode:
		if checker, err = dev.Checker(in.Kind, nil); err != nil {
			return err
		}
	default:
		return cli.Usagef("--trust is required to verify signatures (or --dev for the fixtures' test PKI)")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	wire := lot.Live
	if *conformance {
		wire = lot.Conformance
	}
	m, err := mock.Start(ctx, mock.Config{
		NATSURL: *url, Insurer: in, NKeySeed: seedBytes, Scenario: sc, Seed: *seed, Checker: checker, Wire: wire,
		Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "insurer %s (%s): taking lots from %s on %s\n", in.ID, in.Name, wire.Stream, *url)
	<-ctx.Done()
	st := m.Stats()
	m.Stop()
	fmt.Fprintf(env.Stderr, "insurer %s: %d lots, %d ARLs (%d negative), %d returns, %d sheets paid in %d transfers (%d reversed)\n", in.ID, st.Lots, st.ARLs, st.Negative, st.Returns, st.Payments, st.Transfers, st.Reversals)
	return nil
}

func loadDirectory(path string, devMode bool) (*insurers.Directory, error) {
	switch {
	case path != "":
		return insurers.LoadFile(path)
	case devMode:
		return dev.Insurers()
	}
	return nil, cli.Usagef("--directory is required (or --dev for fixtures/insurers.yaml)")
}

// directoryInsurer loads the directory (loadDirectory) and finds insurer
// id in it.
func directoryInsurer(path string, devMode bool, id string) (*insurers.Insurer, error) {
	dir, err := loadDirectory(path, devMode)
	if err != nil {
		return nil, err
	}
	in, ok := dir.Insurer(id)
	if !ok {
		return nil, cli.WithHint(fmt.Errorf("insurer %q is not in the directory", id), "ids: "+insurerIDs(dir))
	}
	return in, nil
}

// nkeySeed reads the nkey seed of file or, with devMode, the fixtures' test
// key of user; nil when neither is given.
func nkeySeed(file string, devMode bool, user string) ([]byte, error) {
	switch {
	case file != "":
		return insurers.ReadSeed(file)
	case devMode:
		return dev.Seed(user)
	}
	return nil, nil
}

func insurerIDs(d *insurers.Directory) string {
	s := ""
	for i, in := range d.Insurers {
		if i > 0 {
			s += ", "
		}
		s += in.ID
	}
	return s
}
