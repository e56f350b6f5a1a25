package testenv

import (
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
)

// SoftHSM2 module paths of Debian and other distributions.
var softHSMModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// SoftHSMModule is the path of SoftHSM2's PKCS#11 module; the test fails
// (make deps installs softhsm2) when it is not installed.
func SoftHSMModule(t testing.TB) string {
	t.Helper()
	for _, p := range softHSMModules {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("testenv: SoftHSM2's module (libsofthsm2.so) is not installed: run 'make deps' (Debian package softhsm2)")
	return ""
}

// OpenSCModule is the path of OpenSC's PKCS#11 module; the test fails
// (make deps installs opensc) when it is not installed.
func OpenSCModule(t testing.TB) string {
	t.Helper()
	for _, p := range []string{
		"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
		"/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
		"/usr/lib/opensc-pkcs11.so",
		"/usr/lib64/opensc-pkcs11.so",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("testenv: OpenSC's PKCS#11 module (opensc-pkcs11.so) not found: run 'make deps' (Debian package opensc)")
	return ""
}

// The ids of the keys in a SoftHSM token: the virtual card's
// (signature/card/virtual, the PrKDF of a real CPx).
const (
	SoftHSMSignatureKeyID      = "e828bd080f8025000001ff001001"
	SoftHSMAuthenticationKeyID = "e828bd080f8025000001ff001002"
)

// SoftHSM makes a SoftHSM2 token labelled "CPS <card>" in a temporary
// directory, with user PIN pin, holding the fixture card's two keys and
// certificates (fixtures/pki/cards/<card>-sig and -auth, the ids of a
// CPx's keys, labels CPS_PRIV_SIG, CPS_PRIV_AUT, CPS_SIG, CPS_AUT), and
// points SOFTHSM2_CONF at it for the rest of the test (t.Setenv: not in
// parallel tests). It returns the module's path. The keys are imported
// with softhsm2-util, the certificates with OpenSC's pkcs11-tool: a
// missing tool fails the test, saying to run make deps.
func SoftHSM(t testing.TB, cardName, pin string) string {
	t.Helper()
	mod := SoftHSMModule(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	label := "CPS " + cardName
	run := func(name string, args ...string) {
		t.Helper()
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("testenv: %s not found: run 'make deps' (Debian packages softhsm2, opensc)", name)
		}
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testenv: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "87654321", "--pin", pin)
	for _, k := range []struct{ file, id, keyLabel, certLabel string }{
		{"sig", SoftHSMSignatureKeyID, "CPS_PRIV_SIG", "CPS_SIG"},
		{"auth", SoftHSMAuthenticationKeyID, "CPS_PRIV_AUT", "CPS_AUT"},
	} {
		base := "pki/cards/" + cardName + "-" + k.file
		key, err := fixtures.ReadFile(base + ".key")
		if err != nil {
			t.Fatalf("testenv: no fixture card %q: %v", cardName, err)
		}
		keyFile := filepath.Join(dir, k.file+".key")
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		run("softhsm2-util", "--import", keyFile, "--token", label, "--label", k.keyLabel, "--id", k.id, "--pin", pin)
		crt, err := fixtures.ReadFile(base + ".crt")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(crt)
		if b == nil {
			t.Fatalf("testenv: %s.crt: no PEM block", base)
		}
		der := filepath.Join(dir, k.file+".der")
		if err := os.WriteFile(der, b.Bytes, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := hex.DecodeString(k.id); err != nil {
			t.Fatal(err)
		}
		run("pkcs11-tool", "--module", mod, "--token-label", label, "--login", "--pin", pin,
			"--write-object", der, "--type", "cert", "--id", k.id, "--label", k.certLabel)
	}
	return mod
}
