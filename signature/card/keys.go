package card

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fsegate/fsegate/signature/card/internal/apdu"
)

// SignatureKey is the card's non-repudiation key (reference 0x81), the
// key that signs care sheets and prescriptions. It signs SHA-256 with
// PKCS#1 v1.5 through PSO HASH + PSO CDS.
type SignatureKey struct {
	c    *Card
	ctx  context.Context
	cert *x509.Certificate
}

// AuthenticationKey is the card's authentication key (reference 0x82):
// INTERNAL AUTHENTICATE over a DigestInfo, PKCS#1 v1.5 only. crypto/tls
// uses it for client authentication, in TLS 1.2.
type AuthenticationKey struct {
	c    *Card
	ctx  context.Context
	cert *x509.Certificate
}

var (
	_ Signer        = (*SignatureKey)(nil)
	_ crypto.Signer = (*AuthenticationKey)(nil)
)

// SignatureKey returns the non-repudiation key. ctx bounds every signature
// made with it (crypto.Signer's methods take no context). The PIN is asked
// through the card's prompt at the first signature.
func (c *Card) SignatureKey(ctx context.Context) (*SignatureKey, error) {
	sig, _, err := c.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	return &SignatureKey{c: c, ctx: ctx, cert: sig}, nil
}

// AuthenticationKey returns the authentication key; ctx bounds every
// signature made with it.
func (c *Card) AuthenticationKey(ctx context.Context) (*AuthenticationKey, error) {
	_, auth, err := c.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	return &AuthenticationKey{c: c, ctx: ctx, cert: auth}, nil
}

// Public is the key of the signature certificate.
func (k *SignatureKey) Public() crypto.PublicKey { return k.cert.PublicKey }

// Certificate is the signature certificate read from the card.
func (k *SignatureKey) Certificate() *x509.Certificate { return k.cert }

// SignMessage signs msg: the host hashes all full 64-byte blocks, the card
// gets the intermediate SHA-256 state and the last partial block (PSO
// HASH), finishes the hash and signs it (PSO CDS). opts must ask for
// SHA-256 with PKCS#1 v1.5.
func (k *SignatureKey) SignMessage(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkSigOpts(opts); err != nil {
		return nil, err
	}
	return k.c.signCDS(k.ctx, psoHashMessage(msg), false)
}

// Sign signs a SHA-256 digest (what pdfsign's CMS code hands over): PSO
// HASH with the final hash code (tag 90), then PSO CDS. The virtual card
// accepts it; a real card may not, and then the error is
// ErrFinalHashRefused.
func (k *SignatureKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkSigOpts(opts); err != nil {
		return nil, err
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("card: digest of %d bytes, want a SHA-256 digest", len(digest))
	}
	return k.c.signCDS(k.ctx, apdu.T1(apdu.TagHashCode, digest), true)
}

func checkSigOpts(opts crypto.SignerOpts) error {
	if _, ok := opts.(*rsa.PSSOptions); ok {
		return ErrPSSNotSupported
	}
	if opts == nil || opts.HashFunc() != crypto.SHA256 {
		return ErrHashNotSupported
	}
	return nil
}

// psoHashMessage is the data of PSO HASH for msg: 90 28 <h0..h7> <bit
// count of the full blocks> 80 <n> <last partial block>, or 90 00 80 <n>
// <msg> when msg is shorter than a block.
func psoHashMessage(msg []byte) []byte {
	full := len(msg) - len(msg)%64
	last := msg[full:]
	if full == 0 {
		return append(apdu.T1(apdu.TagHashCode), apdu.T1(apdu.TagHashData, last)...)
	}
	h := sha256.New()
	h.Write(msg[:full])
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil || len(st) != 4+32+64+8 || string(st[:4]) != "sha\x03" {
		panic("card: unexpected crypto/sha256 state layout")
	}
	return append(
		apdu.T1(apdu.TagHashCode, st[4:36], binary.BigEndian.AppendUint64(nil, uint64(full)*8)),
		apdu.T1(apdu.TagHashData, last)...)
}

// signCDS runs MSE SET HT, MSE SET DST, PSO HASH and PSO CDS with the
// signature key, asking for the PIN when the card needs it.
func (c *Card) signCDS(ctx context.Context, hashData []byte, finalHash bool) ([]byte, error) {
	if c.model.Contactless() {
		return nil, ErrContactless
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.withPIN(ctx, func() ([]byte, error) { return c.cds(ctx, hashData, finalHash) })
}

func (c *Card) cds(ctx context.Context, hashData []byte, finalHash bool) ([]byte, error) {
	if _, err := c.transmit(ctx, "MSE SET HT", apdu.MSESetFor(c.cla, apdu.TemplateHT, 0, apdu.AlgSHA256)); err != nil {
		return nil, err
	}
	if _, err := c.transmit(ctx, "MSE SET DST", apdu.MSESetFor(c.cla, apdu.TemplateDST, SignatureKeyRef, apdu.AlgSHA256RSA)); err != nil {
		return nil, err
	}
	if _, err := c.transmit(ctx, "PSO HASH", apdu.PSOHash(c.cla, hashData)); err != nil {
		if finalHash && (errors.Is(err, ErrWrongData) || errors.Is(err, ErrWrongP1P2) || errors.Is(err, ErrConditionsOfUse)) {
			return nil, fmt.Errorf("%w (%v)", ErrFinalHashRefused, err)
		}
		return nil, err
	}
	return c.transmit(ctx, "PSO CDS", apdu.PSOCDS(c.cla))
}

// withPIN runs op, logging in first when the card is not verified, and
// once more when the card says its security state is gone (6982).
func (c *Card) withPIN(ctx context.Context, op func() ([]byte, error)) ([]byte, error) {
	if !c.verified {
		if err := c.login(ctx); err != nil {
			return nil, err
		}
	}
	out, err := op()
	if errors.Is(err, ErrSecurityStatus) {
		c.verified = false
		if err := c.login(ctx); err != nil {
			return nil, err
		}
		out, err = op()
	}
	return out, err
}

// Public is the key of the authentication certificate.
func (k *AuthenticationKey) Public() crypto.PublicKey { return k.cert.PublicKey }

// Certificate is the authentication certificate read from the card.
func (k *AuthenticationKey) Certificate() *x509.Certificate { return k.cert }

// DigestInfo prefixes (RFC 8017 §9.2 note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// Sign signs digest with PKCS#1 v1.5 (MSE SET AT, INTERNAL AUTHENTICATE
// over the DigestInfo). RSA-PSS is refused with ErrPSSNotSupported.
func (k *AuthenticationKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, ok := opts.(*rsa.PSSOptions); ok {
		return nil, ErrPSSNotSupported
	}
	di, err := DigestInfo(opts.HashFunc(), digest)
	if err != nil {
		return nil, err
	}
	c := k.c
	if c.model.Contactless() {
		return nil, ErrContactless
	}
	ctx := k.ctx
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.withPIN(ctx, func() ([]byte, error) {
		if _, err := c.transmit(ctx, "MSE SET AT", apdu.MSESetFor(c.cla, apdu.TemplateAT, AuthenticationKeyRef, apdu.AlgRSAPKCS1)); err != nil {
			return nil, err
		}
		return c.transmit(ctx, "INTERNAL AUTHENTICATE", apdu.InternalAuthenticate(c.cla, di))
	})
}

// DigestInfo is what PKCS#1 v1.5 signs for digest: the DER DigestInfo of
// hash h (RFC 8017 §9.2), or digest itself for h 0 or MD5SHA1 (TLS 1.0's
// raw signatures).
func DigestInfo(h crypto.Hash, digest []byte) ([]byte, error) {
	if h == 0 || h == crypto.MD5SHA1 {
		return digest, nil
	}
	prefix, ok := digestInfoPrefix[h]
	if !ok {
		return nil, fmt.Errorf("card: hash %v not supported by the authentication key", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("card: digest of %d bytes for %v", len(digest), h)
	}
	return append(append([]byte{}, prefix...), digest...), nil
}

// TLSCertificate is the card's authentication certificate and key for
// crypto/tls client authentication. The key signs PKCS#1 v1.5 only, so the
// tls.Config that uses it must set MaxVersion: tls.VersionTLS12 (TLS 1.3
// requires RSA-PSS); SupportedSignatureAlgorithms lists the PKCS#1 v1.5
// schemes only.
func (c *Card) TLSCertificate(ctx context.Context) (tls.Certificate, error) {
	k, err := c.AuthenticationKey(ctx)
	if err != nil {
		return tls.Certificate{}, err
	}
	return NewTLSCertificate(k.cert, k), nil
}

// NewTLSCertificate is cert with an authentication key that signs PKCS#1
// v1.5 only, for crypto/tls client authentication in TLS 1.2 (what every
// backend's TLSCertificate returns).
func NewTLSCertificate(cert *x509.Certificate, key crypto.Signer) tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{cert.Raw},
		PrivateKey:  key,
		Leaf:        cert,
		SupportedSignatureAlgorithms: []tls.SignatureScheme{
			tls.PKCS1WithSHA256, tls.PKCS1WithSHA384, tls.PKCS1WithSHA512,
		},
	}
}

// CheckSignatureOpts says whether a signature key signs with opts: SHA-256
// with PKCS#1 v1.5 only (ErrPSSNotSupported, ErrHashNotSupported).
func CheckSignatureOpts(opts crypto.SignerOpts) error { return checkSigOpts(opts) }
