package testenv

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
)

// Outside verifiers: code we did not write that checks our signed sheets.
// Each returns, for every file, nil when the verifier accepts it and its
// reason otherwise; a verifier that is not installed fails the test.

// Xmlsec1 verifies each file with xmlsec1 (libxml2 + OpenSSL): the test
// root trusted, the persons and organisations CAs as intermediates, the
// XAdES SignedProperties' Id as an id attribute, at time at. xmlsec1 1.2
// takes no CRL on its command line: it checks no revocation.
func Xmlsec1(t testing.TB, at time.Time, files ...string) map[string]error {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		t.Fatal("testenv: xmlsec1 not found: run 'make deps' (Debian package xmlsec1)")
	}
	pki := filepath.Join(fixtures.Dir(), "pki")
	got := map[string]error{}
	for _, f := range files {
		out, err := exec.Command(bin, "--verify",
			"--trusted-pem", filepath.Join(pki, "root.crt"),
			"--untrusted-pem", filepath.Join(pki, "persons-ca.crt"),
			"--untrusted-pem", filepath.Join(pki, "orgs-ca.crt"),
			"--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
			"--verification-gmt-time", at.UTC().Format(time.DateTime),
			f).CombinedOutput()
		if err != nil {
			got[f] = errors.New(lastLines(string(out), 3))
		} else {
			got[f] = nil
		}
	}
	return got
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// XadesjsDir is where make test installs xadesjs (npm ci from the
// committed package-lock.json).
func XadesjsDir() string { return filepath.Join(filepath.Dir(fixtures.Dir()), "tools", "xadesjs") }

// Xadesjs verifies each file with xadesjs (tools/xadesjs/verify.cjs, on
// Node's WebCrypto): the signature value with the KeyInfo certificate's
// key, every reference, the signed properties. It checks no trust chain,
// validity, revocation, key usage or algorithm policy.
func Xadesjs(t testing.TB, files ...string) map[string]error {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("testenv: node not found: run 'make deps' (Debian packages nodejs, npm)")
	}
	dir := XadesjsDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "xadesjs")); err != nil {
		t.Fatalf("testenv: xadesjs is not installed in %s: run 'make test' (scripts/xadesjs.sh runs npm ci there)", dir)
	}
	cmd := exec.Command(node, append([]string{filepath.Join(dir, "verify.cjs")}, files...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("testenv: xadesjs: %v\n%s", err, stderr.String())
	}
	got := map[string]error{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		l := sc.Text()
		if f, ok := strings.CutPrefix(l, "VALID "); ok {
			got[f] = nil
		} else if rest, ok := strings.CutPrefix(l, "REFUSED "); ok {
			for _, f := range files {
				if strings.HasPrefix(rest, f+": ") {
					got[f] = errors.New(strings.TrimPrefix(rest, f+": "))
				}
			}
		}
	}
	for _, f := range files {
		if _, ok := got[f]; !ok {
			t.Fatalf("testenv: xadesjs said nothing of %s:\n%s", f, out)
		}
	}
	return got
}

// Pdfsig runs poppler's pdfsig on file with an NSS database trusting the
// test root, and returns its report ("Signature is Valid", "Certificate
// is Trusted", ...).
func Pdfsig(t testing.TB, file string) string {
	t.Helper()
	pdfsig, err1 := exec.LookPath("pdfsig")
	certutil, err2 := exec.LookPath("certutil")
	if err1 != nil || err2 != nil {
		t.Fatal("testenv: pdfsig or certutil not found: run 'make deps' (Debian packages poppler-utils, libnss3-tools)")
	}
	db := filepath.Join(t.TempDir(), "nssdb")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("testenv: %s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	run(certutil, "-N", "--empty-password", "-d", "sql:"+db)
	run(certutil, "-A", "-d", "sql:"+db, "-n", "fsegate-test-root", "-t", "CT,C,C", "-i", filepath.Join(fixtures.Dir(), "pki", "root.crt"))
	return run(pdfsig, "-nssdir", "sql:"+db, file)
}
