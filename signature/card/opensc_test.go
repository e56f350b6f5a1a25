package card_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

type tools struct {
	t   *testing.T
	env []string
	dir string
}

func (x tools) run(wantOK bool, name string, args ...string) string {
	x.t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		x.t.Fatalf("%s not found: install opensc and openssl (make deps)", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = x.env
	cmd.Dir = x.dir
	out, err := cmd.CombinedOutput()
	if wantOK && err != nil {
		x.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	if !wantOK && err == nil {
		x.t.Fatalf("%s %s succeeded, want a failure\n%s", name, strings.Join(args, " "), out)
	}
	return string(out)
}

// TestOpenSC runs OpenSC's own tools, unmodified, against the virtual card
// through pcscd. They see every reader of pcscd, so the leased reader is
// chosen by its index in pcscd's list (OpenSC lists readers in the same
// order).
func TestOpenSC(t *testing.T) {
	module := testenv.OpenSCModule(t)
	v, err := dev.Card("doctor", virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.InsertCard(t, v)
	rs, err := card.Readers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	idx := -1
	for i, x := range rs {
		if x.Name == r.Name {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("reader %q not in pcscd's list", r.Name)
	}
	n := strconv.Itoa(idx)
	dir := t.TempDir()
	// One PKCS#11 slot per reader, and room for all of them, so that the
	// slot index is the reader index.
	conf := filepath.Join(dir, "opensc.conf")
	if err := os.WriteFile(conf, []byte("app default {\n}\napp opensc-pkcs11 {\n\tpkcs11 {\n\t\tmax_virtual_slots = 64;\n\t\tslots_per_card = 1;\n\t}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x := tools{t: t, dir: dir, env: append(os.Environ(), "OPENSC_CONF="+conf)}

	if out := x.run(true, "opensc-tool", "--reader", n, "--name"); strings.TrimSpace(out) != "IAS-ECC" {
		t.Fatalf("opensc-tool --name: got %q, want IAS-ECC", out)
	}
	sigID := hex.EncodeToString(virtual.SignatureKeyID)
	authID := hex.EncodeToString(virtual.AuthenticationKeyID)
	out := x.run(true, "pkcs15-tool", "--reader", n, "--list-certificates")
	for _, want := range []string{"CPS_SIG", "CPS_AUT", sigID, authID} {
		if !strings.Contains(out, want) {
			t.Fatalf("pkcs15-tool --list-certificates does not list %s:\n%s", want, out)
		}
	}
	for id, cert := range map[string]*x509.Certificate{sigID: v.Profile().SignatureCertificate(), authID: v.Profile().AuthenticationCertificate()} {
		out := x.run(true, "pkcs15-tool", "--reader", n, "--read-certificate", id)
		blk, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
		if blk == nil || !bytes.Equal(blk.Bytes, cert.Raw) {
			t.Fatalf("pkcs15-tool --read-certificate %s: not the profile's certificate:\n%s", id, out)
		}
	}

	// Sign a SHA-256 DigestInfo with the authentication key (CKM_RSA_PKCS,
	// what TLS client authentication uses) and check it with openssl.
	msg := []byte("care sheet 0001")
	d := sha256.Sum256(msg)
	di := append(mustHex(t, "3031300d060960864801650304020105000420"), d[:]...)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("msg", msg)
	write("di", di)
	pub, err := x509.MarshalPKIXPublicKey(v.Profile().AuthenticationCertificate().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write("auth.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	x.run(true, "pkcs11-tool", "--module", module, "--slot-index", n, "--login", "--pin", "1234",
		"--sign", "-m", "RSA-PKCS", "--id", authID, "-i", "di", "-o", "sig")
	if out := x.run(true, "openssl", "dgst", "-sha256", "-verify", "auth.pub", "-signature", "sig", "msg"); !strings.Contains(out, "Verified OK") {
		t.Fatalf("openssl: %s", out)
	}

	// The non-repudiation key: OpenSC built with OpenSSL 3 cannot do PSO
	// HASH (iasecc_qsign_data_sha256), as with a real card.
	out = x.run(false, "pkcs11-tool", "--module", module, "--slot-index", n, "--login", "--pin", "1234",
		"--sign", "-m", "SHA256-RSA-PKCS", "--id", sigID, "-i", "msg", "-o", "sig2")
	if !strings.Contains(out, "CKR_FUNCTION_NOT_SUPPORTED") {
		t.Fatalf("signature key through OpenSC: got %q, want CKR_FUNCTION_NOT_SUPPORTED", out)
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
