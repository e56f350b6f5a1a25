package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fsegate/fsegate/internal/cli"
)

// TestMain lets the scripts of testdata/*.txt run the workstation program
// as the command "workstation".
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"workstation": func() {
			os.Exit(program.Main(context.Background(), os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
		},
	})
}

// TestScripts runs every testdata/*.txt script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata"})
}
