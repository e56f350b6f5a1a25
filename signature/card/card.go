package card

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fsegate/fsegate/signature/card/internal/apdu"
	"github.com/fsegate/fsegate/signature/internal/certid"
)

// Model is the kind of CPx card, recognised by its ATR.
type Model int

const (
	ModelUnknown         Model = iota
	ModelCPS3                  // CPS3, contact (IAS ECC)
	ModelCPS4                  // CPS4, contact (ChipDoc), logical channel 1
	ModelCPS3Contactless       // a CPS3 read without contact: no signature
)

func (m Model) String() string {
	switch m {
	case ModelCPS3:
		return "CPS3"
	case ModelCPS4:
		return "CPS4"
	case ModelCPS3Contactless:
		return "CPS3 contactless"
	}
	return "unknown"
}

// Contactless reports whether the card is read without contact.
func (m Model) Contactless() bool { return m == ModelCPS3Contactless }

type atrPattern struct {
	atr, mask []byte
	model     Model
}

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// ATRs and masks of the CPx cards (domain.md §2, OpenSC iasecc_known_atrs).
var atrs = []atrPattern{
	{h("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"), h("FF 00 00 00 00 FF FF FF FF FF FF 00 00 00 FF FF FF"), ModelCPS3},
	{h("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E"), h("FF FF FF FF FF FF FF FF 00 00 FF C0 FF FF FF FF FF FF FF FF"), ModelCPS3Contactless},
	{h("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44"), h("FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF"), ModelCPS4},
	{h("3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44"), h("FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF"), ModelCPS4},
}

// ModelOf recognises a CPx card by its ATR; ModelUnknown when it is none.
func ModelOf(atr []byte) Model {
	for _, p := range atrs {
		if len(atr) != len(p.atr) {
			continue
		}
		ok := true
		for i := range atr {
			if atr[i]&p.mask[i] != p.atr[i]&p.mask[i] {
				ok = false
				break
			}
		}
		if ok {
			return p.model
		}
	}
	if bytes.HasPrefix(atr, h("3B DC 18 FF")) { // CPS4, T=0 variant
		return ModelCPS4
	}
	return ModelUnknown
}

// Key references.
const (
	SignatureKeyRef      = 0x81 // non-repudiation, PSO CDS
	AuthenticationKeyRef = 0x82 // INTERNAL AUTHENTICATE
)

// PINRequest tells the prompt what it asks for.
type PINRequest struct {
	Reader    string
	Holder    string // surname and given name, from the certificate
	TriesLeft int    // read from the card before asking
}

// PINPrompt asks the holder for the PIN. The card wipes the returned
// slice after use; the prompt keeps no copy.
type PINPrompt func(ctx context.Context, req PINRequest) ([]byte, error)

// Options configure Open. The zero value opens the card without a PIN
// prompt: reading works, signing fails with ErrNoPIN until VerifyPIN.
type Options struct {
	// PIN is asked when a key operation needs the PIN.
	PIN PINPrompt
}

// Card is one CPx card in a reader. Its methods are safe for concurrent
// use; one operation runs at a time.
type Card struct {
	t      Transport
	model  Model
	cla    byte
	prompt PINPrompt

	mu       sync.Mutex
	verified bool // the card's security state after one VERIFY
	closed   bool
	sigCert  *x509.Certificate
	authCert *x509.Certificate
	// situations read once (Situations); nil until then
	situations []Situation
}

// Open recognises the card behind t by its ATR and selects the IAS
// application (on logical channel 1 for a CPS4). A contactless CPS opens:
// it is read, but its keys refuse to sign with ErrContactless.
func Open(ctx context.Context, t Transport, opts Options) (*Card, error) {
	m := ModelOf(t.ATR())
	if m == ModelUnknown {
		return nil, fmt.Errorf("%w (ATR % X)", ErrNotCPS, t.ATR())
	}
	c := &Card{t: t, model: m, prompt: opts.PIN}
	if m == ModelCPS4 {
		if _, err := c.transmit(ctx, "MANAGE CHANNEL", apdu.ManageChannelOpen(1)); err != nil {
			return nil, err
		}
		c.cla = 0x01
	}
	if _, err := c.transmit(ctx, "SELECT IAS", apdu.SelectAID(c.cla, c.aid())); err != nil {
		return nil, err
	}
	return c, nil
}

// OpenPCSC connects through pcscd to the card in reader ("" = the only
// reader with a card) and opens it.
func OpenPCSC(ctx context.Context, reader string, opts Options) (*Card, error) {
	t, err := OpenReader(ctx, reader)
	if err != nil {
		return nil, err
	}
	c, err := Open(ctx, t, opts)
	if err != nil {
		_ = t.Close(false)
		return nil, err
	}
	return c, nil
}

// Model is the card's model.
func (c *Card) Model() Model { return c.model }

// Reader names the reader the card is in.
func (c *Card) Reader() string { return c.t.Reader() }

// ATR is the card's answer to reset.
func (c *Card) ATR() []byte { return c.t.ATR() }

// SetPINPrompt replaces the PIN prompt.
func (c *Card) SetPINPrompt(p PINPrompt) {
	c.mu.Lock()
	c.prompt = p
	c.mu.Unlock()
}

// Close releases the card and resets it, so that the verified PIN does not
// outlive the command (SCARD_RESET_CARD).
func (c *Card) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.verified = false
	return c.t.Close(true)
}

// Reset resets the card: the PIN must be entered again. The IAS
// application is selected again.
func (c *Card) Reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reset(ctx)
}

func (c *Card) reset(ctx context.Context) error {
	c.verified = false
	if err := c.t.Reset(ctx); err != nil {
		return err
	}
	if c.model == ModelCPS4 {
		if _, err := c.transmit(ctx, "MANAGE CHANNEL", apdu.ManageChannelOpen(1)); err != nil {
			return err
		}
	}
	_, err := c.transmit(ctx, "SELECT IAS", apdu.SelectAID(c.cla, c.aid()))
	return err
}

// aid is the IAS application's name: another one without contact.
func (c *Card) aid() []byte {
	if c.model.Contactless() {
		return apdu.AIDIASContactless
	}
	return apdu.AIDIAS
}

// readEF selects an EF of the IAS application by its file id and reads it
// whole, in chunks the ANS driver uses (0xE7 bytes).
func (c *Card) readEF(ctx context.Context, fid uint16) ([]byte, error) {
	fcp, err := c.transmit(ctx, "SELECT", apdu.SelectFID(c.cla, fid))
	if err != nil {
		return nil, err
	}
	size := -1
	if inner, ok := apdu.Find(fcp, apdu.TagFCP); ok {
		if s, ok := apdu.Find(inner, apdu.TagFCPSize); ok && len(s) == 2 {
			size = int(s[0])<<8 | int(s[1])
		}
	}
	var out []byte
	for size < 0 || len(out) < size {
		n := 0xE7
		if size >= 0 {
			n = min(n, size-len(out))
		}
		off := len(out)
		b, err := c.transmit(ctx, "READ BINARY", apdu.ReadBinary(c.cla, off, n))
		if err != nil {
			if size < 0 && len(out) > 0 && errors.Is(err, &StatusError{SW: uint16(apdu.WrongOffset)}) {
				break
			}
			return nil, err
		}
		out = append(out, b...)
		if len(b) < n {
			break
		}
	}
	return out, nil
}

// Certificates reads the certificates of the signature and the
// authentication keys (no PIN needed), once per Card.
func (c *Card) Certificates(ctx context.Context) (sig, auth *x509.Certificate, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadCerts(ctx); err != nil {
		return nil, nil, err
	}
	return c.sigCert, c.authCert, nil
}

func (c *Card) loadCerts(ctx context.Context) error {
	if c.sigCert != nil {
		return nil
	}
	read := func(fid uint16, what string) (*x509.Certificate, error) {
		der, err := c.readEF(ctx, fid)
		if err != nil {
			return nil, fmt.Errorf("card: read the %s certificate: %w", what, err)
		}
		// The file may be padded after the DER certificate.
		var raw asn1.RawValue
		if rest, err := asn1.Unmarshal(der, &raw); err == nil && len(rest) > 0 {
			der = der[:len(der)-len(rest)]
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("card: the %s certificate: %w", what, err)
		}
		return cert, nil
	}
	sig, err := read(apdu.FIDSignatureCert, "signature")
	if err != nil {
		return err
	}
	auth, err := read(apdu.FIDAuthenticationCert, "authentication")
	if err != nil {
		return err
	}
	c.sigCert, c.authCert = sig, auth
	return nil
}

// PINStatus is what the card says about its PIN without being asked for it.
type PINStatus struct {
	MaxTries  int
	TriesLeft int
	UsageLeft int // -1 when the card reports no usage counter
}

// PINStatus reads the PIN counters (GET DATA on the CHV), no PIN needed.
func (c *Card) PINStatus(ctx context.Context) (PINStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pinStatus(ctx)
}

// PINTriesLeft is PINStatus().TriesLeft.
func (c *Card) PINTriesLeft(ctx context.Context) (int, error) {
	st, err := c.PINStatus(ctx)
	return st.TriesLeft, err
}

func (c *Card) pinStatus(ctx context.Context) (PINStatus, error) {
	r, err := c.transmit(ctx, "GET DATA", apdu.GetDataSDO(c.cla, apdu.SDOClassCHV, apdu.PINRef, apdu.TagDOCP))
	if err != nil {
		return PINStatus{}, err
	}
	st := PINStatus{TriesLeft: -1, UsageLeft: -1}
	if v, ok := apdu.Find(r, apdu.TagGetDataSDO); ok {
		if len(v) > 4 && v[0] == 0xBF {
			if docp, ok := apdu.Find(v[4:], apdu.TagDOCP); ok {
				if b, ok := apdu.Find(docp, apdu.TagMaxTries); ok && len(b) == 1 {
					st.MaxTries = int(b[0])
				}
				if b, ok := apdu.Find(docp, apdu.TagTriesLeft); ok && len(b) == 1 {
					st.TriesLeft = int(b[0])
				}
				if b, ok := apdu.Find(docp, apdu.TagUsageLeft); ok && len(b) == 1 {
					st.UsageLeft = int(b[0])
				}
			}
		}
	}
	if st.TriesLeft < 0 {
		return PINStatus{}, fmt.Errorf("card: GET DATA on the PIN: no tries counter in % X", r)
	}
	return st, nil
}

// VerifyPIN sends the PIN in one VERIFY. Wrong: an error matching
// ErrWrongPIN that says how many tries are left (TriesLeft); blocked: an
// error matching ErrPINBlocked that says what to do. The caller wipes pin.
func (c *Card) VerifyPIN(ctx context.Context, pin []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verify(ctx, pin)
}

func (c *Card) verify(ctx context.Context, pin []byte) error {
	if len(pin) < 4 || len(pin) > 8 {
		return errors.New("card: the PIN has 4 to 8 digits")
	}
	_, err := c.transmit(ctx, "VERIFY", apdu.Verify(c.cla, apdu.PINRef, pin))
	if err != nil {
		c.verified = false
		return err
	}
	c.verified = true
	return nil
}

// Login reads the tries left, asks the prompt for the PIN (not when the
// PIN is blocked) and verifies it.
func (c *Card) Login(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.login(ctx)
}

func (c *Card) login(ctx context.Context) error {
	if c.prompt == nil {
		return ErrNoPIN
	}
	st, err := c.pinStatus(ctx)
	if err != nil {
		return err
	}
	if st.TriesLeft == 0 {
		return &StatusError{SW: uint16(apdu.Blocked), Op: "VERIFY"}
	}
	req := PINRequest{Reader: c.t.Reader(), TriesLeft: st.TriesLeft}
	if c.loadCerts(ctx) == nil {
		hd := HolderOf(c.sigCert)
		req.Holder = strings.TrimSpace(hd.Surname + " " + hd.GivenName)
	}
	pin, err := c.prompt(ctx, req)
	if err != nil {
		return fmt.Errorf("card: PIN: %w", err)
	}
	defer clear(pin)
	return c.verify(ctx, pin)
}

// Unblock resets the PIN counter with the 8-digit unblock code (RESET
// RETRY COUNTER); with a newPIN the PIN becomes newPIN. The caller wipes
// both.
func (c *Card) Unblock(ctx context.Context, unblockCode, newPIN []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(unblockCode) != 8 {
		return errors.New("card: the unblock code has 8 digits")
	}
	p1 := apdu.ResetOnly
	data := append([]byte{}, unblockCode...)
	if newPIN != nil {
		if len(newPIN) < 4 || len(newPIN) > 8 {
			return errors.New("card: the new PIN has 4 to 8 digits")
		}
		p1 = apdu.ResetWithNewPIN
		data = append(data, newPIN...)
	}
	_, err := c.transmit(ctx, "RESET RETRY COUNTER", apdu.ResetRetryCounter(c.cla, p1, apdu.PINRef, data))
	clear(data)
	c.verified = false
	return err
}

// Holder is who the card belongs to, as its signature certificate says.
type Holder struct {
	NationalID      string // "8"+RPPS, "0"+ADELI, "3"+FINESS+"/"+n
	RPPS, ADELI     string
	Surname         string
	GivenName       string
	ProfessionLabel string // certificate title, e.g. "Médecin"
	CardType        string // CPS, CPE, CPF, CPA (certificate OU)
}

// HolderOf reads who holds a card from its signature certificate, through
// the implementation behind signature.IdentityOf (signature/internal/certid;
// signature itself cannot be imported here): the national id is the IGC-Santé extension's
// (OID 1.2.250.1.71.4.2.1) when the certificate has one, else the subject
// CN, as the gateway reads it.
func HolderOf(cert *x509.Certificate) Holder {
	id := certid.Of(cert)
	hd := Holder{
		NationalID:      id.NationalID,
		Surname:         id.Surname,
		GivenName:       id.GivenName,
		ProfessionLabel: id.Profession,
		CardType:        id.CardType,
	}
	switch nid := hd.NationalID; {
	case len(nid) == 12 && nid[0] == '8':
		hd.RPPS = nid[1:]
	case len(nid) == 10 && nid[0] == '0':
		hd.ADELI = nid[1:]
	}
	return hd
}

// Info is what 'workstation card info' shows: no PIN needed.
type Info struct {
	Backend   string // BackendPCSC or BackendPKCS11
	Reader    string // the reader, or the PKCS#11 module and token
	Model     Model
	Holder    Holder
	NotBefore time.Time // validity of the signature certificate
	NotAfter  time.Time
	PIN       PINStatus
	Signature *x509.Certificate
	Auth      *x509.Certificate
}

// Info reads the certificates and the PIN counter.
func (c *Card) Info(ctx context.Context) (*Info, error) {
	sig, auth, err := c.Certificates(ctx)
	if err != nil {
		return nil, err
	}
	st, err := c.PINStatus(ctx)
	if err != nil {
		return nil, err
	}
	return &Info{
		Backend: BackendPCSC, Reader: c.Reader(), Model: c.model, Holder: HolderOf(sig),
		NotBefore: sig.NotBefore, NotAfter: sig.NotAfter, PIN: st,
		Signature: sig, Auth: auth,
	}, nil
}
