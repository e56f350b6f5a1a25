package virtual

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Options tune a virtual card beyond its profile. The zero value is a card
// that answers at once and forgets its PIN counter when the process ends.
type Options struct {
	// StateFile keeps the PIN and unblock-code counters (and a PIN changed
	// by RESET RETRY COUNTER) across restarts. Empty: state in memory.
	StateFile string
	// Delay is added to every RSA operation (a real card needs 100-400 ms).
	Delay time.Duration
	// UsageLimit, when > 0, is how many private-key operations one VERIFY
	// allows (the CHV's usage counter, GET DATA tag 9D); then the card asks
	// for the PIN again. 0: no limit.
	UsageLimit int
	// GetResponse makes the card answer every command that returns data
	// with 61 xx, the data then fetched with GET RESPONSE, as a T=0 card
	// does. Off by default (vpcd passes replies whole and OpenSC accepts
	// them).
	GetResponse bool
	// OnAPDU, when set, sees every command before the card answers it
	// (tests pull the card in the middle of an operation from here).
	OnAPDU func(cmd []byte)
	// Files replaces the content of the card's EFs, by file id (tests: a
	// malformed billing situation file). A file id the card does not have
	// is an error of New.
	Files map[uint16][]byte
}

// CPS is a software CPx card (IAS-ECC): it implements Card for Serve and
// answers the commands of package card and of OpenSC's iasecc driver.
type CPS struct {
	p    *Profile
	opts Options
	mf   *file

	mu        sync.Mutex
	present   bool
	st        state
	cur       *file // current DF or EF
	curEF     *file
	verified  bool
	usesLeft  int // when verified and UsageLimit > 0
	atKey     byte
	dstKey    byte
	dstAlg    byte
	htAlg     byte
	hash      []byte // result of PSO HASH, consumed by PSO CDS
	pending   []byte // data not yet fetched by GET RESPONSE
	channel1  bool   // CPS4: logical channel 1 opened
	stateErr  error
	nOps      int
	lastReset time.Time
}

type state struct {
	PINTriesLeft     int    `json:"pin_tries_left"`
	UnblockTriesLeft int    `json:"unblock_tries_left"`
	PIN              string `json:"pin,omitempty"` // only when changed by an unblock
}

const unblockTries = 10

// New makes a card from a profile.
func New(p *Profile, opts Options) (*CPS, error) {
	situations, err := p.situationFiles()
	if err != nil {
		return nil, fmt.Errorf("virtual card: %w", err)
	}
	c := &CPS{p: p, opts: opts, present: true}
	c.mf = buildTree(p, situations)
	for fid, data := range opts.Files {
		f := c.mf.find(fid)
		if f == nil || f.df {
			return nil, fmt.Errorf("virtual card: Options.Files: no EF %04X", fid)
		}
		f.data = append([]byte{}, data...)
	}
	c.st = state{PINTriesLeft: p.PINTries, UnblockTriesLeft: unblockTries}
	if p.Blocked {
		c.st.PINTriesLeft = 0
	}
	if opts.StateFile != "" {
		b, err := os.ReadFile(opts.StateFile)
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &c.st); err != nil {
				return nil, fmt.Errorf("virtual card: state file %s: %w", opts.StateFile, err)
			}
		case errors.Is(err, os.ErrNotExist):
			if err := c.save(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("virtual card: %w", err)
		}
	}
	c.reset()
	return c, nil
}

// Open loads a profile (LoadProfile) and makes its card.
func Open(profile string, opts Options) (*CPS, error) {
	p, err := LoadProfile(profile)
	if err != nil {
		return nil, err
	}
	return New(p, opts)
}

// Profile is the profile the card was made from.
func (c *CPS) Profile() *Profile { return c.p }

// ATR implements Card.
func (c *CPS) ATR() []byte { return append([]byte{}, c.p.atr...) }

// Reset implements Card: power on/off or reset clears the security state.
func (c *CPS) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reset()
}

func (c *CPS) reset() {
	c.cur, c.curEF = c.mf, nil
	c.verified = false
	c.atKey, c.dstKey, c.dstAlg, c.htAlg = 0, 0, 0, 0
	c.hash, c.pending = nil, nil
	c.channel1 = false
	c.lastReset = time.Now()
}

// Remove takes the card out of an in-process reader (the loopback
// transport of package card then reports the card removed); Insert puts it
// back, reset.
func (c *CPS) Remove() {
	c.mu.Lock()
	c.present = false
	c.mu.Unlock()
}

// Insert puts a removed card back, as if freshly powered.
func (c *CPS) Insert() {
	c.mu.Lock()
	c.present = true
	c.reset()
	c.mu.Unlock()
}

// Present reports whether the card is in its in-process reader.
func (c *CPS) Present() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.present
}

// PINTriesLeft is the card's PIN counter (for tests and the command line).
func (c *CPS) PINTriesLeft() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.PINTriesLeft
}

// Operations counts the private-key operations the card performed.
func (c *CPS) Operations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nOps
}

func (c *CPS) save() error {
	if c.opts.StateFile == "" {
		return nil
	}
	b, _ := json.MarshalIndent(c.st, "", "  ")
	tmp := c.opts.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("virtual card: state: %w", err)
	}
	if err := os.Rename(tmp, c.opts.StateFile); err != nil {
		return fmt.Errorf("virtual card: state: %w", err)
	}
	return nil
}

func (c *CPS) pin() string {
	if c.st.PIN != "" {
		return c.st.PIN
	}
	return c.p.PIN
}

// Status words.
var (
	swOK             = []byte{0x90, 0x00}
	swEOF            = []byte{0x62, 0x82}
	swWrongLength    = []byte{0x67, 0x00}
	swChannel        = []byte{0x68, 0x81}
	swSecurity       = []byte{0x69, 0x82}
	swBlocked        = []byte{0x69, 0x83}
	swConditions     = []byte{0x69, 0x85}
	swNotAllowed     = []byte{0x69, 0x86}
	swWrongData      = []byte{0x6A, 0x80}
	swNotFound       = []byte{0x6A, 0x82}
	swWrongP1P2      = []byte{0x6A, 0x86}
	swRefNotFound    = []byte{0x6A, 0x88}
	swWrongOffset    = []byte{0x6B, 0x00}
	swINSUnsupported = []byte{0x6D, 0x00}
	swCLAUnsupported = []byte{0x6E, 0x00}
)

type apdu struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int // -1: none; 256 for 00
}

func parseAPDU(b []byte) (apdu, bool) {
	if len(b) < 4 {
		return apdu{}, false
	}
	a := apdu{cla: b[0], ins: b[1], p1: b[2], p2: b[3], le: -1}
	switch {
	case len(b) == 4:
	case len(b) == 5:
		a.le = int(b[4])
		if a.le == 0 {
			a.le = 256
		}
	default:
		lc := int(b[4])
		if lc == 0 || len(b) < 5+lc || len(b) > 6+lc {
			return apdu{}, false
		}
		a.data = b[5 : 5+lc]
		if len(b) == 6+lc {
			a.le = int(b[5+lc])
			if a.le == 0 {
				a.le = 256
			}
		}
	}
	return a, true
}

// APDU implements Card: one command, one response (data ‖ SW1 SW2).
func (c *CPS) APDU(cmd []byte) []byte {
	if c.opts.OnAPDU != nil {
		c.opts.OnAPDU(cmd)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := parseAPDU(cmd)
	if !ok {
		return swWrongLength
	}
	if a.cla&0x80 != 0 || a.cla&0x70 != 0 {
		return swCLAUnsupported
	}
	ch := a.cla & 0x03
	if a.ins == 0x70 {
		return c.manageChannel(a)
	}
	if c.p.chan1 {
		// CPS4: the IAS application answers on logical channel 1.
		if ch != 1 || !c.channel1 {
			return swChannel
		}
	} else if ch != 0 {
		return swChannel
	}
	if a.ins == 0xC0 {
		return c.getResponse(a)
	}
	c.pending = nil
	data, sw := c.dispatch(a)
	if len(data) == 0 {
		return sw
	}
	if c.opts.GetResponse && sw[0] == 0x90 {
		c.pending = data
		return []byte{0x61, byte(min(len(data), 256))}
	}
	return append(data, sw...)
}

func (c *CPS) manageChannel(a apdu) []byte {
	if !c.p.chan1 {
		return swINSUnsupported
	}
	switch {
	case a.p1 == 0x00 && a.p2 == 0x00: // open, card assigns
		c.channel1 = true
		return []byte{0x01, 0x90, 0x00}
	case a.p1 == 0x00 && a.p2 == 0x01:
		c.channel1 = true
		return swOK
	case a.p1 == 0x80 && a.p2 == 0x01:
		c.channel1 = false
		return swOK
	}
	return swWrongP1P2
}

func (c *CPS) getResponse(a apdu) []byte {
	if c.pending == nil {
		return swNotAllowed
	}
	n := min(len(c.pending), a.le, 256)
	if a.le < 0 {
		n = min(len(c.pending), 256)
	}
	out := append([]byte{}, c.pending[:n]...)
	c.pending = c.pending[n:]
	if len(c.pending) > 0 {
		return append(out, 0x61, byte(min(len(c.pending), 256)))
	}
	c.pending = nil
	return append(out, swOK...)
}

func (c *CPS) dispatch(a apdu) ([]byte, []byte) {
	switch a.ins {
	case 0xA4:
		return c.selectFile(a)
	case 0xB0:
		return c.readBinary(a)
	case 0x20:
		return nil, c.verify(a)
	case 0x2C:
		return nil, c.resetRetryCounter(a)
	case 0xCB:
		return c.getData(a)
	case 0x22:
		return nil, c.mse(a)
	case 0x2A:
		return c.pso(a)
	case 0x88:
		return c.internalAuthenticate(a)
	case 0x84:
		n := a.le
		if n <= 0 {
			n = 8
		}
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b, swOK
	}
	return nil, swINSUnsupported
}

func (c *CPS) selectFile(a apdu) ([]byte, []byte) {
	var f *file
	switch a.p1 {
	case 0x00, 0x01, 0x02: // by FID
		if len(a.data) != 2 {
			return nil, swWrongLength
		}
		f = c.byFID(binary.BigEndian.Uint16(a.data))
	case 0x04: // by DF name
		f = c.byName(c.mf, a.data)
	case 0x08, 0x09: // by path (iasecc sends P1=09 with a leading 3F00)
		if len(a.data) == 0 || len(a.data)%2 != 0 {
			return nil, swWrongLength
		}
		f = c.byPath(a.data)
	default:
		return nil, swWrongP1P2
	}
	if f == nil {
		return nil, swNotFound
	}
	if f.fid == 0x7001 && c.p.contactless {
		return nil, swNotFound
	}
	var fcp []byte
	switch a.p2 &^ 0x03 {
	case 0x04:
		fcp = f.fcp()
	case 0x0C:
	default:
		return nil, swWrongP1P2 // a CPx answers 6A86 to P2=00
	}
	if f.df {
		c.cur, c.curEF = f, nil
	} else {
		c.cur, c.curEF = f.parent, f
	}
	return fcp, swOK
}

func (c *CPS) byFID(fid uint16) *file {
	if fid == 0x3F00 {
		return c.mf
	}
	for d := c.cur; d != nil; d = d.parent {
		if d.fid == fid {
			return d
		}
		if f := d.child(fid); f != nil {
			return f
		}
	}
	return nil
}

func (c *CPS) byName(d *file, name []byte) *file {
	if d.df && bytes.Equal(d.name, name) {
		return d
	}
	for _, ch := range d.children {
		if ch.df {
			if f := c.byName(ch, name); f != nil {
				return f
			}
		}
	}
	return nil
}

func (c *CPS) byPath(p []byte) *file {
	if len(p) >= 2 && p[0] == 0x3F && p[1] == 0x00 {
		p = p[2:]
	}
	f := c.mf
	for ; len(p) >= 2; p = p[2:] {
		if f = f.child(binary.BigEndian.Uint16(p)); f == nil {
			return nil
		}
	}
	return f
}

func (c *CPS) readBinary(a apdu) ([]byte, []byte) {
	f := c.curEF
	off := int(a.p1)<<8 | int(a.p2)
	if a.p1&0x80 != 0 {
		sfi := a.p1 & 0x1F
		f = nil
		for _, d := range []*file{c.cur, c.mf} {
			for _, ch := range d.children {
				if !ch.df && ch.sfi == sfi {
					f = ch
				}
			}
			if f != nil {
				break
			}
		}
		if f == nil {
			return nil, swNotFound
		}
		if f.fid == 0x7001 && c.p.contactless {
			return nil, swNotFound
		}
		c.curEF = f
		off = int(a.p2)
	}
	if f == nil {
		return nil, swNotAllowed
	}
	if off > len(f.data) || (off == len(f.data) && off > 0) {
		return nil, swWrongOffset
	}
	n := a.le
	if n < 0 {
		n = 256
	}
	end := min(off+n, len(f.data))
	out := append([]byte{}, f.data[off:end]...)
	if end-off < n {
		return out, swEOF
	}
	return out, swOK
}

func (c *CPS) verify(a apdu) []byte {
	if a.p1 != 0x00 || (a.p2&0x7F) != 0x01 {
		return swRefNotFound
	}
	if c.st.PINTriesLeft <= 0 {
		return swBlocked
	}
	if len(a.data) == 0 { // status
		if c.verified {
			return swOK
		}
		return []byte{0x63, 0xC0 | byte(c.st.PINTriesLeft)}
	}
	got := string(bytes.TrimRight(a.data, "\xff\x00"))
	if got != c.pin() {
		c.verified = false
		c.st.PINTriesLeft--
		if err := c.save(); err != nil {
			c.stateErr = err
		}
		if c.st.PINTriesLeft == 0 {
			return swBlocked
		}
		return []byte{0x63, 0xC0 | byte(c.st.PINTriesLeft)}
	}
	if c.st.PINTriesLeft != c.p.PINTries {
		c.st.PINTriesLeft = c.p.PINTries
		if err := c.save(); err != nil {
			c.stateErr = err
		}
	}
	c.verified = true
	c.usesLeft = c.opts.UsageLimit
	return swOK
}

// resetRetryCounter: P1=00 data = unblock code ‖ new PIN; P1=01 data =
// unblock code (the PIN stays).
func (c *CPS) resetRetryCounter(a apdu) []byte {
	if (a.p2 & 0x7F) != 0x01 {
		return swRefNotFound
	}
	if c.st.UnblockTriesLeft <= 0 {
		return swBlocked
	}
	n := len(c.p.UnblockCode)
	if len(a.data) < n || (a.p1 == 0x01 && len(a.data) != n) || (a.p1 == 0x00 && len(a.data) < n+4) || a.p1 > 0x01 {
		if a.p1 > 0x01 {
			return swWrongP1P2
		}
		return swWrongLength
	}
	if string(a.data[:n]) != c.p.UnblockCode {
		c.st.UnblockTriesLeft--
		_ = c.save()
		if c.st.UnblockTriesLeft == 0 {
			return swBlocked
		}
		return []byte{0x63, 0xC0 | byte(min(c.st.UnblockTriesLeft, 15))}
	}
	if a.p1 == 0x00 {
		newPIN := string(bytes.TrimRight(a.data[n:], "\xff\x00"))
		if len(newPIN) < 4 || len(newPIN) > 8 {
			return swWrongData
		}
		c.st.PIN = newPIN
		if newPIN == c.p.PIN {
			c.st.PIN = ""
		}
	}
	c.st.UnblockTriesLeft = unblockTries
	c.st.PINTriesLeft = c.p.PINTries
	c.verified = false
	if err := c.save(); err != nil {
		c.stateErr = err
	}
	return swOK
}

// getData answers GET DATA on an SDO: 4D L 70 L BF <class|80> <ref> L <tag> 80.
func (c *CPS) getData(a apdu) ([]byte, []byte) {
	if a.p1 != 0x3F || a.p2 != 0xFF {
		return nil, swWrongP1P2
	}
	hl, ok := findTLV(a.data, 0x4D)
	if !ok {
		return nil, swWrongData
	}
	t70, ok := findTLV(hl, 0x70)
	if !ok || len(t70) < 5 || t70[0] != 0xBF {
		return nil, swWrongData
	}
	class, ref := t70[1]&0x7F, t70[2]&0x3F
	req := t70[4:]
	if len(req) == 0 {
		return nil, swWrongData
	}
	tag := req[:1]
	if req[0]&0x1F == 0x1F && len(req) > 1 {
		tag = req[:2]
	}
	id := []byte{0xBF, class | 0x80, ref}
	wrap := func(v []byte) ([]byte, []byte) { return t1(0x70, tlv(id, v)), swOK }
	switch {
	case class == 0x01 && ref == 0x01: // CHV: the PIN
		switch {
		case bytes.Equal(tag, []byte{0x7F, 0x41}):
			return wrap(tlv(tag, t1(0x80, []byte{0x08}), t1(0x81, []byte{0x04})))
		case tag[0] == 0xA0:
			docp := [][]byte{
				t1(0x9A, []byte{byte(c.p.PINTries)}),
				t1(0x9B, []byte{byte(max(c.st.PINTriesLeft, 0))}),
			}
			if c.opts.UsageLimit > 0 {
				left := 0
				if c.verified {
					left = c.usesLeft
				}
				docp = append(docp, t1(0x9C, []byte{byte(c.opts.UsageLimit)}), t1(0x9D, []byte{byte(left)}))
			}
			docp = append(docp, t1(0xA1, t1(0x8C, []byte{0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00})))
			return wrap(t1(0xA0, docp...))
		}
	case class == 0x10 && (ref == byte(c.p.Signature.KeyRef&0x3F) || ref == byte(c.p.Authentication.KeyRef&0x3F)):
		if tag[0] != 0xA0 {
			return nil, swWrongP1P2 // public parts not readable: OpenSC then asks the DOCP
		}
		k := c.p.authKey
		if ref == byte(c.p.Signature.KeyRef&0x3F) {
			k = c.p.sigKey
		}
		size := k.Size()
		return wrap(t1(0xA0,
			t1(0x80, []byte{byte(size >> 8), byte(size)}),
			t1(0xA1, t1(0x8C, []byte{0x7F, 0x11, 0x11, 0x11, 0xFF, 0xFF, 0xFF, 0x00}))))
	case class == 0x7B:
		return wrap(t1(0x7B, t1(0xA4, t1(0x83, []byte{0x01}), t1(0x95, []byte{0x08}))))
	}
	return nil, swRefNotFound
}

// mse: MANAGE SECURITY ENVIRONMENT SET (P1=41) for AT (A4), DST (B6), HT
// (AA) or CT (B8); data 84 01 <key ref> and/or 80 01 <algorithm>.
func (c *CPS) mse(a apdu) []byte {
	if a.p1 != 0x41 {
		return swWrongP1P2
	}
	key, _ := findTLV(a.data, 0x84)
	alg, _ := findTLV(a.data, 0x80)
	var k, al byte
	if len(key) == 1 {
		k = key[0] | 0x80
	}
	if len(alg) == 1 {
		al = alg[0]
	}
	switch a.p2 {
	case 0xA4:
		if k != byte(c.p.Authentication.KeyRef) && k != byte(c.p.Signature.KeyRef) {
			return swRefNotFound
		}
		c.atKey = k
	case 0xB6:
		if k != byte(c.p.Signature.KeyRef) && k != byte(c.p.Authentication.KeyRef) {
			return swRefNotFound
		}
		c.dstKey, c.dstAlg = k, al
		c.hash = nil
	case 0xAA:
		c.htAlg = al
		c.hash = nil
	case 0xB8:
	default:
		return swWrongP1P2
	}
	return swOK
}

func (c *CPS) pso(a apdu) ([]byte, []byte) {
	switch {
	case a.p1 == 0x90 && a.p2 == 0xA0:
		return nil, c.psoHash(a.data)
	case a.p1 == 0x9E && a.p2 == 0x9A:
		return c.psoCDS()
	}
	return nil, swWrongP1P2
}

// psoHash takes either the final hash (90 20 <hash>) or the intermediate
// SHA-256 state of all full blocks with their bit count and the last
// partial block (90 28 <h0..h7> <bits> 80 <n> <rest>), or only the data
// when it is shorter than a block (90 00 80 <n> <data>).
func (c *CPS) psoHash(data []byte) []byte {
	c.hash = nil
	h90, ok := findTLV(data, 0x90)
	if !ok {
		return swWrongData
	}
	rest, hasRest := findTLV(data, 0x80)
	switch {
	case len(h90) == sha256.Size && !hasRest:
		c.hash = append([]byte{}, h90...)
		return swOK
	case len(h90) == 0 && hasRest && len(rest) < 64:
		s := sha256.Sum256(rest)
		c.hash = s[:]
		return swOK
	case len(h90) == 40 && hasRest && len(rest) < 64:
		bitCount := binary.BigEndian.Uint64(h90[32:])
		if bitCount%512 != 0 {
			return swWrongData
		}
		st := make([]byte, 0, 108)
		st = append(st, "sha\x03"...)
		st = append(st, h90[:32]...)
		st = append(st, make([]byte, 64)...)
		st = binary.BigEndian.AppendUint64(st, bitCount/8)
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
			return swWrongData
		}
		h.Write(rest)
		c.hash = h.Sum(nil)
		return swOK
	}
	return swWrongData
}

func (c *CPS) psoCDS() ([]byte, []byte) {
	if c.p.contactless {
		return nil, swConditions // no signature without contact
	}
	if c.dstKey != byte(c.p.Signature.KeyRef) || c.dstAlg != 0x42 || c.hash == nil {
		return nil, swConditions
	}
	if sw := c.useKey(); sw != nil {
		return nil, sw
	}
	digest := c.hash
	c.hash = nil
	c.delay()
	sig, err := rsa.SignPKCS1v15(nil, c.p.sigKey, crypto.SHA256, digest)
	if err != nil {
		return nil, swWrongData
	}
	return sig, swOK
}

// internalAuthenticate signs a DigestInfo (PKCS#1 v1.5 type 1) with the
// authentication key selected by MSE SET AT.
func (c *CPS) internalAuthenticate(a apdu) ([]byte, []byte) {
	if c.atKey != byte(c.p.Authentication.KeyRef) {
		return nil, swConditions // the signature key signs only through PSO CDS
	}
	if len(a.data) == 0 || len(a.data) > c.p.authKey.Size()-11 {
		return nil, swWrongLength
	}
	if sw := c.useKey(); sw != nil {
		return nil, sw
	}
	c.delay()
	sig, err := rsa.SignPKCS1v15(nil, c.p.authKey, 0, a.data)
	if err != nil {
		return nil, swWrongData
	}
	return sig, swOK
}

func (c *CPS) useKey() []byte {
	if c.st.PINTriesLeft <= 0 {
		return swBlocked
	}
	if !c.verified {
		return swSecurity
	}
	if c.opts.UsageLimit > 0 {
		if c.usesLeft <= 0 {
			c.verified = false
			return swSecurity
		}
		c.usesLeft--
	}
	c.nOps++
	return nil
}

func (c *CPS) delay() {
	if c.opts.Delay > 0 {
		time.Sleep(c.opts.Delay)
	}
}
