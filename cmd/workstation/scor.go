package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/internal/cli"
)

func init() {
	program.Add(&cli.Command{Name: "scor", Summary: "send the SCOR piece (scanned paper prescription) of a sheet", Run: runSCOR})
}

const scorUsage = `workstation scor — send the SCOR piece of a sheet

Usage:
  workstation scor [--billing B] NUMBER FILE

A sheet on a paper prescription is receipted waiting for its SCOR piece:
the scanned prescription, a PDF or a JPEG of at most 5 MiB. This sends
FILE as the piece of sheet NUMBER of billing number B (default: the card
holder's only one). The gateway checks it (a real PDF or JPEG, its pages,
no decompression bomb), sends it to the sheet's insurer in a SCOR lot and
records the insurer's ARL: 'workstation status NUMBER' and the notices
show it. In a batch folder, SHEET.scor.pdf or SHEET.scor.jpg beside
SHEET.xml is sent by 'workstation batch' without this command.

Exit status: 0 when the piece is taken, 1 when it is refused, 2 on misuse.

Examples:
  workstation scor 000100001 ordonnance.jpg
  workstation scor --billing 751000027 000100001 scan.pdf
`

func runSCOR(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "scor", scorUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	billing := fs.String("billing", "", "billing `number` (numéro AM) of the sheet; default: the card holder's only one")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return cli.Usagef("scor takes a sheet number and a file (workstation scor NUMBER FILE)")
	}
	data, err := os.ReadFile(fs.Arg(1))
	if err != nil {
		return err
	}
	_, cl, closeAll, err := connect(ctx, env, cf, gf)
	if err != nil {
		return err
	}
	defer closeAll()
	st, err := cl.SendSCOR(ctx, *billing, fs.Arg(0), data)
	var p *client.Problem
	switch {
	case errors.As(err, &p):
		fmt.Fprintf(env.Stdout, "%s: SCOR piece refused\n", fs.Arg(0))
		printProblem(env.Stdout, p)
		return &cli.ExitError{Code: 1}
	case err != nil:
		return gatewayHint(err, gf.URL)
	}
	fmt.Fprintf(env.Stdout, "%s: SCOR piece %s (%s)\n", fs.Arg(0), st.State, st.Kind)
	return nil
}
