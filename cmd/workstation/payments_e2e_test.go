package main

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestPaymentScripts runs testdata/payments/*.txt against a gateway of
// their own whose mock insurers pay in transfers
// (testdata/payments-scenario.yaml): the scripts list every transfer of the
// doctor's practice, which no other script's sheets may add to.
func TestPaymentScripts(t *testing.T) {
	scenario, err := filepath.Abs("testdata/payments-scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g := newTestGateway(t, "--mock-scenario", scenario)
	g.start()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/payments",
		Setup: func(e *testscript.Env) error {
			e.Setenv("GATEWAY", g.URL)
			e.Setenv("FSEGATE_DEV", "1")
			e.Setenv("FSEGATE_VIRTUAL_CARD", "doctor")
			e.Setenv("FSEGATE_PIN", "1234")
			return nil
		},
	})
}
