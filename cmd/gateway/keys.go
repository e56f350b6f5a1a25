package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/internal/secretfile"
)

// Keys at rest and production safety (docs/operations.md, "Keys at rest").

// storeKeys gives the embedded store's encryption key and, during a
// rotation, the previous one. The key comes from --store-key-file or
// $FSEGATE_STORE_KEY, never from the configuration file; with --dev and
// neither, a random key is made once in the data directory. Without --dev
// the store is never written in clear.
func (m *Main) storeKeys() (key, old string, err error) {
	if m.StoreCipher == "none" {
		if !m.Dev {
			return "", "", cli.WithHint(errors.New("--store-cipher none stores patients' data in clear"), "only with --dev (benchmarks); give a store key")
		}
		return "", "", nil
	}
	switch {
	case m.StoreKeyFile != "":
		if key, err = readKeyFile(m.StoreKeyFile); err != nil {
			return "", "", err
		}
	case m.getenv("FSEGATE_STORE_KEY") != "":
		key = strings.TrimSpace(m.getenv("FSEGATE_STORE_KEY"))
	case m.Dev:
		if key, err = devStoreKey(filepath.Join(m.DataDir, "store.key")); err != nil {
			return "", "", err
		}
	default:
		return "", "", cli.WithHint(errors.New("no key to encrypt the store at rest (signed sheets carry patients' NIR)"),
			"give --store-key-file FILE (owner-only, at least 32 characters: head -c 32 /dev/urandom | xxd -p -c 64 > FILE; chmod 600 FILE) or $FSEGATE_STORE_KEY")
	}
	if len(key) < 32 {
		return "", "", cli.WithHint(errors.New("the store key is under 32 characters"), "make one with: head -c 32 /dev/urandom | xxd -p -c 64")
	}
	switch {
	case m.StoreOldKeyFile != "":
		if old, err = readKeyFile(m.StoreOldKeyFile); err != nil {
			return "", "", err
		}
	case m.getenv("FSEGATE_STORE_OLD_KEY") != "":
		old = strings.TrimSpace(m.getenv("FSEGATE_STORE_OLD_KEY"))
	}
	return key, old, nil
}

func (m *Main) getenv(k string) string {
	if m.Getenv != nil {
		return m.Getenv(k)
	}
	return os.Getenv(k)
}

// readKeyFile reads a secret that only its owner may read.
func readKeyFile(path string) (string, error) {
	k, err := secretfile.Read(path)
	return k, secretErr("store key", path, err, "")
}

// devStoreKey reads the development key, making it on the first start.
func devStoreKey(path string) (string, error) {
	k, err := secretfile.ReadOrCreate(path)
	return k, secretErr("store key", path, err, "")
}

// secretErr is the error of reading the secret file of what at path
// (internal/secretfile), with the hint that fits: chmod 600 for a file
// others may read, missingHint for a missing one.
func secretErr(what, path string, err error, missingHint string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, secretfile.ErrUnsafe):
		return cli.WithHint(fmt.Errorf("%s: %w", what, err), "chmod 600 "+path)
	case errors.Is(err, iofs.ErrNotExist) && missingHint != "":
		return cli.WithHint(fmt.Errorf("%s: %w", what, err), missingHint)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// natsTLS is the embedded NATS listener's TLS, when configured.
func (m *Main) natsTLS() (*tls.Config, error) {
	if m.NATSTLSCert == "" && m.NATSTLSKey == "" {
		if m.NATSTLSCA != "" {
			return nil, cli.Usagef("--nats-tls-ca needs --nats-tls-cert and --nats-tls-key")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(m.NATSTLSCert, m.NATSTLSKey)
	if err != nil {
		return nil, fmt.Errorf("NATS TLS certificate: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if m.NATSTLSCA != "" {
		b, err := os.ReadFile(m.NATSTLSCA)
		if err != nil {
			return nil, fmt.Errorf("NATS TLS CA: %w", err)
		}
		c.ClientCAs = x509.NewCertPool()
		if !c.ClientCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("NATS TLS CA %s: no certificate", m.NATSTLSCA)
		}
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// refuseFixtureKeys refuses, outside --dev, every key of the fixtures:
// they are public (committed), so whoever reads the repository would hold
// them.
func (m *Main) refuseFixtureKeys(seed []byte) error {
	var found []string
	fixturePub := map[string]string{} // public nkey → fixture name
	names, _ := iofs.ReadDir(fixtures.FS(), "nkeys")
	for _, n := range names {
		id := strings.TrimSuffix(n.Name(), ".nk")
		fs, err := dev.Seed(id)
		if err != nil {
			continue
		}
		if seed != nil && bytes.Equal(seed, fs) {
			found = append(found, "--nats-seed is fixtures/nkeys/"+n.Name())
		}
		if kp, err := nkeys.FromSeed(fs); err == nil {
			if pub, err := kp.PublicKey(); err == nil {
				fixturePub[pub] = n.Name()
			}
		}
	}
	if m.dir != nil {
		if f, ok := fixturePub[m.dir.Gateway]; ok {
			found = append(found, "the insurer directory's gateway_nkey is fixtures/nkeys/"+f)
		}
		for _, in := range m.dir.Insurers {
			if f, ok := fixturePub[in.NKey]; ok {
				found = append(found, "insurer "+in.ID+"'s nkey is fixtures/nkeys/"+f)
			}
		}
	}
	if m.TLSKey != "" {
		if b, err := os.ReadFile(m.TLSKey); err == nil {
			if fk, err := fixtures.ReadFile("pki/server.key"); err == nil && bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(fk)) {
				found = append(found, "--tls-key is fixtures/pki/server.key")
			}
		}
	}
	if len(found) > 0 {
		return cli.WithHint(fmt.Errorf("refusing to start with the fixtures' public keys: %s", strings.Join(found, "; ")),
			"make keys of your own (docs/operations.md, \"Keys at rest\"); the fixtures' keys are for --dev only")
	}
	return nil
}

// pinned is a TLS client configuration that accepts exactly cert.
func pinned(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the exact comparison below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, cert.Certificate[0]) {
				return errors.New("NATS: not the embedded server's certificate")
			}
			return nil
		},
	}
}

// storeCipher is the embedded server's cipher for --store-cipher ("none"
// leaves the key empty instead).
func storeCipher(flag string) string {
	if flag == "none" {
		return ""
	}
	return flag
}
