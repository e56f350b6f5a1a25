package virtual

import (
	"encoding/hex"

	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/internal/apdu"
)

// The card's file tree. The AIDs, file ids and the PKCS#15 encodings follow
// what OpenSC's iasecc driver and PKCS#15 parser read from a real CPx
// (../shared/reference/pcsc-virtual-card.md §4); the layout of the
// application DF is ours.
var (
	// AIDMF is the DF name of the MF ("ECC root"), announced in EF.ATR.
	AIDMF = mustHex("8025000001FF0100")
	// AIDIAS is the CPx IAS application (contact).
	AIDIAS = apdu.AIDIAS
	// AIDIASContactless is the CPx IAS application seen without contact.
	AIDIASContactless = apdu.AIDIASContactless
)

// PKCS#15 object ids of the two keys and their certificates (as on a real
// CPx: the application AID followed by 01 / 02).
var (
	SignatureKeyID      = mustHex("E828BD080F8025000001FF001001")
	AuthenticationKeyID = mustHex("E828BD080F8025000001FF001002")
)

// Algorithm references of TokenInfo's supportedAlgorithms (IAS-ECC).
const (
	algRefRSAPKCS       = int(apdu.AlgRSAPKCS1) // INTERNAL AUTHENTICATE over a DigestInfo
	algRefSHA1RSA       = int(apdu.AlgSHA1RSA)
	algRefSHA256RSA     = int(apdu.AlgSHA256RSA)
	algRefRSADecipher   = int(apdu.AlgRSADecipher)
	ckmRSAPKCS          = 0x0001
	ckmSHA1RSAPKCS      = 0x0006
	ckmSHA256RSAPKCS    = 0x0040
	opComputeSignature  = 1
	opDecipher          = 5
	keyUsageDecrypt     = 1
	keyUsageSign        = 2
	keyUsageNonRepud    = 9
	pkcs15PrivateObject = 0
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

type file struct {
	fid      uint16
	name     []byte // DF name (AID), DFs only
	sfi      byte
	data     []byte // EF content; nil for a DF
	children []*file
	parent   *file
	df       bool
}

func (f *file) add(c *file) *file {
	c.parent = f
	f.children = append(f.children, c)
	return c
}

func (f *file) child(fid uint16) *file {
	for _, c := range f.children {
		if c.fid == fid {
			return c
		}
	}
	return nil
}

// find is the file fid under f (f itself included), depth first.
func (f *file) find(fid uint16) *file {
	if f.fid == fid {
		return f
	}
	for _, c := range f.children {
		if g := c.find(fid); g != nil {
			return g
		}
	}
	return nil
}

// fcp is the FCP template SELECT returns (P2=04). Tag 8C (access rules) is
// mandatory for OpenSC; SCB 00 = always, FF = never.
func (f *file) fcp() []byte {
	fid := []byte{byte(f.fid >> 8), byte(f.fid)}
	if f.df {
		return apdu.T1(0x62,
			apdu.T1(0x82, []byte{0x38}),
			apdu.T1(0x83, fid),
			apdu.T1(0x84, f.name),
			apdu.T1(0x8A, []byte{0x05}),
			apdu.T1(0xA1, apdu.T1(0x8C, []byte{0x02, 0xFF})))
	}
	size := len(f.data)
	parts := [][]byte{
		apdu.T1(0x80, []byte{byte(size >> 8), byte(size)}),
		apdu.T1(0x82, []byte{0x01}),
		apdu.T1(0x83, fid),
	}
	if f.sfi != 0 {
		parts = append(parts, apdu.T1(0x88, []byte{f.sfi << 3}))
	}
	parts = append(parts, apdu.T1(0x8A, []byte{0x05}), apdu.T1(0xA1, apdu.T1(0x8C, []byte{0x03, 0xFF, 0x00})))
	return apdu.T1(0x62, parts...)
}

// buildTree lays out MF, EF.ATR, EF.DIR, EF.SN and the IAS application DF
// with its PKCS#15 files, the two certificates and the 16 billing
// situation files (D120 to D12F; those the profile does not fill are
// empty). The profile's situations were checked when it was loaded.
func buildTree(p *Profile, situations [][]byte) *file {
	mf := &file{fid: 0x3F00, name: AIDMF, df: true}
	mf.add(&file{fid: 0x2F01, sfi: 0x1D, data: efATR()})
	appAID := AIDIAS
	if p.contactless {
		appAID = AIDIASContactless
	}
	appPath := []byte{0x3F, 0x00, 0x00, 0x01}
	label := "CPx IAS"
	if p.contactless {
		label = "CPx IAS CL"
	}
	mf.add(&file{fid: 0x2F00, sfi: 0x1E, data: apdu.T1(0x61, apdu.T1(0x4F, appAID), apdu.T1(0x50, []byte(label)), apdu.T1(0x51, appPath))})
	mf.add(&file{fid: 0xD003, sfi: 0x1C, data: apdu.T1(0x5A, p.serial)})
	app := mf.add(&file{fid: 0x0001, name: appAID, df: true})

	path := func(fid uint16) []byte {
		return seq(octets(append(append([]byte{}, appPath...), byte(fid>>8), byte(fid))))
	}
	// ODF: [0] PrKDF, [4] CDF, [8] AODF.
	app.add(&file{fid: 0x5031, data: append(append(
		apdu.T1(0xA0, path(0x4402)),
		apdu.T1(0xA4, path(0x4404))...),
		apdu.T1(0xA8, path(0x4401))...)})
	algo := func(ref, mech, op, algRef int) []byte {
		return seq(derInt(ref), derInt(mech), []byte{0x05, 0x00}, bits(op), derInt(algRef))
	}
	app.add(&file{fid: 0x5032, data: seq(
		derInt(0),
		octets(p.serial),
		utf8("ANS"),
		apdu.T1(0x80, []byte("CPS "+p.Surname+" "+p.GivenName)),
		bits(0), // readOnly
		apdu.T1(0xA2,
			algo(1, ckmRSAPKCS, opComputeSignature, algRefRSAPKCS),
			algo(2, ckmRSAPKCS, opDecipher, algRefRSADecipher),
			algo(3, ckmSHA1RSAPKCS, opComputeSignature, algRefSHA1RSA),
			algo(4, ckmSHA256RSAPKCS, opComputeSignature, algRefSHA256RSA)),
	)})
	// AODF: the PIN ("code porteur"), ascii-numeric, 4 to 8 digits, reference 1.
	app.add(&file{fid: 0x4401, data: seq(
		seq(utf8("PIN"), bits(pkcs15PrivateObject+1)), // modifiable
		seq(octets([]byte{0x01})),
		apdu.T1(0xA1, seq(
			bits(1, 4), // local, initialized
			[]byte{0x0A, 0x01, 0x01},
			derInt(4), derInt(8), derInt(8),
			apdu.T1(0x80, []byte{0x01}),
			seq(octets([]byte{0x3F, 0x00})),
		)),
	)})
	prkey := func(label string, id []byte, usage []int, ref int, bitsLen int) []byte {
		return seq(
			seq(utf8(label), bits(pkcs15PrivateObject), octets([]byte{0x01})),
			seq(octets(id), bits(usage...), bits(0, 2, 3, 4), derInt(ref)),
			apdu.T1(0xA1, seq(seq(octets(appPath)), derInt(bitsLen))),
		)
	}
	app.add(&file{fid: 0x4402, data: append(
		prkey("CPS_PRIV_SIG", SignatureKeyID, []int{keyUsageNonRepud}, p.Signature.KeyRef&0x7F, p.sigKey.N.BitLen()),
		prkey("CPS_PRIV_AUT", AuthenticationKeyID, []int{keyUsageDecrypt, keyUsageSign}, p.Authentication.KeyRef&0x7F, p.authKey.N.BitLen())...)})
	cert := func(label string, id []byte, fid uint16) []byte {
		return seq(seq(utf8(label)), seq(octets(id)), apdu.T1(0xA1, seq(path(fid))))
	}
	app.add(&file{fid: 0x4404, data: append(
		cert("CPS_SIG", SignatureKeyID, apdu.FIDSignatureCert),
		cert("CPS_AUT", AuthenticationKeyID, apdu.FIDAuthenticationCert)...)})
	app.add(&file{fid: apdu.FIDSignatureCert, data: p.sigCert})
	app.add(&file{fid: apdu.FIDAuthenticationCert, data: p.authCert})
	for i := range card.MaxSituations {
		var data []byte
		if i < len(situations) {
			data = situations[i]
		}
		app.add(&file{fid: uint16(card.FirstSituationFile + i), data: data})
	}
	if !p.contactless {
		// Readable only with contact: a read failure means contactless mode.
		app.add(&file{fid: 0x7001, data: []byte{0x00}})
	}
	return mf
}

// efATR is the CPx EF.ATR: a stray leading 0x80 (OpenSC skips it for CPx),
// card capabilities, the MF AID (tag 4F), I/O buffer sizes (E0) and the
// OID 1.3.162.15480.2.
func efATR() []byte {
	return mustHex("80" +
		"4301B8" +
		"4604" + "04B0ECC1" +
		"4703" + "940180" +
		"4F08" + "8025000001FF0100" +
		"E010" + "02020104" + "02020104" + "02020100" + "02020100" +
		"7808" + "06062B8122F87802" +
		"82029000")
}
