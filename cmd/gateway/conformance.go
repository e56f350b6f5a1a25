package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/insurers/mock"
	"github.com/fsegate/fsegate/internal/cli"
)

func init() {
	program.Add(&cli.Command{Name: "conformance", Summary: "check an insurer endpoint against the lot formats and protocol", Run: runConformance})
}

const conformanceUsage = `gateway conformance — check an insurer endpoint against urn:fsegate:lot:1

Usage:
  gateway conformance --insurer ID [--nats-url URL] [--nkey FILE] [flags]

Sends a catalogue of test lots (valid sheets, an invalid sheet, a lot with a
bad digest, a lot delivered twice, a re-sent lot, a doublon) to insurer ID on
the conformance wire — stream FSE_CONFORMANCE, subjects
fse.conformance.lots.ID, answers on fse.conformance.acks.ID, never the live
FSE_LOTS — and checks every answer: form, ids, timeliness (the insurer's ARL
deadline) and consistency (one ARL per lot attempt, one final return per
sheet, amounts equal to the AMO share computed line by line). The endpoint
under test must serve that wire ('gateway insurer --conformance').

Prints a pass/fail table. When no answer comes at all, it says so once
(no table: there is nothing to judge) and asks whether the insurer runs
with --conformance. Exit status: 0 when every check passes, 1 when one
fails or nothing answered, 2 on misuse. The kit needs the gateway's NATS rights (it creates
the conformance stream and consumer): --nkey, or --dev for the fixtures' key.

Examples:
  gateway insurer --dev --id cpam751 --nats-url nats://127.0.0.1:4222 --conformance &
  gateway conformance --dev --insurer cpam751
  gateway conformance --insurer cpam931 --nats-url nats://gw:4222 --nkey gateway.nk --directory insurers.yaml
`

func runConformance(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "conformance", conformanceUsage)
	id := fs.String("insurer", "", "insurer `id` of the directory (required)")
	url := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS `URL`")
	nkey := fs.String("nkey", "", "nkey seed `file` with the gateway's rights (--dev: fixtures/nkeys/gateway.nk)")
	directory := fs.String("directory", "", "insurer directory YAML `file` (--dev: fixtures/insurers.yaml)")
	timeout := fs.Duration("timeout", 60*time.Second, "longest wait for the answers")
	verbose := fs.Bool("v", false, "log each lot sent")
	devMode := fs.Bool("dev", env.Dev(), "development mode: fixtures' directory, nkeys and test card")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("conformance takes no arguments, got %q", fs.Args())
	}
	if *id == "" {
		return cli.Usagef("--insurer is required")
	}
	if *timeout <= 0 {
		return cli.Usagef("--timeout must be positive")
	}
	in, err := directoryInsurer(*directory, *devMode, *id)
	if err != nil {
		return err
	}
	seed, err := nkeySeed(*nkey, *devMode, "gateway")
	if err != nil {
		return err
	}
	sheets, err := dev.Sheets(time.Now())
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	r, err := mock.Conformance(ctx, mock.KitConfig{
		NATSURL: *url, NKeySeed: seed, Insurer: in, Sheets: sheets, Timeout: *timeout,
		Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if errors.Is(err, mock.ErrNoAnswer) {
		return cli.WithHint(err, "is the insurer running with --conformance? ('gateway insurer --id "+*id+" --conformance' serves the conformance wire; an insurer on the live wire only never reads it)")
	}
	if err != nil {
		return cli.WithHint(err, "is the gateway's NATS at "+*url+" and may this key create streams?")
	}
	if err := r.WriteTable(env.Stdout); err != nil {
		return err
	}
	if r.Failed() {
		return &cli.ExitError{Code: 1}
	}
	return nil
}
