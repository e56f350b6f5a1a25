package tables

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tablesDir copies the fixtures' tables into a temporary directory.
func tablesDir(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("..", "..", "fixtures", "tariffs"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tb := range All {
		b, err := os.ReadFile(filepath.Join(src, tb.File))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, tb.File), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestImport: a new version that loads with the rest is planned without a
// write, then taken with the old one kept; a version that does not load is
// refused and nothing changes.
func TestImport(t *testing.T) {
	dir := tablesDir(t)
	ngap, _ := Lookup("ngap.csv")
	path := filepath.Join(dir, "ngap.csv")
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(old), "\n")
	var dropped []string
	for i := len(lines) - 1; i > 0 && len(dropped) == 0; i-- {
		if strings.TrimSpace(lines[i]) != "" && !strings.HasPrefix(lines[i], "#") {
			dropped = append(dropped, lines[i])
			lines = append(lines[:i], lines[i+1:]...)
		}
	}
	incoming := []byte(strings.Join(lines, ""))

	im, err := PlanImport(dir, ngap, incoming)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if len(im.Changes) != 1 || !strings.HasPrefix(im.Changes[0].String(), "-") {
		t.Fatalf("changes %v, want the one row removed (%q)", im.Changes, dropped)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, old) {
		t.Fatal("planning wrote the table")
	}
	target, err := im.Apply()
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); !bytes.Equal(b, incoming) {
		t.Errorf("%s is not the new version", target)
	}
	if b, _ := os.ReadFile(path + ".previous"); !bytes.Equal(b, old) {
		t.Errorf("the previous version was not kept")
	}

	if _, err := PlanImport(dir, ngap, []byte("not,a,table\n")); err == nil {
		t.Errorf("a version that does not load was planned")
	}
}
