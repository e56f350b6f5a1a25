package virtual

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/signature/card"
)

// Profile is one card as described by a fixtures/cards/*.yaml file: who
// holds it, its model and ATR, its PIN and unblock code, and its two key
// pairs with their certificates.
type Profile struct {
	Name            string `yaml:"name"`
	CardType        string `yaml:"card_type"` // CPS, CPF, CPE, CPA
	Model           string `yaml:"model"`     // CPS3, CPS4, CPS3-CL
	ATR             string `yaml:"atr"`       // hex
	Serial          string `yaml:"serial"`    // hex digits, 20 = 10 bytes
	NationalID      string `yaml:"national_id"`
	RPPS            string `yaml:"rpps"`
	ADELI           string `yaml:"adeli"`
	Surname         string `yaml:"surname"`
	GivenName       string `yaml:"given_name"`
	Profession      string `yaml:"profession"`
	ProfessionLabel string `yaml:"profession_label"`
	PIN             string `yaml:"pin"`
	UnblockCode     string `yaml:"unblock_code"`
	PINTries        int    `yaml:"pin_tries"`
	Blocked         bool   `yaml:"blocked"`
	Signature       KeyRef `yaml:"signature"`
	Authentication  KeyRef `yaml:"authentication"`
	CAChain         string `yaml:"ca_chain"`
	// Situations are the holder's billing situations, at most 16, written
	// to the files D120 to D12F in this order (the others are empty).
	Situations []Situation `yaml:"situations"`

	atr                []byte
	serial             []byte
	sigKey, authKey    *rsa.PrivateKey
	sigCert, authCert  []byte // DER
	sigX509, authX509  *x509.Certificate
	contactless, chan1 bool
}

// Situation is one billing situation of a profile (card.Situation in
// YAML): mode is liberal, salaried or remplacant; a remplaçant situation's
// billing number is the one its holder may replace a titulaire on.
type Situation struct {
	Billing        string    `yaml:"billing"`
	Mode           card.Mode `yaml:"mode"`
	Convention     string    `yaml:"convention"`
	Specialty      string    `yaml:"specialty"`
	Zone           string    `yaml:"zone"`
	MaySignInvoice bool      `yaml:"may_sign_invoice"`
	MaySignLot     bool      `yaml:"may_sign_lot"`
}

// Card is the situation as the card client reads it.
func (s Situation) Card() card.Situation {
	return card.Situation{Billing: s.Billing, Mode: s.Mode, Convention: s.Convention, Specialty: s.Specialty,
		Zone: s.Zone, MaySignInvoice: s.MaySignInvoice, MaySignLot: s.MaySignLot}
}

// KeyRef names one key pair of the profile; paths are relative to the
// profile file.
type KeyRef struct {
	KeyRef int    `yaml:"key_ref"`
	Key    string `yaml:"key"`
	Cert   string `yaml:"cert"`
}

// LoadProfile reads a card profile file from disk, its key and
// certificate paths relative to the file.
func LoadProfile(file string) (*Profile, error) {
	dir := filepath.Dir(file)
	return loadProfile(file, os.ReadFile, func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	})
}

// LoadProfileFS reads the card profile at file in fsys ("cards/doctor.yaml"),
// its key and certificate paths relative to the file's directory (the
// fixtures' profiles, embedded in the binaries: fixtures/dev.Profile).
func LoadProfileFS(fsys fs.FS, file string) (*Profile, error) {
	dir := path.Dir(file)
	return loadProfile(file, func(name string) ([]byte, error) { return fs.ReadFile(fsys, name) },
		func(name string) ([]byte, error) { return fs.ReadFile(fsys, path.Clean(path.Join(dir, name))) })
}

func loadProfile(file string, readProfile, readRel func(string) ([]byte, error)) (*Profile, error) {
	b, err := readProfile(file)
	if err != nil {
		return nil, fmt.Errorf("virtual card: read profile %s: %w", file, err)
	}
	var p Profile
	if err := yaml.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("virtual card: profile %s: %w", file, err)
	}
	if err := p.complete(readRel); err != nil {
		return nil, fmt.Errorf("virtual card: profile %s: %w", file, err)
	}
	return &p, nil
}

func (p *Profile) complete(read func(string) ([]byte, error)) error {
	var err error
	if p.PIN == "" {
		p.PIN = "1234"
	}
	if p.UnblockCode == "" {
		p.UnblockCode = "12345678"
	}
	if p.PINTries == 0 {
		p.PINTries = 3
	}
	if p.Signature.KeyRef == 0 {
		p.Signature.KeyRef = 0x81
	}
	if p.Authentication.KeyRef == 0 {
		p.Authentication.KeyRef = 0x82
	}
	if p.atr, err = hex.DecodeString(p.ATR); err != nil || len(p.atr) < 2 {
		return fmt.Errorf("atr %q: not hex", p.ATR)
	}
	if p.serial, err = hex.DecodeString(p.Serial); err != nil || len(p.serial) != 10 {
		return fmt.Errorf("serial %q: want 20 hex digits", p.Serial)
	}
	if _, err := p.situationFiles(); err != nil {
		return err
	}
	p.contactless = p.Model == "CPS3-CL"
	p.chan1 = p.Model == "CPS4"
	if p.sigKey, p.sigCert, p.sigX509, err = loadPair(read, p.Signature); err != nil {
		return fmt.Errorf("signature key: %w", err)
	}
	if p.authKey, p.authCert, p.authX509, err = loadPair(read, p.Authentication); err != nil {
		return fmt.Errorf("authentication key: %w", err)
	}
	return nil
}

func loadPair(read func(string) ([]byte, error), k KeyRef) (*rsa.PrivateKey, []byte, *x509.Certificate, error) {
	kb, err := read(k.Key)
	if err != nil {
		return nil, nil, nil, err
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, nil, nil, fmt.Errorf("%s: no PEM block", k.Key)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", k.Key, err)
		}
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%s: not an RSA key", k.Key)
	}
	cb, err := read(k.Cert)
	if err != nil {
		return nil, nil, nil, err
	}
	if blk, _ := pem.Decode(cb); blk != nil {
		cb = blk.Bytes
	}
	cert, err := x509.ParseCertificate(cb)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", k.Cert, err)
	}
	if !rk.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, nil, fmt.Errorf("%s does not match %s", k.Cert, k.Key)
	}
	return rk, cb, cert, nil
}

// SignatureCertificate is the certificate of the non-repudiation key.
func (p *Profile) SignatureCertificate() *x509.Certificate { return p.sigX509 }

// AuthenticationCertificate is the certificate of the authentication key.
func (p *Profile) AuthenticationCertificate() *x509.Certificate { return p.authX509 }

// situationFiles encodes the profile's situations, one file each, in
// fsegate's layout (card.Situation.MarshalBinary).
func (p *Profile) situationFiles() ([][]byte, error) {
	if len(p.Situations) > card.MaxSituations {
		return nil, fmt.Errorf("situations: %d, a card holds %d at most", len(p.Situations), card.MaxSituations)
	}
	out := make([][]byte, len(p.Situations))
	for i, s := range p.Situations {
		b, err := s.Card().MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("situation %d: %w", i+1, err)
		}
		out[i] = b
	}
	return out, nil
}
