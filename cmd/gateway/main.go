package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fsegate/fsegate/internal/cli"
)

var program = &cli.Program{
	Name: "gateway",
	Usage: `gateway — fsegate's care sheet gateway

Usage:
  gateway COMMAND [flags]

Examples:
  gateway serve --dev --mock-insurers     # what 'make run' starts
  gateway verify --json sheet.xml         # check a signed care sheet offline

FSEGATE_DEV=1 sets --dev for every command (trust the fixtures' test PKI).
'gateway --version' prints the version, commit and Go version.
`,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := program.Main(ctx, os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
