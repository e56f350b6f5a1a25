package main

import (
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fse"
)

// checkNoPII fails when a patient's NIR (whole, or its 13 digits without
// the key) appears in the captured logs.
func checkNoPII(t *testing.T, logs string, signed map[string][]byte) {
	t.Helper()
	if logs == "" {
		t.Fatal("no logs captured: the test does not check anything")
	}
	for n, b := range signed {
		s, err := fse.Decode(b)
		if err != nil {
			t.Fatalf("sheet %s: %v", n, err)
		}
		nir := s.Patient.NIR
		if len(nir) < 13 {
			t.Fatalf("sheet %s: NIR %q too short to search", n, fse.MaskNIR(nir))
		}
		if strings.Contains(logs, nir) || strings.Contains(logs, nir[:13]) {
			t.Errorf("logs hold the NIR of sheet %s (%s)", n, fse.MaskNIR(nir))
		}
	}
}
