package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fsegate/fsegate/internal/cli"
)

var program = &cli.Program{
	Name: "workstation",
	Usage: `workstation — sign care sheets with the CPS card and send them to the gateway

Usage:
  workstation COMMAND [flags]

Examples:
  workstation card info                        # who is the card in the reader
  workstation generate --count 5 --out-dir in  # synthetic care sheets
  workstation check in/*.xml                   # the caisse's rules, before any PIN
  workstation sign --out-dir signed in/*.xml   # one PIN entry for all files
  workstation send signed/*.xml                # through the durable outbox
  workstation batch in/                        # check, sign and send a folder, one PIN
  workstation notices --follow                 # ARL, returns, payments as they come
  workstation serve                            # local API for practice software
  workstation doctor                           # what is wrong, in plain words

Commands that talk to the gateway take --gateway https://127.0.0.1:8443;
commands that use the card take --reader NAME and --pin-file FILE (the PIN
may also come from FSEGATE_PIN). FSEGATE_DEV=1 sets --dev for every command.
'workstation --version' prints the version, commit and Go version.
`,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := program.Main(ctx, os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
