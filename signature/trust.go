package signature

import (
	"bytes"
	"context"
	"crypto"
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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TrustStore holds the roots, the intermediates and the CRLs a verifier
// trusts, and caches chain results per certificate and usage. It is safe
// for concurrent use; CRLs and the certificates themselves (ReloadFS) may
// be replaced while verifications run.
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

	mu      sync.RWMutex
	anchors *anchors              // replaced whole by ReloadFS
	crls    map[string]*crlState  // by raw issuer subject
	sources map[string]*crlSource // by URL: distribution points and URLs fetched

	certs  sync.Map // certKey -> *certEntry
	ncerts atomic.Int64
}

// anchors are the store's certificates; never modified once built.
type anchors struct {
	roots, inter *x509.CertPool
	cas          map[string][]*x509.Certificate // by raw subject: roots and intermediates
}

type crlState struct {
	ca                     *x509.Certificate // the CA whose key signed it
	issuer                 string            // its distinguished name
	thisUpdate, nextUpdate time.Time
	revoked                map[string]time.Time // serial bytes -> revocation time
	url                    string
	fetched                time.Time
}

// crlSource is a URL CRLs are fetched from.
type crlSource struct {
	// ca is the raw subject of the CA that publishes there, when the URL
	// was learnt from a certificate's CRL distribution points ("" for a
	// URL given by the caller).
	ca string
	// etag, lastModified and thisUpdate are those of the last CRL it
	// served, for conditional requests.
	etag, lastModified string
	key                string // raw issuer subject of that CRL
	thisUpdate         time.Time
}

type certEntry struct {
	cert   *x509.Certificate
	mu     sync.Mutex
	chains map[x509.ExtKeyUsage][]*x509.Certificate // verified chain per usage
}

// maxCachedCerts bounds the certificate cache; it is cleared when full.
const maxCachedCerts = 50000

// maxCRLSources bounds the CRL URLs the store learns from certificates.
const maxCRLSources = 256

// NewTrustStore makes a store from roots and intermediates.
func NewTrustStore(roots, intermediates []*x509.Certificate) *TrustStore {
	s := &TrustStore{anchors: newAnchors(roots, intermediates), crls: map[string]*crlState{}}
	s.learnDistributionPoints(s.anchors.all()...)
	return s
}

func newAnchors(roots, intermediates []*x509.Certificate) *anchors {
	a := &anchors{roots: x509.NewCertPool(), inter: x509.NewCertPool(), cas: map[string][]*x509.Certificate{}}
	for _, c := range roots {
		a.roots.AddCert(c)
		a.cas[string(c.RawSubject)] = append(a.cas[string(c.RawSubject)], c)
	}
	for _, c := range intermediates {
		a.inter.AddCert(c)
		a.cas[string(c.RawSubject)] = append(a.cas[string(c.RawSubject)], c)
	}
	return a
}

func (a *anchors) all() []*x509.Certificate {
	var out []*x509.Certificate
	for _, cs := range a.cas {
		out = append(out, cs...)
	}
	return out
}

// holdsKey reports whether one of the CAs has c's subject and key (a CA
// certificate issued again keeps the CRLs its key signed).
func (a *anchors) holdsKey(c *x509.Certificate) bool {
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	for _, ca := range a.cas[string(c.RawSubject)] {
		if pub.Equal(ca.PublicKey) {
			return true
		}
	}
	return false
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
	roots, inter, crls, err := readTrustFS(fsys, dir, names)
	if err != nil {
		return nil, fmt.Errorf("load trust store: %w", err)
	}
	s := NewTrustStore(roots, inter)
	for i, b := range crls {
		if err := s.AddCRL(b, ""); err != nil {
			return nil, fmt.Errorf("load trust store: CRL %d: %w", i+1, err)
		}
	}
	return s, nil
}

// ReloadDir is ReloadFS of a directory.
func (s *TrustStore) ReloadDir(dir string) error {
	return s.ReloadFS(os.DirFS(dir), ".")
}

// ReloadFS reads a trust directory again, as LoadFS does, and makes its
// certificates the store's roots and intermediates. The store keeps its
// settings, the CRLs of the CAs still there (same subject and key; one of
// the directory replaces one held only when newer, as in AddCRL: a CRL
// fetched since the files were written stays) and the CRL URLs of those
// CAs. CRLs and URLs of CAs no longer there are dropped, and so are the
// cached chains. On error the store is left as it was.
func (s *TrustStore) ReloadFS(fsys fs.FS, dir string, names ...string) error {
	roots, inter, crls, err := readTrustFS(fsys, dir, names)
	if err != nil {
		return fmt.Errorf("reload trust store: %w", err)
	}
	a := newAnchors(roots, inter)
	states := make([]*crlState, len(crls))
	for i, b := range crls {
		if states[i], err = a.parseCRL(b, "", s.now()); err != nil {
			return fmt.Errorf("reload trust store: CRL %d: %w", i+1, err)
		}
	}
	s.mu.Lock()
	s.anchors = a
	for key, st := range s.crls {
		if !a.holdsKey(st.ca) {
			delete(s.crls, key)
		}
	}
	for _, st := range states {
		s.putCRLLocked(st)
	}
	for u, src := range s.sources {
		if (src.ca != "" && a.cas[src.ca] == nil) || (src.key != "" && a.cas[src.key] == nil) {
			delete(s.sources, u) // a URL of a CA no longer there
		}
	}
	s.mu.Unlock()
	s.learnDistributionPoints(a.all()...)
	s.certs.Clear()
	s.ncerts.Store(0)
	return nil
}

// readTrustFS reads the certificates and CRLs of a trust directory.
func readTrustFS(fsys fs.FS, dir string, names []string) (roots, inter []*x509.Certificate, crls [][]byte, err error) {
	if len(names) == 0 {
		ents, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, e := range ents {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	for _, n := range names {
		p := filepath.ToSlash(filepath.Join(dir, n))
		switch strings.ToLower(filepath.Ext(n)) {
		case ".crt", ".pem", ".cer":
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil, nil, nil, err
			}
			certs, err := ParseCertificates(b)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", n, err)
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
				return nil, nil, nil, err
			}
			crls = append(crls, b)
		}
	}
	if len(roots) == 0 {
		return nil, nil, nil, fmt.Errorf("no root certificate in %s", dir)
	}
	return roots, inter, crls, nil
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
// thisUpdate) never replaces a newer one. url says where it came from
// ("" for a file).
func (s *TrustStore) AddCRL(b []byte, url string) error {
	st, err := s.anchorsNow().parseCRL(b, url, s.now())
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putCRLLocked(st)
	return nil
}

// parseCRL parses a CRL and checks its signature against one of the CAs.
func (a *anchors) parseCRL(b []byte, url string, now time.Time) (*crlState, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	rl, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("parse CRL: %w", err)
	}
	var issuer *x509.Certificate
	if a != nil {
		for _, ca := range a.cas[string(rl.RawIssuer)] {
			if rl.CheckSignatureFrom(ca) == nil {
				issuer = ca
				break
			}
		}
	}
	if issuer == nil {
		return nil, fmt.Errorf("CRL of %q is not signed by a CA of the trust store", rl.Issuer.CommonName)
	}
	st := &crlState{ca: issuer, issuer: rl.Issuer.String(), thisUpdate: rl.ThisUpdate, nextUpdate: rl.NextUpdate,
		revoked: make(map[string]time.Time, len(rl.RevokedCertificateEntries)), url: url, fetched: now}
	for _, e := range rl.RevokedCertificateEntries {
		st.revoked[string(e.SerialNumber.Bytes())] = e.RevocationTime
	}
	return st, nil
}

// putCRLLocked keeps st unless the CRL held for its CA is newer.
func (s *TrustStore) putCRLLocked(st *crlState) {
	key := string(st.ca.RawSubject)
	if old := s.crls[key]; old != nil && old.thisUpdate.After(st.thisUpdate) {
		return
	}
	if s.crls == nil {
		s.crls = map[string]*crlState{}
	}
	s.crls[key] = st
}

func (s *TrustStore) anchorsNow() *anchors {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.anchors
}

// FetchCRL downloads a CRL over HTTP and adds it (AddCRL: an older one
// than held is ignored). When the URL served the CRL the store holds, the
// request is conditional (If-None-Match, If-Modified-Since) and a 304 keeps
// it. On any error the CRL held stays.
func (s *TrustStore) FetchCRL(ctx context.Context, url string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch CRL: %w", err)
	}
	s.mu.RLock()
	if src := s.sources[url]; src != nil && src.key != "" {
		if st := s.crls[src.key]; st != nil && !st.thisUpdate.Before(src.thisUpdate) {
			if src.etag != "" {
				req.Header.Set("If-None-Match", src.etag)
			}
			if src.lastModified != "" {
				req.Header.Set("If-Modified-Since", src.lastModified)
			}
		}
	}
	s.mu.RUnlock()
	client := s.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch CRL: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		if req.Header.Get("If-None-Match") != "" || req.Header.Get("If-Modified-Since") != "" {
			return nil
		}
		return fmt.Errorf("fetch CRL %s: HTTP 304 to an unconditional request", url)
	case http.StatusOK:
	default:
		return fmt.Errorf("fetch CRL %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("fetch CRL %s: %w", url, err)
	}
	st, err := s.anchorsNow().parseCRL(b, url, s.now())
	if err != nil {
		return fmt.Errorf("fetch CRL %s: %w", url, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putCRLLocked(st)
	if s.sources == nil {
		s.sources = map[string]*crlSource{}
	}
	src := s.sources[url]
	if src == nil {
		src = &crlSource{}
		s.sources[url] = src
	}
	src.etag, src.lastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	src.key, src.thisUpdate = string(st.ca.RawSubject), st.thisUpdate
	return nil
}

// RefreshCRLs fetches, every time it is called, the CRLs of the URLs given
// and of every URL the store knows: the CRL distribution points (HTTP) of
// its CAs' certificates and of the certificates it has verified, and the
// URLs fetched before. It tries them all and returns their errors joined
// (errors.Join); a failed fetch keeps the CRL held, until its nextUpdate
// makes it stale (CRL_STALE). The caller chooses how often to call it.
func (s *TrustStore) RefreshCRLs(ctx context.Context, urls ...string) error {
	seen := map[string]bool{}
	var all []string
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			all = append(all, u)
		}
	}
	for _, u := range urls {
		add(u)
	}
	for _, u := range s.CRLSources() {
		add(u)
	}
	var errs []error
	for _, u := range all {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("refresh CRLs: %w", err))...)
		}
		if err := s.FetchCRL(ctx, u); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// learnDistributionPoints remembers the HTTP CRL distribution points of
// certificates: the URLs where their issuers publish their CRLs.
func (s *TrustStore) learnDistributionPoints(certs ...*x509.Certificate) {
	var todo []*x509.Certificate
	s.mu.RLock()
	for _, c := range certs {
		for _, u := range c.CRLDistributionPoints {
			if s.sources[u] == nil && isHTTP(u) {
				todo = append(todo, c)
				break
			}
		}
	}
	s.mu.RUnlock()
	if len(todo) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sources == nil {
		s.sources = map[string]*crlSource{}
	}
	for _, c := range todo {
		for _, u := range c.CRLDistributionPoints {
			if s.sources[u] == nil && isHTTP(u) && len(s.sources) < maxCRLSources {
				s.sources[u] = &crlSource{ca: string(c.RawIssuer)}
			}
		}
	}
}

func isHTTP(u string) bool {
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")
}

// CRLInfo describes a CRL the store holds.
type CRLInfo struct {
	Issuer     string    // distinguished name of the CA that issued it
	ThisUpdate time.Time // when the CA issued it
	NextUpdate time.Time // when it becomes stale (CRL_STALE)
	Revoked    int       // certificates it lists
	URL        string    // where it was fetched from; "" for a file
	Added      time.Time // when the store took it (its clock)
}

// CRLs lists the CRLs the store holds, by issuer.
func (s *TrustStore) CRLs() []CRLInfo {
	s.mu.RLock()
	out := make([]CRLInfo, 0, len(s.crls))
	for _, st := range s.crls {
		out = append(out, CRLInfo{Issuer: st.issuer, ThisUpdate: st.thisUpdate, NextUpdate: st.nextUpdate,
			Revoked: len(st.revoked), URL: st.url, Added: st.fetched})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b CRLInfo) int { return strings.Compare(a.Issuer, b.Issuer) })
	return out
}

// CRLSources lists the URLs RefreshCRLs fetches besides those it is given.
func (s *TrustStore) CRLSources() []string {
	s.mu.RLock()
	out := make([]string, 0, len(s.sources))
	for u := range s.sources {
		out = append(out, u)
	}
	s.mu.RUnlock()
	slices.Sort(out)
	return out
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

// checkCert checks a signer or client certificate for a usage: chain to a
// root allowing that extended key usage, every certificate of the chain
// valid at t, revocation (now) of every non-root certificate. The chain is
// cached per certificate and usage: one verified for a signature (any
// usage) says nothing of TLS client authentication. It returns problems,
// never an error.
func (s *TrustStore) checkCert(e *certEntry, t time.Time, eku x509.ExtKeyUsage) []Problem {
	a := s.anchorsNow()
	if a == nil {
		return []Problem{newProblem(CodeCertUntrusted, "", "no trust store configured")}
	}
	e.mu.Lock()
	chain := e.chains[eku]
	e.mu.Unlock()
	if chain == nil {
		chains, err := e.cert.Verify(x509.VerifyOptions{
			Roots: a.roots, Intermediates: a.inter, CurrentTime: t,
			KeyUsages: []x509.ExtKeyUsage{eku},
		})
		if err != nil {
			var inv x509.CertificateInvalidError
			if errors.As(err, &inv) && inv.Reason == x509.Expired {
				return []Problem{newProblem(CodeCertExpired, "", "certificate not valid at %s", t.UTC().Format(time.RFC3339))}
			}
			if errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage {
				return []Problem{newProblem(CodeKeyUsage, "", "extended key usage does not allow this use")}
			}
			return []Problem{newProblem(CodeCertUntrusted, "", "certificate does not chain to a trusted root")}
		}
		chain = chains[0]
		e.mu.Lock()
		if e.chains == nil {
			e.chains = map[x509.ExtKeyUsage][]*x509.Certificate{}
		}
		e.chains[eku] = chain
		e.mu.Unlock()
		s.learnDistributionPoints(chain[:len(chain)-1]...)
	}
	var ps []Problem
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			ps = append(ps, newProblem(CodeCertExpired, "", "certificate %q not valid at %s", c.Subject.CommonName, t.UTC().Format(time.RFC3339)))
			break
		}
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range chain[:len(chain)-1] {
		st := s.crls[string(c.RawIssuer)]
		if st == nil {
			ps = append(ps, newProblem(CodeCRLUnavailable, "", "no CRL for issuer %q", c.Issuer.CommonName))
			continue
		}
		if _, revoked := st.revoked[string(c.SerialNumber.Bytes())]; revoked {
			ps = append(ps, newProblem(CodeCertRevoked, "", "certificate %q is revoked", c.Subject.CommonName))
			continue
		}
		if now.After(st.nextUpdate) || (s.MaxCRLAge > 0 && now.Sub(st.thisUpdate) > s.MaxCRLAge) {
			ps = append(ps, newProblem(CodeCRLStale, "", "CRL of %q was issued %s, next update %s", c.Issuer.CommonName,
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
		return Identity{}, &VerifyError{Problems: []Problem{newProblem(CodeCertUntrusted, "", "no client certificate")}}
	}
	e, err := s.certificateDER(sha256.Sum256(rawCerts[0]), rawCerts[0])
	if err != nil {
		return Identity{}, &VerifyError{Problems: []Problem{newProblem(CodeCertUntrusted, "", "%v", err)}}
	}
	id := IdentityOf(e.cert)
	var ps []Problem
	if e.cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		ps = append(ps, newProblem(CodeKeyUsage, "", "client certificate lacks digitalSignature"))
	}
	ps = append(ps, s.checkCert(e, s.now(), x509.ExtKeyUsageClientAuth)...)
	if id.NationalID == "" {
		// A trusted certificate that names nobody authenticates nobody.
		ps = append(ps, newProblem(CodeSignerIDMissing, "", "client certificate carries no national id"))
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
