package signature

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures/testenv"
)

// TestXmlsec1Interop: xmlsec1 (libxml2 + OpenSSL) accepts our signed sheets
// given the test root and the persons CA, and refuses a tampered one.
func TestXmlsec1Interop(t *testing.T) {
	dir := t.TempDir()
	signed := signSample(t, "doctor", "sig")
	good := filepath.Join(dir, "good.xml")
	bad := filepath.Join(dir, "bad.xml")
	os.WriteFile(good, signed, 0o600)
	os.WriteFile(bad, []byte(strings.Replace(string(signed), "<Billed>58.42", "<Billed>958.42", 1)), 0o600)
	got := testenv.Xmlsec1(t, vectorNow, good, bad)
	if err := got[good]; err != nil {
		t.Fatalf("xmlsec1 refused our signature: %v", err)
	}
	if got[bad] == nil {
		t.Fatalf("xmlsec1 accepted a tampered sheet")
	}
}
