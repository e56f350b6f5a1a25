package chaos

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestBrokenBuildFails feeds the checker the history of a real campaign
// run against the deliberately broken gateway (built with -tags
// chaos,chaosbroken: the receipt before the PubAck, the write a second
// later), with kill -9 of gateways as the only fault, made by
//
//	BROKEN=1 DURATION=40s SEED=5 RATE=6 FAULTS=kill-gateway DRAIN=90s make chaos
//
// and kept in testdata/broken. The checker must refuse it: sheets
// receipted and never queued (lost), and a doublon receipted.
func TestBrokenBuildFails(t *testing.T) {
	dir := filepath.Join("testdata", "broken")
	var all []Op
	for _, name := range []string{"runner.jsonl.gz", "load.jsonl.gz"} {
		r := gunzip(t, filepath.Join(dir, name))
		ops, err := ReadHistory(r)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ops...)
	}
	SortOps(all)
	var snap Snapshot
	if err := json.NewDecoder(gunzip(t, filepath.Join(dir, "snapshot.json.gz"))).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	rep := Check(all, &snap)
	if rep.OK() {
		t.Fatalf("the broken build's history passed the checker: %s", rep.Summary())
	}
	rules := map[string]int{}
	for _, v := range rep.Violations {
		rules[v.Rule]++
	}
	if rules[RuleLost] == 0 || rep.Lost == 0 {
		t.Errorf("violations %v; want receipted sheets lost", rules)
	}
	if rep.Faults["kill-gateway"] == 0 {
		t.Errorf("faults %v; want the gateways killed", rep.Faults)
	}
	if len(rep.Stories) == 0 {
		t.Error("no story told")
	}
	t.Logf("%s; rules broken %v", rep.Summary(), rules)
}

func gunzip(t *testing.T, path string) io.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return z
}
