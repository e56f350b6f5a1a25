package insurers

import (
	"bytes"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
)

// fixtureDirectory is the development directory, fixtures/insurers.yaml
// (what fixtures/dev.Insurers gives the commands; dev imports this
// package, so its tests read the fixture themselves).
func fixtureDirectory(t testing.TB) *Directory {
	t.Helper()
	b, err := fixtures.ReadFile("insurers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fixtureSeed is the test nkey seed of a fixture NATS user (fixtures/nkeys).
func fixtureSeed(t testing.TB, id string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile("nkeys/" + id + ".nk")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}
