package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// SignatureVector is one file of signature/testdata/vectors: signed bytes
// and the code every reader of signed documents must give them
// (signature.Verify, the gateway's intake, gateway verify, the insurers).
type SignatureVector struct {
	Name   string
	Data   []byte
	Expect string            // a code of docs/errors.md, or VALID
	Header map[string]string // the header comment's fields
}

// VectorNow is when the vectors are verified unless their "now" says
// otherwise (they are signed at 2026-11-20T10:00:00Z).
var VectorNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// Now is the time to verify v at.
func (v SignatureVector) Now(t testing.TB) time.Time {
	t.Helper()
	s := v.Header["now"]
	if s == "" {
		return VectorNow
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("vector %s: now: %v", v.Name, err)
	}
	return at
}

// CRLMaxAge is the verifier's maximum CRL age for v (0: none).
func (v SignatureVector) CRLMaxAge(t testing.TB) time.Duration {
	t.Helper()
	s := v.Header["crl-max-age"]
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("vector %s: crl-max-age: %v", v.Name, err)
	}
	return d
}

// ClaimsSigner says v's expectation depends on a signer that the runner
// claims (signature's own CheckSigner tests), not on the bytes alone: such a
// vector gives the same code everywhere only where that claim is made.
func (v SignatureVector) ClaimsSigner() bool { return v.Header["claimed-id"] != "" }

var vectorHeader = regexp.MustCompile(`(?m)^([a-z-]+): (.*)$`)

// SignatureVectors reads every vector; a repository without them fails the
// test.
func SignatureVectors(t testing.TB) []SignatureVector {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(self), "..", "..", "signature", "testdata", "vectors")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Fatalf("no signature vectors in %s: run 'go test ./signature -run TestGenerateVectors -update'", dir)
	}
	var out []SignatureVector
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		end := bytes.Index(b, []byte("-->"))
		if end < 0 {
			t.Fatalf("%s: no header comment", f)
		}
		v := SignatureVector{Name: strings.TrimSuffix(filepath.Base(f), ".xml"), Data: b, Header: map[string]string{}}
		for _, m := range vectorHeader.FindAllSubmatch(b[:end], -1) {
			v.Header[string(m[1])] = string(m[2])
		}
		v.Expect = v.Header["expect"]
		if v.Expect == "" {
			t.Fatalf("%s: no expect: in the header", f)
		}
		out = append(out, v)
	}
	return out
}
