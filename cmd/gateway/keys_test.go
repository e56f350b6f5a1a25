package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/cli"
)

// prodFiles writes what a gateway needs without --dev, from the fixtures
// (trust, directories, tables) but for the keys, which are made fresh
// unless fixtureKeys: the fixtures' NATS seeds and server key are public.
func prodFiles(t *testing.T, fixtureKeys bool) []string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(name string) []byte {
		b, err := fixtures.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, n := range []string{"root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl"} {
		write("trust/"+n, read("pki/"+n))
	}
	ins := read("insurers.yaml")
	var seed, certPEM, keyPEM []byte
	if fixtureKeys {
		seed, certPEM, keyPEM = read("nkeys/gateway.nk"), read("pki/server.crt"), read("pki/server.key")
	} else {
		// Fresh nkeys for the gateway and every insurer.
		re := regexp.MustCompile(`(?m)^(\s*(?:gateway_)?nkey:\s*)U[A-Z0-9]+`)
		ins = re.ReplaceAllFunc(ins, func(m []byte) []byte {
			kp, err := nkeys.CreateUser()
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := kp.PublicKey()
			if bytes.Contains(m, []byte("gateway_nkey")) {
				seed, _ = kp.Seed()
			}
			return re.ReplaceAll(m, []byte("${1}"+pub))
		})
		certPEM, keyPEM = selfSigned(t)
	}
	return []string{
		"--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--trust-dir", filepath.Join(dir, "trust"), "--practices", write("practices.yaml", read("practices.yaml")),
		"--insurers", write("insurers.yaml", ins), "--tariffs", write("ngap.csv", read("tariffs/ngap.csv")),
		"--holidays", write("holidays.csv", read("holidays.csv")), "--nats-seed", write("gateway.nk", seed),
		"--tls-cert", write("server.crt", certPEM), "--tls-key", write("server.key", keyPEM), "--crl-refresh", "0",
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gateway"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
}

// runProd starts a gateway without --dev; the error is Run's.
func runProd(t *testing.T, env map[string]string, args ...string) (*Main, error) {
	t.Helper()
	m := &Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e := &cli.Env{Stderr: io.Discard, Stdout: io.Discard, Getenv: func(k string) string { return env[k] }}
	if err := m.ParseFlags(e, args); err != nil {
		return nil, err
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		return nil, err
	}
	t.Cleanup(func() { m.Close() })
	return m, nil
}

// TestProductionRefusesFixtureKeys: without --dev the fixtures' public keys
// (the gateway's NATS seed, the directory's nkeys, the server key) are
// refused, each named; so is an embedded store without a key.
func TestProductionRefusesFixtureKeys(t *testing.T) {
	_, err := runProd(t, nil, prodFiles(t, true)...)
	if err == nil {
		t.Fatal("started with the fixtures' keys")
	}
	for _, want := range []string{"--nats-seed is fixtures/nkeys/gateway.nk", "gateway_nkey is fixtures/nkeys/gateway.nk", "insurer cpam751's nkey", "--tls-key is fixtures/pki/server.key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to say %q", err, want)
		}
	}
	args := prodFiles(t, false)
	noSeed := make([]string, 0, len(args))
	for i := 0; i < len(args); i += 2 {
		if args[i] != "--nats-seed" {
			noSeed = append(noSeed, args[i], args[i+1])
		}
	}
	if _, err := runProd(t, nil, noSeed...); err == nil || !strings.Contains(err.Error(), "no --nats-seed") {
		t.Fatalf("no --nats-seed: got %v", err)
	}
	if _, err := runProd(t, nil, args...); err == nil || !strings.Contains(err.Error(), "no key to encrypt the store") {
		t.Fatalf("no store key: got %v", err)
	}
	if _, err := runProd(t, nil, append(args, "--store-cipher", "none")...); err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Fatalf("--store-cipher none without --dev: got %v", err)
	}
	if _, err := runProd(t, map[string]string{"FSEGATE_STORE_KEY": strings.Repeat("k", 40)}, args...); err != nil {
		t.Fatalf("own keys and a store key: %v", err)
	}
}

// TestStoreEncryptedAtRest: a receipted sheet's NIR is nowhere in the
// store's files; the same store with --store-cipher none (the control)
// shows it. The store opens again with its key, not with another, and a
// rotation re-encrypts it.
func TestStoreEncryptedAtRest(t *testing.T) {
	sm := newSheetMaker(t)
	scan := func(dir string, nir []byte) bool {
		found := false
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, nir) {
					found = true
				}
			}
			return nil
		})
		return found
	}
	send := func(m *Main, n int) []byte {
		made := sm.make("cpam751", n, "", uint64(n))
		if _, err := newClient(t, m, "doctor").SendSheet(t.Context(), made.Signed); err != nil {
			t.Fatal(err)
		}
		return []byte(made.Sheet.Patient.NIR)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		clear bool
	}{{"encrypted", nil, false}, {"control, in clear", []string{"--store-cipher", "none"}, true}} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			m := startGateway(t, append([]string{"--data-dir", data}, tc.args...)...)
			nir := send(m, 6001)
			m.Close()
			if got := scan(filepath.Join(data, "jetstream"), nir); got != tc.clear {
				t.Fatalf("NIR found in the store's files: %v, want %v", got, tc.clear)
			}
		})
	}

	t.Run("keys", func(t *testing.T) {
		data := t.TempDir()
		keyA, keyB := filepath.Join(t.TempDir(), "a.key"), filepath.Join(t.TempDir(), "b.key")
		os.WriteFile(keyA, []byte(strings.Repeat("a", 64)), 0o600)
		os.WriteFile(keyB, []byte(strings.Repeat("b", 64)), 0o600)
		m := startGateway(t, "--data-dir", data, "--store-key-file", keyA)
		send(m, 6002)
		m.Close()
		if _, err := startGatewayErr(t, "--data-dir", data, "--store-key-file", keyB); err == nil {
			t.Fatal("the store opened with another key")
		}
		m = startGateway(t, "--data-dir", data, "--store-key-file", keyB, "--store-old-key-file", keyA)
		if _, err := newClient(t, m, "doctor").Sheet(t.Context(), "751000019", "000006002"); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
		m.Close()
		m = startGateway(t, "--data-dir", data, "--store-key-file", keyB)
		if _, err := newClient(t, m, "doctor").Sheet(t.Context(), "751000019", "000006002"); err != nil {
			t.Fatalf("with the new key alone: %v", err)
		}
		os.Chmod(keyB, 0o644)
		if _, err := startGatewayErr(t, "--data-dir", t.TempDir(), "--store-key-file", keyB); err == nil || !strings.Contains(err.Error(), "can be read by others") {
			t.Fatalf("a key readable by others: got %v", err)
		}
	})
}

// TestNATSTLS: with --nats-tls-cert the embedded listener insurers reach
// takes TLS connections only.
func TestNATSTLS(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "n.crt"), filepath.Join(dir, "n.key")
	os.WriteFile(cert, certPEM, 0o600)
	os.WriteFile(key, keyPEM, 0o600)
	// The mock insurers in-process connect with TLS too.
	m := startGateway(t, "--nats-tls-cert", cert, "--nats-tls-key", key, "--mock-insurers")
	seed, err := fixtures.ReadFile("nkeys/cpam751.nk")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	auth := nats.Nkey(pub, func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) })
	if nc, err := nats.Connect(m.NATSClientURL(), auth, nats.Timeout(3*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a NATS client without TLS connected")
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	nc, err := nats.Connect(strings.Replace(m.NATSClientURL(), "nats://", "tls://", 1), auth, nats.Secure(&tls.Config{RootCAs: roots, ServerName: "localhost"}), nats.Timeout(3*time.Second))
	if err != nil {
		t.Fatalf("a TLS client: %v", err)
	}
	nc.Close()
}

// startGatewayErr is startGateway returning Run's error.
func startGatewayErr(t *testing.T, args ...string) (*Main, error) {
	t.Helper()
	base := []string{"--dev", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}
	return runProd(t, nil, append(base, args...)...)
}

// TestSecondGatewaySaysPortInUse: a second gateway on the same ports (a
// second 'make run') says at once that the address is taken and what to
// do (for NATS it waited 15 s and said "not ready").
func TestSecondGatewaySaysPortInUse(t *testing.T) {
	first := startGateway(t)
	nats := strings.TrimPrefix(first.NATSClientURL(), "nats://")
	for _, tc := range []struct{ flag, addr string }{
		{"--listen", first.APIAddr()},
		{"--admin", first.AdminAddr()},
		{"--nats-listen", nats},
	} {
		args := []string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}
		for i := range args {
			if args[i] == tc.flag {
				args[i+1] = tc.addr
			}
		}
		_, err := startGatewayErr(t, args...)
		if err == nil || !strings.Contains(err.Error(), "in use") {
			t.Fatalf("%s %s taken: got %v, want 'in use'", tc.flag, tc.addr, err)
		}
		var h *cli.HintError
		if !errors.As(err, &h) || !strings.Contains(h.Hint, tc.flag) || !strings.Contains(h.Hint, "another gateway") {
			t.Fatalf("%s: no hint naming another gateway and the flag: %v", tc.flag, err)
		}
	}
}
