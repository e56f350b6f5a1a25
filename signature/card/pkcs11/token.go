package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/fsegate/fsegate/signature/card"
)

// Config configures Open. Module is required; the zero value of the rest
// takes the one token present, its keys found by their certificates, and
// asks no PIN (signing fails with card.ErrNoPIN).
type Config struct {
	// Module is the path of the PKCS#11 module: the ANS's Cryptolib CPS
	// (libcps3_pkcs11_lux.so), OpenSC's opensc-pkcs11.so, SoftHSM2's
	// libsofthsm2.so.
	Module string
	// Token names the token (token, serial, manufacturer, model, slot-id,
	// slot-description). Zero: the only token present; with several, Open
	// fails and lists them.
	Token URI
	// SignatureKey and AuthenticationKey name the keys (object = label,
	// id). Zero: the signature key is the private key whose certificate
	// has the nonRepudiation usage, the authentication key the one whose
	// certificate has digitalSignature without nonRepudiation, paired by
	// CKA_ID.
	SignatureKey, AuthenticationKey URI
	// PIN is asked when a key needs the user to be logged in, unless the
	// token has a protected authentication path (a PIN pad), which asks
	// itself.
	PIN card.PINPrompt
}

// ErrKeyNotOffered: the module does not sign with that key the way the
// CPS needs (OpenSC cannot run the CPx's PSO HASH: CKR_FUNCTION_NOT_SUPPORTED).
var ErrKeyNotOffered = errors.New("the PKCS#11 module does not sign with the card's signature key (OpenSC cannot run a CPS's PSO HASH): use the ANS's Cryptolib CPS module, or the PC/SC backend (no --pkcs11)")

// ErrModule: the module cannot be loaded or initialised.
var ErrModule = errors.New("PKCS#11 module")

// Token is a CPS card (or any token holding a CPS's keys and certificates)
// behind a PKCS#11 module. It implements card.Token; its methods are safe
// for concurrent use, one operation at a time.
type Token struct {
	mod    *module
	slot   uint
	where  string
	flags  uint // token flags at Open
	mechs  map[uint]bool
	prompt card.PINPrompt
	cfg    Config

	mu       sync.Mutex
	sh       p11.SessionHandle
	loggedIn bool
	closed   bool
	sig      keyRef
	auth     keyRef
}

// keyRef is a key found by its certificate.
type keyRef struct {
	uri    URI
	cert   *x509.Certificate
	id     []byte
	handle p11.ObjectHandle
	found  bool
	always bool // CKA_ALWAYS_AUTHENTICATE: a context-specific login per signature
}

var _ card.Token = (*Token)(nil)

// Open loads cfg.Module (once per process), finds the token and reads its
// certificates; no PIN is asked.
func Open(ctx context.Context, cfg Config) (*Token, error) {
	if cfg.Module == "" {
		cfg.Module = cfg.Token.ModulePath
	}
	if cfg.Module == "" {
		return nil, fmt.Errorf("%w: no module given", ErrModule)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := loadModule(cfg.Module)
	if err != nil {
		return nil, err
	}
	t, err := open(m, cfg)
	if err != nil {
		m.release()
		return nil, err
	}
	return t, nil
}

func open(m *module, cfg Config) (*Token, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: list slots: %w", mapErr(err))
	}
	var found []uint
	var names []string
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil || ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue // SoftHSM2 shows an empty token to initialise
		}
		si, _ := m.ctx.GetSlotInfo(s)
		names = append(names, describe(s, ti))
		if matchToken(cfg.Token, s, ti, si) {
			found = append(found, s)
		}
	}
	switch {
	case len(found) == 0 && len(slots) == 0:
		return nil, fmt.Errorf("pkcs11: %s shows no token: %w", m.path, card.ErrNoCard)
	case len(found) == 0:
		return nil, fmt.Errorf("pkcs11: no token matches the URI among %s: %w", strings.Join(names, ", "), card.ErrNoCard)
	case len(found) > 1:
		return nil, fmt.Errorf("pkcs11: %d tokens match (%s): name one with a pkcs11: URI (token=, serial= or slot-id=)", len(found), strings.Join(names, ", "))
	}
	slot := found[0]
	ti, err := m.ctx.GetTokenInfo(slot)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token info: %w", mapErr(err))
	}
	t := &Token{mod: m, slot: slot, flags: ti.Flags, prompt: cfg.PIN, cfg: cfg, mechs: map[uint]bool{},
		where: m.path + ": " + describe(slot, ti)}
	if ms, err := m.ctx.GetMechanismList(slot); err == nil {
		for _, mech := range ms {
			t.mechs[mech.Mechanism] = true
		}
	}
	if t.sh, err = m.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION); err != nil {
		return nil, fmt.Errorf("pkcs11: open a session: %w", mapErr(err))
	}
	if err := t.loadCerts(); err != nil {
		m.ctx.CloseSession(t.sh)
		return nil, err
	}
	return t, nil
}

func describe(slot uint, ti p11.TokenInfo) string {
	return fmt.Sprintf("token %q (%s, serial %s) in slot %d", strings.TrimSpace(ti.Label), strings.TrimSpace(ti.ManufacturerID), strings.TrimSpace(ti.SerialNumber), slot)
}

func matchToken(u URI, slot uint, ti p11.TokenInfo, si p11.SlotInfo) bool {
	eq := func(want, got string) bool { return want == "" || want == strings.TrimSpace(got) }
	return eq(u.Token, ti.Label) && eq(u.Serial, ti.SerialNumber) && eq(u.Manufacturer, ti.ManufacturerID) &&
		eq(u.Model, ti.Model) && eq(u.SlotDescription, si.SlotDescription) && eq(u.SlotManufacturer, si.ManufacturerID) &&
		eq(u.SlotID, strconv.FormatUint(uint64(slot), 10))
}

// loadCerts reads the token's certificates and picks the signature and
// authentication ones.
func (t *Token) loadCerts() error {
	type obj struct {
		cert  *x509.Certificate
		id    []byte
		label string
	}
	hs, err := t.find(p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE))
	if err != nil {
		return err
	}
	var certs []obj
	for _, h := range hs {
		as, err := t.mod.ctx.GetAttributeValue(t.sh, h, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_VALUE, nil), p11.NewAttribute(p11.CKA_ID, nil), p11.NewAttribute(p11.CKA_LABEL, nil)})
		if err != nil {
			continue
		}
		c, err := x509.ParseCertificate(as[0].Value)
		if err != nil {
			continue
		}
		certs = append(certs, obj{c, as[1].Value, string(as[2].Value)})
	}
	pick := func(u URI, usage func(*x509.Certificate) bool, what string) (keyRef, error) {
		var got []obj
		for _, o := range certs {
			switch {
			case u.ID != nil:
				if bytes.Equal(o.id, u.ID) {
					got = append(got, o)
				}
			case u.Object != "":
				// a key's label: its certificate is found once the key is
				got = append(got, o)
			case usage(o.cert):
				got = append(got, o)
			}
		}
		if u.Object != "" && u.ID == nil {
			return keyRef{uri: u}, nil
		}
		if len(got) != 1 {
			return keyRef{}, fmt.Errorf("pkcs11: %s: %d certificates fit the %s key (want 1): name it with a pkcs11: URI (id=)", t.where, len(got), what)
		}
		return keyRef{uri: u, cert: got[0].cert, id: got[0].id}, nil
	}
	nonRep := func(c *x509.Certificate) bool { return c.KeyUsage&x509.KeyUsageContentCommitment != 0 }
	authUse := func(c *x509.Certificate) bool {
		return c.KeyUsage&x509.KeyUsageDigitalSignature != 0 && c.KeyUsage&x509.KeyUsageContentCommitment == 0
	}
	if t.sig, err = pick(t.cfg.SignatureKey, nonRep, "signature"); err != nil {
		return err
	}
	if t.auth, err = pick(t.cfg.AuthenticationKey, authUse, "authentication"); err != nil {
		return err
	}
	for _, k := range []*keyRef{&t.sig, &t.auth} {
		if k.cert != nil {
			continue
		}
		// named by label only: the key's CKA_ID gives the certificate
		if err := t.findKey(k); err != nil {
			return err
		}
		for _, o := range certs {
			if bytes.Equal(o.id, k.id) {
				k.cert = o.cert
			}
		}
		if k.cert == nil {
			return fmt.Errorf("pkcs11: %s: no certificate with the id of key %q", t.where, k.uri.Object)
		}
	}
	return nil
}

func (t *Token) find(tmpl ...*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := t.mod.ctx.FindObjectsInit(t.sh, tmpl); err != nil {
		return nil, fmt.Errorf("pkcs11: find objects: %w", mapErr(err))
	}
	defer t.mod.ctx.FindObjectsFinal(t.sh)
	var all []p11.ObjectHandle
	for {
		hs, _, err := t.mod.ctx.FindObjects(t.sh, 32)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: find objects: %w", mapErr(err))
		}
		if len(hs) == 0 {
			return all, nil
		}
		all = append(all, hs...)
	}
}

// findKey finds the private key of k (by its URI, else by its
// certificate's CKA_ID). Private keys may be visible only once logged in.
func (t *Token) findKey(k *keyRef) error {
	tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY)}
	switch {
	case k.uri.ID != nil:
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_ID, k.uri.ID))
	case k.uri.Object != "":
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_LABEL, k.uri.Object))
	default:
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_ID, k.id))
	}
	if k.uri.ID != nil && k.uri.Object != "" {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_LABEL, k.uri.Object))
	}
	hs, err := t.find(tmpl...)
	if err != nil {
		return err
	}
	if len(hs) != 1 {
		return errNoKey{n: len(hs)}
	}
	as, err := t.mod.ctx.GetAttributeValue(t.sh, hs[0], []*p11.Attribute{
		p11.NewAttribute(p11.CKA_ID, nil), p11.NewAttribute(p11.CKA_ALWAYS_AUTHENTICATE, nil)})
	if err != nil {
		// some modules do not know CKA_ALWAYS_AUTHENTICATE
		as, err = t.mod.ctx.GetAttributeValue(t.sh, hs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, nil)})
		if err != nil {
			return fmt.Errorf("pkcs11: key attributes: %w", mapErr(err))
		}
	}
	k.handle, k.id, k.found = hs[0], as[0].Value, true
	k.always = len(as) > 1 && len(as[1].Value) == 1 && as[1].Value[0] != 0
	return nil
}

type errNoKey struct{ n int }

func (e errNoKey) Error() string {
	return fmt.Sprintf("pkcs11: %d private keys fit (want 1)", e.n)
}

// Backend is card.BackendPKCS11.
func (t *Token) Backend() string { return card.BackendPKCS11 }

// Reader is the module and the token: "/usr/lib/…/opensc-pkcs11.so: token
// "CPS" (…, serial …) in slot 0".
func (t *Token) Reader() string { return t.where }

// Certificates are the signature and authentication certificates.
func (t *Token) Certificates(ctx context.Context) (sig, auth *x509.Certificate, err error) {
	return t.sig.cert, t.auth.cert, nil
}

// Situations: a PKCS#11 token shows no billing situations
// (card.ErrNoSituations).
func (t *Token) Situations(ctx context.Context) ([]card.Situation, error) {
	return nil, card.ErrNoSituations
}

// SetPINPrompt sets the PIN prompt (nil: none).
func (t *Token) SetPINPrompt(p card.PINPrompt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prompt = p
}

// Info is what the token tells without the PIN. PIN.MaxTries is 0 (a
// PKCS#11 module does not say); PIN.TriesLeft is 0 when the PIN is
// locked, 1 on the final try, 2 when the count is low (a CPS has 3), -1
// otherwise.
func (t *Token) Info(ctx context.Context) (*card.Info, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ti, err := t.mod.ctx.GetTokenInfo(t.slot)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token info: %w", mapErr(err))
	}
	return &card.Info{
		Backend: card.BackendPKCS11, Reader: t.where, Model: card.ModelUnknown,
		Holder: card.HolderOf(t.sig.cert), NotBefore: t.sig.cert.NotBefore, NotAfter: t.sig.cert.NotAfter,
		PIN:       card.PINStatus{TriesLeft: triesLeft(ti.Flags), UsageLeft: -1},
		Signature: t.sig.cert, Auth: t.auth.cert,
	}, nil
}

// triesLeft reads the token's PIN flags: 0 locked, 1 final try, 2 count
// low, -1 not said.
func triesLeft(flags uint) int {
	switch {
	case flags&p11.CKF_USER_PIN_LOCKED != 0:
		return 0
	case flags&p11.CKF_USER_PIN_FINAL_TRY != 0:
		return 1
	case flags&p11.CKF_USER_PIN_COUNT_LOW != 0:
		return 2
	}
	return -1
}

// ProtectedAuthenticationPath says whether the token asks the PIN itself
// (a PIN pad): then no prompt is called.
func (t *Token) ProtectedAuthenticationPath() bool {
	return t.flags&p11.CKF_PROTECTED_AUTHENTICATION_PATH != 0
}

// Login asks the PIN and logs the user in.
func (t *Token) Login(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.login(ctx, p11.CKU_USER)
}

func (t *Token) login(ctx context.Context, user uint) error {
	if t.closed {
		return errors.New("pkcs11: token closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ti, err := t.mod.ctx.GetTokenInfo(t.slot)
	if err != nil {
		return fmt.Errorf("pkcs11: token info: %w", mapErr(err))
	}
	if ti.Flags&p11.CKF_USER_PIN_LOCKED != 0 {
		return &card.StatusError{SW: 0x6983, Op: "VERIFY"}
	}
	var pin []byte
	if ti.Flags&p11.CKF_PROTECTED_AUTHENTICATION_PATH == 0 {
		if t.prompt == nil {
			return card.ErrNoPIN
		}
		pin, err = t.prompt(ctx, card.PINRequest{Reader: t.where, Holder: holderName(t.sig.cert), TriesLeft: triesLeft(ti.Flags)})
		if err != nil {
			return err
		}
		defer clear(pin)
	}
	err = t.mod.ctx.Login(t.sh, user, string(pin))
	if pe, ok := err.(p11.Error); ok && pe == p11.CKR_USER_ALREADY_LOGGED_IN {
		err = nil
	}
	if err == nil {
		if user == p11.CKU_USER {
			t.loggedIn = true
		}
		return nil
	}
	if pe, ok := err.(p11.Error); ok && pe == p11.CKR_PIN_INCORRECT {
		after, _ := t.mod.ctx.GetTokenInfo(t.slot)
		switch n := triesLeft(after.Flags); n {
		case 0:
			return &card.StatusError{SW: 0x6983, Op: "VERIFY"}
		case -1:
			return wrongPINUnknownTries{}
		default:
			return &card.StatusError{SW: 0x63C0 | uint16(n), Op: "VERIFY"}
		}
	}
	return fmt.Errorf("pkcs11: login: %w", mapErr(err))
}

func holderName(c *x509.Certificate) string {
	h := card.HolderOf(c)
	return strings.TrimSpace(h.Surname + " " + h.GivenName)
}

// wrongPINUnknownTries is a wrong PIN on a token that does not say how
// many tries are left; it matches card.ErrWrongPIN.
type wrongPINUnknownTries struct{}

func (wrongPINUnknownTries) Error() string {
	return "wrong PIN (the token does not say how many tries are left)"
}
func (wrongPINUnknownTries) Is(target error) bool { return target == card.ErrWrongPIN }

// mapErr maps PKCS#11 return values to the card's errors.
func mapErr(err error) error {
	pe, ok := err.(p11.Error)
	if !ok {
		return err
	}
	switch pe {
	case p11.CKR_PIN_LOCKED:
		return &card.StatusError{SW: 0x6983, Op: "VERIFY"}
	case p11.CKR_DEVICE_REMOVED, p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED:
		return fmt.Errorf("%w (%v)", card.ErrCardRemoved, pe)
	case p11.CKR_USER_NOT_LOGGED_IN:
		return fmt.Errorf("%w (%v)", card.ErrSecurityStatus, pe)
	}
	return err
}

// mapErrPresence is mapErr, and card.ErrCardRemoved when the token has
// left its slot (OpenSC answers CKR_GENERAL_ERROR to a command whose card
// was pulled out).
func (t *Token) mapErrPresence(err error) error {
	if pe, ok := err.(p11.Error); ok && (pe == p11.CKR_GENERAL_ERROR || pe == p11.CKR_DEVICE_ERROR || pe == p11.CKR_FUNCTION_FAILED) {
		_, _ = t.mod.ctx.GetSlotList(true) // OpenSC detects cards again here
		if si, serr := t.mod.ctx.GetSlotInfo(t.slot); serr != nil || si.Flags&p11.CKF_TOKEN_PRESENT == 0 {
			return fmt.Errorf("%w (%v)", card.ErrCardRemoved, pe)
		}
	}
	return mapErr(err)
}

// sign signs data with k and mechanism mech, logging in first when the key
// is not visible or the token says the user is not logged in.
func (t *Token) sign(ctx context.Context, k *keyRef, mech uint, data []byte, isSig bool) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("pkcs11: token closed")
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !t.loggedIn && t.flags&p11.CKF_LOGIN_REQUIRED != 0 {
			if err := t.login(ctx, p11.CKU_USER); err != nil {
				return nil, err
			}
		}
		if !k.found {
			if err := t.findKey(k); err != nil {
				return nil, err
			}
		}
		out, err := t.signOnce(ctx, k, mech, data)
		if pe, ok := err.(p11.Error); ok && attempt == 0 && pe == p11.CKR_USER_NOT_LOGGED_IN {
			t.loggedIn = false
			t.flags |= p11.CKF_LOGIN_REQUIRED
			continue
		}
		if pe, ok := err.(p11.Error); ok && isSig {
			switch pe {
			case p11.CKR_FUNCTION_NOT_SUPPORTED, p11.CKR_MECHANISM_INVALID, p11.CKR_KEY_FUNCTION_NOT_PERMITTED, p11.CKR_KEY_TYPE_INCONSISTENT:
				return nil, fmt.Errorf("%w (%v)", ErrKeyNotOffered, pe)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("pkcs11: sign: %w", t.mapErrPresence(err))
		}
		return out, nil
	}
}

func (t *Token) signOnce(ctx context.Context, k *keyRef, mech uint, data []byte) ([]byte, error) {
	if err := t.mod.ctx.SignInit(t.sh, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, k.handle); err != nil {
		return nil, err
	}
	if k.always {
		if err := t.login(ctx, p11.CKU_CONTEXT_SPECIFIC); err != nil {
			// end the operation the token holds open
			_, _ = t.mod.ctx.Sign(t.sh, nil)
			return nil, err
		}
	}
	return t.mod.ctx.Sign(t.sh, data)
}

// SigningKey is the signature key (card.Key).
func (t *Token) SigningKey(ctx context.Context) (card.Key, error) {
	return &SignatureKey{t: t, ctx: ctx}, nil
}

// TLSCertificate is the authentication key and certificate for TLS 1.2
// client authentication (PKCS#1 v1.5 only, as with the PC/SC backend).
func (t *Token) TLSCertificate(ctx context.Context) (tls.Certificate, error) {
	return card.NewTLSCertificate(t.auth.cert, &AuthenticationKey{t: t, ctx: ctx}), nil
}

// Close logs out (the PIN does not outlive the token) and releases the
// session and the module.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.loggedIn {
		_ = t.mod.ctx.Logout(t.sh)
	}
	err := t.mod.ctx.CloseSession(t.sh)
	t.mod.release()
	if pe, ok := err.(p11.Error); ok && (pe == p11.CKR_SESSION_HANDLE_INVALID || pe == p11.CKR_DEVICE_REMOVED || pe == p11.CKR_TOKEN_NOT_PRESENT) {
		err = nil
	}
	return err
}

// SignatureKey is the token's signature (non-repudiation) key: SHA-256
// with RSA PKCS#1 v1.5, through CKM_SHA256_RSA_PKCS when the token offers
// it, else the host hashes and the token signs the DigestInfo
// (CKM_RSA_PKCS).
type SignatureKey struct {
	t   *Token
	ctx context.Context
}

// Public is the key of the signature certificate.
func (k *SignatureKey) Public() crypto.PublicKey { return k.t.sig.cert.PublicKey }

// Certificate is the signature certificate.
func (k *SignatureKey) Certificate() *x509.Certificate { return k.t.sig.cert }

// SignMessage signs msg with SHA-256 and PKCS#1 v1.5.
func (k *SignatureKey) SignMessage(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := card.CheckSignatureOpts(opts); err != nil {
		return nil, err
	}
	if k.t.mechs[p11.CKM_SHA256_RSA_PKCS] {
		return k.t.sign(k.ctx, &k.t.sig, p11.CKM_SHA256_RSA_PKCS, msg, true)
	}
	sum := sha256.Sum256(msg)
	return k.Sign(nil, sum[:], opts)
}

// Sign signs a SHA-256 digest: the token signs its DigestInfo
// (CKM_RSA_PKCS).
func (k *SignatureKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := card.CheckSignatureOpts(opts); err != nil {
		return nil, err
	}
	di, err := card.DigestInfo(crypto.SHA256, digest)
	if err != nil {
		return nil, err
	}
	return k.t.sign(k.ctx, &k.t.sig, p11.CKM_RSA_PKCS, di, true)
}

// AuthenticationKey is the token's authentication key: PKCS#1 v1.5 over a
// DigestInfo (CKM_RSA_PKCS), RSA-PSS refused (card.ErrPSSNotSupported), as
// a CPS's.
type AuthenticationKey struct {
	t   *Token
	ctx context.Context
}

// Public is the key of the authentication certificate.
func (k *AuthenticationKey) Public() crypto.PublicKey { return k.t.auth.cert.PublicKey }

// Sign signs digest with PKCS#1 v1.5.
func (k *AuthenticationKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if isPSS(opts) {
		return nil, card.ErrPSSNotSupported
	}
	di, err := card.DigestInfo(opts.HashFunc(), digest)
	if err != nil {
		return nil, err
	}
	return k.t.sign(k.ctx, &k.t.auth, p11.CKM_RSA_PKCS, di, false)
}
