package verify

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/signature"
)

// TestFile: a signed care sheet is valid and names its signer; altered,
// it is not; a file that cannot be read is FILE_UNREADABLE.
func TestFile(t *testing.T) {
	trust, err := dev.Trust()
	if err != nil {
		t.Fatal(err)
	}
	v := &signature.Verifier{Trust: trust}
	sheets, err := dev.Sheets(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := dev.Insurers()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := dir.Insurer("cpam751")
	m, err := sheets.Make(context.Background(), in, 100002, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.xml")
	if err := os.WriteFile(good, m.Signed, 0o644); err != nil {
		t.Fatal(err)
	}
	r := File(v, good)
	if !r.Valid || r.Kind != "caresheet" || r.Signer == nil || r.Signer.ID != "899700218896" || len(r.Errors) != 0 {
		t.Fatalf("got %+v, want a valid care sheet signed by the doctor", r)
	}

	altered := []byte(string(m.Signed))
	i := len(altered) / 3
	for altered[i] < '0' || altered[i] > '8' {
		i++
	}
	altered[i]++
	bad := filepath.Join(tmp, "bad.xml")
	if err := os.WriteFile(bad, altered, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := File(v, bad); r.Valid || len(r.Errors) == 0 {
		t.Fatalf("altered: got %+v, want invalid", r)
	}

	r = File(v, filepath.Join(tmp, "missing.xml"))
	if r.Valid || r.Kind != "unknown" || len(r.Errors) != 1 || r.Errors[0].Code != "FILE_UNREADABLE" {
		t.Fatalf("missing: got %+v, want FILE_UNREADABLE", r)
	}
}
