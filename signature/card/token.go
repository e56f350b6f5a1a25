package card

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// Token is a CPS card however it is reached: *Card speaks fsegate's own
// APDUs through pcscd; package signature/card/pkcs11 goes through a
// PKCS#11 module (the ANS's Cryptolib CPS, OpenSC, a software token). Both
// give the same keys (a Key for signing, a tls.Certificate for client
// authentication), the same certificates, Info and PIN errors
// (ErrWrongPIN with TriesLeft, ErrPINBlocked, ErrNoPIN, ErrCardRemoved).
type Token interface {
	// Backend names the way the card is reached: BackendPCSC or
	// BackendPKCS11.
	Backend() string
	// Reader says where the card is: the PC/SC reader, or the PKCS#11
	// module and token.
	Reader() string
	Certificates(ctx context.Context) (sig, auth *x509.Certificate, err error)
	// Situations are the billing situations of the card; a backend that
	// cannot read them returns ErrNoSituations.
	Situations(ctx context.Context) ([]Situation, error)
	Info(ctx context.Context) (*Info, error)
	// Login asks the PIN through the prompt and verifies it.
	Login(ctx context.Context) error
	SetPINPrompt(p PINPrompt)
	// SigningKey is the signature (non-repudiation) key; ctx bounds every
	// signature made with it.
	SigningKey(ctx context.Context) (Key, error)
	// TLSCertificate is the authentication key and certificate, for TLS
	// 1.2 client authentication.
	TLSCertificate(ctx context.Context) (tls.Certificate, error)
	Close() error
}

// Key is a signature key with its certificate.
type Key interface {
	Signer
	Certificate() *x509.Certificate
}

// The backends.
const (
	BackendPCSC   = "pcsc"
	BackendPKCS11 = "pkcs11"
)

// ErrNoSituations: the backend cannot read the card's billing situations
// (a PKCS#11 module shows certificates and keys only).
var ErrNoSituations = errors.New("the card's billing situations cannot be read through this backend")

var _ Token = (*Card)(nil)

// Backend is BackendPCSC.
func (c *Card) Backend() string { return BackendPCSC }

// SigningKey is SignatureKey as a Key (the Token interface).
func (c *Card) SigningKey(ctx context.Context) (Key, error) {
	k, err := c.SignatureKey(ctx)
	if err != nil {
		return nil, err
	}
	return k, nil
}
