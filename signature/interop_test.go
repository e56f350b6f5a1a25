package signature

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
)

// TestXmlsec1Interop: xmlsec1 (libxml2 + OpenSSL) accepts our signed sheets
// given the test root and the persons CA, and refuses a tampered one.
func TestXmlsec1Interop(t *testing.T) {
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatal("xmlsec1 not found: run 'make deps' (Debian package xmlsec1)")
	}
	dir := t.TempDir()
	signed := signSample(t, "doctor", "sig")
	good := filepath.Join(dir, "good.xml")
	bad := filepath.Join(dir, "bad.xml")
	os.WriteFile(good, signed, 0o600)
	os.WriteFile(bad, []byte(strings.Replace(string(signed), "<Billed>58.42", "<Billed>958.42", 1)), 0o600)
	pki := filepath.Join(fixtures.Dir(), "pki")
	run := func(file string) (string, error) {
		cmd := exec.Command(bin, "--verify",
			"--trusted-pem", filepath.Join(pki, "root.crt"),
			"--untrusted-pem", filepath.Join(pki, "persons-ca.crt"),
			"--id-attr:Id", NSXAdES+":SignedProperties",
			"--verification-time", "2026-11-20 12:00:00",
			file)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(good); err != nil {
		t.Fatalf("xmlsec1 refused our signature: %v\n%s", err, out)
	}
	if out, err := run(bad); err == nil {
		t.Fatalf("xmlsec1 accepted a tampered sheet:\n%s", out)
	}
}
