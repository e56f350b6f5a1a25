package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fsegate/fsegate/internal/cli"
)

// TestMain lets the scripts of testdata/*.txt run the gateway program as
// the command "gateway".
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gateway": func() {
			os.Exit(program.Main(context.Background(), os.Args[1:], &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
		},
	})
}

// TestScripts runs every testdata/*.txt script. $VECTORS is the signature
// conformance vectors directory (signature/testdata/vectors) and
// $TESTDATA this package's testdata directory, both read-only.
func TestScripts(t *testing.T) {
	vectors, err := filepath.Abs(filepath.Join("..", "..", "signature", "testdata", "vectors"))
	if err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("VECTORS", vectors)
			e.Setenv("TESTDATA", testdata)
			e.Setenv("FSEGATE_DEV", "")
			return nil
		},
	})
}
