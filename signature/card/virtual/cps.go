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

	"github.com/fsegate/fsegate/signature/card/internal/apdu"
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

// APDU implements Card: one command, one response (data ‖ SW1 SW2).
func (c *CPS) APDU(cmd []byte) []byte {
	if c.opts.OnAPDU != nil {
		c.opts.OnAPDU(cmd)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := apdu.Parse(cmd)
	if !ok {
		return apdu.Response(nil, apdu.WrongLength)
	}
	if a.CLA&0x80 != 0 || a.CLA&0x70 != 0 {
		return apdu.Response(nil, apdu.CLAUnsupported)
	}
	if apdu.INS(a.INS) == apdu.InsManageChannel {
		data, sw := c.manageChannel(a)
		return apdu.Response(data, sw)
	}
	if c.p.chan1 {
		// CPS4: the IAS application answers on logical channel 1.
		if a.Channel() != 1 || !c.channel1 {
			return apdu.Response(nil, apdu.NoChannel)
		}
	} else if a.Channel() != 0 {
		return apdu.Response(nil, apdu.NoChannel)
	}
	if apdu.INS(a.INS) == apdu.InsGetResponse {
		return c.getResponse(a)
	}
	c.pending = nil
	data, sw := c.dispatch(a)
	if len(data) == 0 {
		return apdu.Response(nil, sw)
	}
	if c.opts.GetResponse && sw == apdu.OK {
		c.pending = data
		return apdu.Response(nil, apdu.MoreData(len(data)))
	}
	return apdu.Response(data, sw)
}

// manageChannel answers MANAGE CHANNEL: opened with P2 00, the card
// assigns channel 1 and names it.
func (c *CPS) manageChannel(a apdu.Command) ([]byte, apdu.SW) {
	if !c.p.chan1 {
		return nil, apdu.INSUnsupported
	}
	switch {
	case a.P1 == apdu.ChannelOpen && a.P2 == 0x00: // open, card assigns
		c.channel1 = true
		return []byte{0x01}, apdu.OK
	case a.P1 == apdu.ChannelOpen && a.P2 == 0x01:
		c.channel1 = true
		return nil, apdu.OK
	case a.P1 == apdu.ChannelClose && a.P2 == 0x01:
		c.channel1 = false
		return nil, apdu.OK
	}
	return nil, apdu.WrongP1P2
}

func (c *CPS) getResponse(a apdu.Command) []byte {
	if c.pending == nil {
		return apdu.Response(nil, apdu.NotAllowed)
	}
	n := min(len(c.pending), 256)
	if a.Le > 0 {
		n = min(n, a.Le)
	}
	out := append([]byte{}, c.pending[:n]...)
	c.pending = c.pending[n:]
	if len(c.pending) > 0 {
		return apdu.Response(out, apdu.MoreData(len(c.pending)))
	}
	c.pending = nil
	return apdu.Response(out, apdu.OK)
}

func (c *CPS) dispatch(a apdu.Command) ([]byte, apdu.SW) {
	switch apdu.INS(a.INS) {
	case apdu.InsSelect:
		return c.selectFile(a)
	case apdu.InsReadBinary:
		return c.readBinary(a)
	case apdu.InsVerify:
		return nil, c.verify(a)
	case apdu.InsResetRetryCounter:
		return nil, c.resetRetryCounter(a)
	case apdu.InsGetData:
		return c.getData(a)
	case apdu.InsMSE:
		return nil, c.mse(a)
	case apdu.InsPSO:
		return c.pso(a)
	case apdu.InsInternalAuthenticate:
		return c.internalAuthenticate(a)
	case apdu.InsGetChallenge:
		n := a.Le
		if n <= 0 {
			n = 8
		}
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b, apdu.OK
	}
	return nil, apdu.INSUnsupported
}

func (c *CPS) selectFile(a apdu.Command) ([]byte, apdu.SW) {
	var f *file
	switch a.P1 {
	case 0x00, 0x01, apdu.SelectByFID:
		if len(a.Data) != 2 {
			return nil, apdu.WrongLength
		}
		f = c.byFID(binary.BigEndian.Uint16(a.Data))
	case apdu.SelectByName:
		f = c.byName(c.mf, a.Data)
	case apdu.SelectByPath, 0x09: // iasecc sends P1=09 with a leading 3F00
		if len(a.Data) == 0 || len(a.Data)%2 != 0 {
			return nil, apdu.WrongLength
		}
		f = c.byPath(a.Data)
	default:
		return nil, apdu.WrongP1P2
	}
	if f == nil {
		return nil, apdu.NotFound
	}
	if f.fid == 0x7001 && c.p.contactless {
		return nil, apdu.NotFound
	}
	var fcp []byte
	switch a.P2 &^ 0x03 {
	case apdu.SelectFCP:
		fcp = f.fcp()
	case apdu.SelectNoData:
	default:
		return nil, apdu.WrongP1P2 // a CPx answers 6A86 to P2=00
	}
	if f.df {
		c.cur, c.curEF = f, nil
	} else {
		c.cur, c.curEF = f.parent, f
	}
	return fcp, apdu.OK
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

func (c *CPS) readBinary(a apdu.Command) ([]byte, apdu.SW) {
	f := c.curEF
	off := int(a.P1)<<8 | int(a.P2)
	if a.P1&0x80 != 0 {
		sfi := a.P1 & 0x1F
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
			return nil, apdu.NotFound
		}
		if f.fid == 0x7001 && c.p.contactless {
			return nil, apdu.NotFound
		}
		c.curEF = f
		off = int(a.P2)
	}
	if f == nil {
		return nil, apdu.NotAllowed
	}
	if off > len(f.data) || (off == len(f.data) && off > 0) {
		return nil, apdu.WrongOffset
	}
	n := a.Le
	if n == 0 {
		n = 256
	}
	end := min(off+n, len(f.data))
	out := append([]byte{}, f.data[off:end]...)
	if end-off < n {
		return out, apdu.EndOfFile
	}
	return out, apdu.OK
}

func (c *CPS) verify(a apdu.Command) apdu.SW {
	if a.P1 != 0x00 || (a.P2&0x7F) != apdu.PINRef {
		return apdu.RefNotFound
	}
	if c.st.PINTriesLeft <= 0 {
		return apdu.Blocked
	}
	if len(a.Data) == 0 { // status
		if c.verified {
			return apdu.OK
		}
		return apdu.Tries(c.st.PINTriesLeft)
	}
	got := string(bytes.TrimRight(a.Data, "\xff\x00"))
	if got != c.pin() {
		c.verified = false
		c.st.PINTriesLeft--
		if err := c.save(); err != nil {
			c.stateErr = err
		}
		if c.st.PINTriesLeft == 0 {
			return apdu.Blocked
		}
		return apdu.Tries(c.st.PINTriesLeft)
	}
	if c.st.PINTriesLeft != c.p.PINTries {
		c.st.PINTriesLeft = c.p.PINTries
		if err := c.save(); err != nil {
			c.stateErr = err
		}
	}
	c.verified = true
	c.usesLeft = c.opts.UsageLimit
	return apdu.OK
}

// resetRetryCounter: P1=00 data = unblock code ‖ new PIN; P1=01 data =
// unblock code (the PIN stays).
func (c *CPS) resetRetryCounter(a apdu.Command) apdu.SW {
	if (a.P2 & 0x7F) != apdu.PINRef {
		return apdu.RefNotFound
	}
	if c.st.UnblockTriesLeft <= 0 {
		return apdu.Blocked
	}
	n := len(c.p.UnblockCode)
	if len(a.Data) < n || (a.P1 == apdu.ResetOnly && len(a.Data) != n) || (a.P1 == apdu.ResetWithNewPIN && len(a.Data) < n+4) || a.P1 > apdu.ResetOnly {
		if a.P1 > apdu.ResetOnly {
			return apdu.WrongP1P2
		}
		return apdu.WrongLength
	}
	if string(a.Data[:n]) != c.p.UnblockCode {
		c.st.UnblockTriesLeft--
		_ = c.save()
		if c.st.UnblockTriesLeft == 0 {
			return apdu.Blocked
		}
		return apdu.Tries(c.st.UnblockTriesLeft)
	}
	if a.P1 == apdu.ResetWithNewPIN {
		newPIN := string(bytes.TrimRight(a.Data[n:], "\xff\x00"))
		if len(newPIN) < 4 || len(newPIN) > 8 {
			return apdu.WrongData
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
	return apdu.OK
}

// getData answers GET DATA on an SDO: 4D L 70 L BF <class|80> <ref> L <tag> 80.
func (c *CPS) getData(a apdu.Command) ([]byte, apdu.SW) {
	if a.P1 != apdu.GetDataSDOP1 || a.P2 != apdu.GetDataSDOP2 {
		return nil, apdu.WrongP1P2
	}
	hl, ok := apdu.Find(a.Data, apdu.TagGetDataHeader)
	if !ok {
		return nil, apdu.WrongData
	}
	t70, ok := apdu.Find(hl, apdu.TagGetDataSDO)
	if !ok || len(t70) < 5 || t70[0] != 0xBF {
		return nil, apdu.WrongData
	}
	class, ref := t70[1]&0x7F, t70[2]&0x3F
	req := t70[4:]
	if len(req) == 0 {
		return nil, apdu.WrongData
	}
	tag := req[:1]
	if req[0]&0x1F == 0x1F && len(req) > 1 {
		tag = req[:2]
	}
	id := []byte{0xBF, class | 0x80, ref}
	wrap := func(v []byte) ([]byte, apdu.SW) { return apdu.T1(apdu.TagGetDataSDO, apdu.TLV(id, v)), apdu.OK }
	switch {
	case class == apdu.SDOClassCHV && ref == apdu.PINRef:
		switch {
		case bytes.Equal(tag, []byte{0x7F, 0x41}):
			return wrap(apdu.TLV(tag, apdu.T1(0x80, []byte{0x08}), apdu.T1(0x81, []byte{0x04})))
		case tag[0] == apdu.TagDOCP:
			docp := [][]byte{
				apdu.T1(apdu.TagMaxTries, []byte{byte(c.p.PINTries)}),
				apdu.T1(apdu.TagTriesLeft, []byte{byte(max(c.st.PINTriesLeft, 0))}),
			}
			if c.opts.UsageLimit > 0 {
				left := 0
				if c.verified {
					left = c.usesLeft
				}
				docp = append(docp, apdu.T1(apdu.TagUsageMax, []byte{byte(c.opts.UsageLimit)}), apdu.T1(apdu.TagUsageLeft, []byte{byte(left)}))
			}
			docp = append(docp, apdu.T1(0xA1, apdu.T1(0x8C, []byte{0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00})))
			return wrap(apdu.T1(apdu.TagDOCP, docp...))
		}
	case class == apdu.SDOClassRSAKey && (ref == byte(c.p.Signature.KeyRef&0x3F) || ref == byte(c.p.Authentication.KeyRef&0x3F)):
		if tag[0] != apdu.TagDOCP {
			return nil, apdu.WrongP1P2 // public parts not readable: OpenSC then asks the DOCP
		}
		k := c.p.authKey
		if ref == byte(c.p.Signature.KeyRef&0x3F) {
			k = c.p.sigKey
		}
		size := k.Size()
		return wrap(apdu.T1(apdu.TagDOCP,
			apdu.T1(0x80, []byte{byte(size >> 8), byte(size)}),
			apdu.T1(0xA1, apdu.T1(0x8C, []byte{0x7F, 0x11, 0x11, 0x11, 0xFF, 0xFF, 0xFF, 0x00}))))
	case class == apdu.SDOClassSE:
		return wrap(apdu.T1(0x7B, apdu.T1(0xA4, apdu.T1(0x83, []byte{0x01}), apdu.T1(0x95, []byte{0x08}))))
	}
	return nil, apdu.RefNotFound
}

// mse: MANAGE SECURITY ENVIRONMENT SET (P1=41) for AT (A4), DST (B6), HT
// (AA) or CT (B8); data 84 01 <key ref> and/or 80 01 <algorithm>.
func (c *CPS) mse(a apdu.Command) apdu.SW {
	if a.P1 != apdu.MSESet {
		return apdu.WrongP1P2
	}
	key, _ := apdu.Find(a.Data, apdu.TagMSEKeyRef)
	alg, _ := apdu.Find(a.Data, apdu.TagMSEAlgorithm)
	var k, al byte
	if len(key) == 1 {
		k = key[0] | 0x80
	}
	if len(alg) == 1 {
		al = alg[0]
	}
	switch a.P2 {
	case apdu.TemplateAT:
		if k != byte(c.p.Authentication.KeyRef) && k != byte(c.p.Signature.KeyRef) {
			return apdu.RefNotFound
		}
		c.atKey = k
	case apdu.TemplateDST:
		if k != byte(c.p.Signature.KeyRef) && k != byte(c.p.Authentication.KeyRef) {
			return apdu.RefNotFound
		}
		c.dstKey, c.dstAlg = k, al
		c.hash = nil
	case apdu.TemplateHT:
		c.htAlg = al
		c.hash = nil
	case apdu.TemplateCT:
	default:
		return apdu.WrongP1P2
	}
	return apdu.OK
}

func (c *CPS) pso(a apdu.Command) ([]byte, apdu.SW) {
	switch {
	case a.P1 == apdu.PSOHashP1 && a.P2 == apdu.PSOHashP2:
		return nil, c.psoHash(a.Data)
	case a.P1 == apdu.PSOCDSP1 && a.P2 == apdu.PSOCDSP2:
		return c.psoCDS()
	}
	return nil, apdu.WrongP1P2
}

// psoHash takes either the final hash (90 20 <hash>) or the intermediate
// SHA-256 state of all full blocks with their bit count and the last
// partial block (90 28 <h0..h7> <bits> 80 <n> <rest>), or only the data
// when it is shorter than a block (90 00 80 <n> <data>).
func (c *CPS) psoHash(data []byte) apdu.SW {
	c.hash = nil
	h90, ok := apdu.Find(data, apdu.TagHashCode)
	if !ok {
		return apdu.WrongData
	}
	rest, hasRest := apdu.Find(data, apdu.TagHashData)
	switch {
	case len(h90) == sha256.Size && !hasRest:
		c.hash = append([]byte{}, h90...)
		return apdu.OK
	case len(h90) == 0 && hasRest && len(rest) < 64:
		s := sha256.Sum256(rest)
		c.hash = s[:]
		return apdu.OK
	case len(h90) == 40 && hasRest && len(rest) < 64:
		bitCount := binary.BigEndian.Uint64(h90[32:])
		if bitCount%512 != 0 {
			return apdu.WrongData
		}
		st := make([]byte, 0, 108)
		st = append(st, "sha\x03"...)
		st = append(st, h90[:32]...)
		st = append(st, make([]byte, 64)...)
		st = binary.BigEndian.AppendUint64(st, bitCount/8)
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
			return apdu.WrongData
		}
		h.Write(rest)
		c.hash = h.Sum(nil)
		return apdu.OK
	}
	return apdu.WrongData
}

func (c *CPS) psoCDS() ([]byte, apdu.SW) {
	if c.p.contactless {
		return nil, apdu.Conditions // no signature without contact
	}
	if c.dstKey != byte(c.p.Signature.KeyRef) || c.dstAlg != apdu.AlgSHA256RSA || c.hash == nil {
		return nil, apdu.Conditions
	}
	if sw := c.useKey(); sw != apdu.OK {
		return nil, sw
	}
	digest := c.hash
	c.hash = nil
	c.delay()
	sig, err := rsa.SignPKCS1v15(nil, c.p.sigKey, crypto.SHA256, digest)
	if err != nil {
		return nil, apdu.WrongData
	}
	return sig, apdu.OK
}

// internalAuthenticate signs a DigestInfo (PKCS#1 v1.5 type 1) with the
// authentication key selected by MSE SET AT.
func (c *CPS) internalAuthenticate(a apdu.Command) ([]byte, apdu.SW) {
	if c.atKey != byte(c.p.Authentication.KeyRef) {
		return nil, apdu.Conditions // the signature key signs only through PSO CDS
	}
	if len(a.Data) == 0 || len(a.Data) > c.p.authKey.Size()-11 {
		return nil, apdu.WrongLength
	}
	if sw := c.useKey(); sw != apdu.OK {
		return nil, sw
	}
	c.delay()
	sig, err := rsa.SignPKCS1v15(nil, c.p.authKey, 0, a.Data)
	if err != nil {
		return nil, apdu.WrongData
	}
	return sig, apdu.OK
}

// useKey counts one private-key operation, or says why the key may not
// be used.
func (c *CPS) useKey() apdu.SW {
	if c.st.PINTriesLeft <= 0 {
		return apdu.Blocked
	}
	if !c.verified {
		return apdu.Security
	}
	if c.opts.UsageLimit > 0 {
		if c.usesLeft <= 0 {
			c.verified = false
			return apdu.Security
		}
		c.usesLeft--
	}
	c.nOps++
	return apdu.OK
}

func (c *CPS) delay() {
	if c.opts.Delay > 0 {
		time.Sleep(c.opts.Delay)
	}
}
