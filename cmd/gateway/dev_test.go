package main

import (
	"testing"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
)

// devTariffs is the fixtures' NGAP table, what loadgen.Prepare prices the
// test loads with.
func devTariffs(t testing.TB) *fse.Tariffs {
	t.Helper()
	tr, err := dev.Tariffs()
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
