package signature

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TrustStore holds the roots, the intermediates and the CRLs a verifier
// trusts, and caches chain results per certificate. It is safe for
// concurrent use; CRLs may be replaced while verifications run.
//
// The zero value trusts nothing. Fields must be set before first use.
type TrustStore struct {
	// Now is the clock revocation freshness is judged by; nil means time.Now.
	Now func() time.Time
	// MaxCRLAge makes a CRL stale once its thisUpdate is older than this,
	// even before its nextUpdate. Zero means only nextUpdate counts.
	MaxCRLAge time.Duration
	// HTTPClient fetches CRLs by URL; nil means a client with a 10 s timeout.
	HTTPClient *http.Client

	roots, inter *x509.CertPool
	cas          map[string][]*x509.Certificate // by raw subject: roots and intermediates

	mu      sync.RWMutex
	crls    map[string]*crlState // by raw issuer subject
	crlURLs map[string]string    // URL -> raw issuer subject, after a first fetch

	certs  sync.Map // [32]byte (SHA-256 of the KeyInfo text or DER) -> *certEntry
	ncerts atomic.Int64
}

type crlState struct {
	thisUpdate, nextUpdate time.Time
	revoked                map[string]time.Time // serial bytes -> revocation time
	url                    string
	fetched                time.Time
}

type certEntry struct {
	cert  *x509.Certificate
	mu    sync.Mutex
	chain []*x509.Certificate // nil until a chain was built
}

// maxCachedCerts bounds the certificate cache; it is cleared when full.
const maxCachedCerts = 50000

// NewTrustStore makes a store from roots and intermediates.
func NewTrustStore(roots, intermediates []*x509.Certificate) *TrustStore {
	s := &TrustStore{roots: x509.NewCertPool(), inter: x509.NewCertPool(), cas: map[string][]*x509.Certificate{}, crls: map[string]*crlState{}}
	for _, c := range roots {
		s.roots.AddCert(c)
		s.cas[string(c.RawSubject)] = append(s.cas[string(c.RawSubject)], c)
	}
	for _, c := range intermediates {
		s.inter.AddCert(c)
		s.cas[string(c.RawSubject)] = append(s.cas[string(c.RawSubject)], c)
	}
	return s
}

// LoadDir reads a trust directory: every *.crt, *.pem or *.cer file holds
// certificates (self-signed ones are roots, the others intermediates) and
// every *.crl file a CRL (PEM or DER), checked against the CAs loaded.
// Keys and other files are ignored.
func LoadDir(dir string) (*TrustStore, error) {
	return LoadFS(os.DirFS(dir), ".")
}

// LoadFS is LoadDir over an fs.FS (e.g. the embedded fixtures), reading the
// files of directory dir, or the named files when names are given.
func LoadFS(fsys fs.FS, dir string, names ...string) (*TrustStore, error) {
	if len(names) == 0 {
		ents, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return nil, fmt.Errorf("load trust store: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	var roots, inter []*x509.Certificate
	var crls [][]byte
	for _, n := range names {
		p := filepath.ToSlash(filepath.Join(dir, n))
		switch strings.ToLower(filepath.Ext(n)) {
		case ".crt", ".pem", ".cer":
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil, fmt.Errorf("load trust store: %w", err)
			}
			certs, err := ParseCertificates(b)
			if err != nil {
				return nil, fmt.Errorf("load trust store: %s: %w", n, err)
			}
			for _, c := range certs {
				if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
					roots = append(roots, c)
				} else {
					inter = append(inter, c)
				}
			}
		case ".crl":
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil, fmt.Errorf("load trust store: %w", err)
			}
			crls = append(crls, b)
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("load trust store: no root certificate in %s", dir)
	}
	s := NewTrustStore(roots, inter)
	for i, b := range crls {
		if err := s.AddCRL(b, ""); err != nil {
			return nil, fmt.Errorf("load trust store: CRL %d: %w", i+1, err)
		}
	}
	return s, nil
}

// ParseCertificates reads PEM (one or more CERTIFICATE blocks) or DER.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		return x509.ParseCertificates(b)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate found")
	}
	return out, nil
}

// AddCRL adds or replaces the CRL of one of the store's CAs (PEM or DER).
// The CRL's signature is checked against that CA. An older CRL (lower
// thisUpdate) never replaces a newer one.
func (s *TrustStore) AddCRL(b []byte, url string) error {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	rl, err := x509.ParseRevocationList(b)
	if err != nil {
		return fmt.Errorf("parse CRL: %w", err)
	}
	var issuer *x509.Certificate
	for _, ca := range s.cas[string(rl.RawIssuer)] {
		if rl.CheckSignatureFrom(ca) == nil {
			issuer = ca
			break
		}
	}
	if issuer == nil {
		return fmt.Errorf("CRL of %q is not signed by a CA of the trust store", rl.Issuer.CommonName)
	}
	st := &crlState{thisUpdate: rl.ThisUpdate, nextUpdate: rl.NextUpdate, revoked: map[string]time.Time{}, url: url, fetched: s.now()}
	for _, e := range rl.RevokedCertificateEntries {
		st.revoked[string(e.SerialNumber.Bytes())] = e.RevocationTime
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := string(rl.RawIssuer)
	if old := s.crls[key]; old != nil && old.thisUpdate.After(st.thisUpdate) {
		return nil
	}
	s.crls[key] = st
	if url != "" {
		if s.crlURLs == nil {
			s.crlURLs = map[string]string{}
		}
		s.crlURLs[url] = key
	}
	return nil
}

// FetchCRL downloads a CRL over HTTP and adds it. When the CRL already held
// for that URL is fresh (before its nextUpdate and, with MaxCRLAge, fetched
// less than MaxCRLAge/2 ago) nothing is fetched.
func (s *TrustStore) FetchCRL(ctx context.Context, url string) error {
	s.mu.RLock()
	if key, ok := s.crlURLs[url]; ok {
		st := s.crls[key]
		now := s.now()
		fresh := st != nil && now.Before(st.nextUpdate) && (s.MaxCRLAge == 0 || now.Sub(st.fetched) < s.MaxCRLAge/2)
		if fresh {
			s.mu.RUnlock()
			return nil
		}
	}
	s.mu.RUnlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch CRL: %w", err)
	}
	client := s.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch CRL: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch CRL %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("fetch CRL: %w", err)
	}
	if err := s.AddCRL(b, url); err != nil {
		return fmt.Errorf("fetch CRL %s: %w", url, err)
	}
	return nil
}

// RefreshCRLs fetches every CRL URL given (or already known) that is due.
// It returns the first error but tries them all.
func (s *TrustStore) RefreshCRLs(ctx context.Context, urls ...string) error {
	if len(urls) == 0 {
		s.mu.RLock()
		for u := range s.crlURLs {
			urls = append(urls, u)
		}
		s.mu.RUnlock()
	}
	var first error
	for _, u := range urls {
		if err := s.FetchCRL(ctx, u); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *TrustStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// certificate parses (or finds in the cache) the base64 DER text of a
// KeyInfo X509Certificate.
func (s *TrustStore) certificate(b64 string) (*certEntry, error) {
	key := sha256.Sum256([]byte(b64))
	if e, ok := s.certs.Load(key); ok {
		return e.(*certEntry), nil
	}
	der, err := base64.StdEncoding.DecodeString(stripSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("certificate is not base64: %w", err)
	}
	return s.certificateDER(key, der)
}

func (s *TrustStore) certificateDER(key [32]byte, der []byte) (*certEntry, error) {
	if e, ok := s.certs.Load(key); ok {
		return e.(*certEntry), nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	if s.ncerts.Add(1) > maxCachedCerts {
		s.certs.Clear()
		s.ncerts.Store(1)
	}
	e, _ := s.certs.LoadOrStore(key, &certEntry{cert: c})
	return e.(*certEntry), nil
}

// checkCert checks a signer or client certificate: chain to a root, every
// certificate of the chain valid at t, revocation (now) of every
// non-root certificate. It returns problems, never an error.
func (s *TrustStore) checkCert(e *certEntry, t time.Time, eku x509.ExtKeyUsage) []Problem {
	if s == nil || s.roots == nil {
		return []Problem{problem(CodeCertUntrusted, "", "no trust store configured")}
	}
	e.mu.Lock()
	chain := e.chain
	e.mu.Unlock()
	if chain == nil {
		chains, err := e.cert.Verify(x509.VerifyOptions{
			Roots: s.roots, Intermediates: s.inter, CurrentTime: t,
			KeyUsages: []x509.ExtKeyUsage{eku},
		})
		if err != nil {
			var inv x509.CertificateInvalidError
			if errors.As(err, &inv) && inv.Reason == x509.Expired {
				return []Problem{problem(CodeCertExpired, "", "certificate not valid at %s", t.UTC().Format(time.RFC3339))}
			}
			if errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage {
				return []Problem{problem(CodeKeyUsage, "", "extended key usage does not allow this use")}
			}
			return []Problem{problem(CodeCertUntrusted, "", "certificate does not chain to a trusted root")}
		}
		chain = chains[0]
		if eku == x509.ExtKeyUsageAny {
			e.mu.Lock()
			e.chain = chain
			e.mu.Unlock()
		}
	}
	var ps []Problem
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			ps = append(ps, problem(CodeCertExpired, "", "certificate %q not valid at %s", c.Subject.CommonName, t.UTC().Format(time.RFC3339)))
			break
		}
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range chain[:len(chain)-1] {
		st := s.crls[string(c.RawIssuer)]
		if st == nil {
			ps = append(ps, problem(CodeCRLUnavailable, "", "no CRL for issuer %q", c.Issuer.CommonName))
			continue
		}
		if _, revoked := st.revoked[string(c.SerialNumber.Bytes())]; revoked {
			ps = append(ps, problem(CodeCertRevoked, "", "certificate %q is revoked", c.Subject.CommonName))
			continue
		}
		if now.After(st.nextUpdate) || (s.MaxCRLAge > 0 && now.Sub(st.thisUpdate) > s.MaxCRLAge) {
			ps = append(ps, problem(CodeCRLStale, "", "CRL of %q was issued %s, next update %s", c.Issuer.CommonName,
				st.thisUpdate.UTC().Format(time.RFC3339), st.nextUpdate.UTC().Format(time.RFC3339)))
		}
	}
	return ps
}

// VerifyClient checks a TLS client certificate chain as presented in the
// handshake (rawCerts[0] is the leaf): chain to the store's roots, validity
// now, revocation, key usage digitalSignature and extended key usage
// clientAuth, and a national id (SIGNER_ID_MISSING without). It returns
// who authenticated. It fits
// tls.Config.VerifyPeerCertificate (ignore the identity there) or a check
// after the handshake with the connection state's PeerCertificates.
func (s *TrustStore) VerifyClient(rawCerts [][]byte) (Identity, error) {
	if len(rawCerts) == 0 {
		return Identity{}, &VerifyError{Problems: []Problem{problem(CodeCertUntrusted, "", "no client certificate")}}
	}
	e, err := s.certificateDER(sha256.Sum256(rawCerts[0]), rawCerts[0])
	if err != nil {
		return Identity{}, &VerifyError{Problems: []Problem{problem(CodeCertUntrusted, "", "%v", err)}}
	}
	id := IdentityOf(e.cert)
	var ps []Problem
	if e.cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		ps = append(ps, problem(CodeKeyUsage, "", "client certificate lacks digitalSignature"))
	}
	ps = append(ps, s.checkCert(e, s.now(), x509.ExtKeyUsageClientAuth)...)
	if id.NationalID == "" {
		// A trusted certificate that names nobody authenticates nobody.
		ps = append(ps, problem(CodeSignerIDMissing, "", "client certificate carries no national id"))
	}
	if len(ps) > 0 {
		return id, &VerifyError{Problems: ps}
	}
	return id, nil
}

func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
