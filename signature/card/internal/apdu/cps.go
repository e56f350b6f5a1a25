package apdu

import "encoding/hex"

// The CPx IAS application's names (domain.md §2, OpenSC iasecc).
var (
	// AIDIAS is the CPx IAS application (contact).
	AIDIAS = mustHex("E828BD080F8025000001FF0010")
	// AIDIASContactless is the CPx IAS application seen without contact.
	AIDIASContactless = mustHex("E828BD080F8025000001FF0020")
)

// File ids of the certificates in the IAS application (docs/card.md).
const (
	FIDSignatureCert      uint16 = 0xC001
	FIDAuthenticationCert uint16 = 0xC002
)

// PINRef is the reference of the CHV (the PIN), SDO BF 81 01.
const PINRef byte = 0x01

// SDO classes (GET DATA on BF <class|80> <ref>).
const (
	SDOClassCHV    byte = 0x01
	SDOClassRSAKey byte = 0x10
	SDOClassSE     byte = 0x7B
)

// Tags of GET DATA's answer on the CHV: 70 { BF 81 01 { A0 { 9A max tries,
// 9B tries left, 9C usage max, 9D usage left } } }.
const (
	TagGetDataHeader byte = 0x4D
	TagGetDataSDO    byte = 0x70
	TagDOCP          byte = 0xA0
	TagMaxTries      byte = 0x9A
	TagTriesLeft     byte = 0x9B
	TagUsageMax      byte = 0x9C
	TagUsageLeft     byte = 0x9D
	TagFCP           byte = 0x62
	TagFCPSize       byte = 0x80
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// ManageChannelOpen opens logical channel ch (sent on the basic channel).
func ManageChannelOpen(ch byte) Command {
	return New(0x00, InsManageChannel, ChannelOpen, ch, nil)
}

// SelectAID selects a DF by name, answering no data.
func SelectAID(cla byte, aid []byte) Command {
	return New(cla, InsSelect, SelectByName, SelectNoData, aid)
}

// SelectFID selects a file of the current DF by id, answering its FCP.
func SelectFID(cla byte, fid uint16) Command {
	return New(cla, InsSelect, SelectByFID, SelectFCP, []byte{byte(fid >> 8), byte(fid)})
}

// ReadBinary reads n bytes (1 to 256) of the current EF from offset off
// (below 0x8000).
func ReadBinary(cla byte, off, n int) Command {
	c := New(cla, InsReadBinary, byte(off>>8)&0x7F, byte(off), nil)
	c.Le = n
	return c
}

// Verify presents the PIN for reference ref.
func Verify(cla, ref byte, pin []byte) Command {
	return New(cla, InsVerify, 0x00, ref, pin)
}

// ResetRetryCounter unblocks reference ref: data is the unblock code
// (p1 ResetOnly) or the unblock code ‖ the new PIN (p1 ResetWithNewPIN).
func ResetRetryCounter(cla, p1, ref byte, data []byte) Command {
	return New(cla, InsResetRetryCounter, p1, ref, data)
}

// GetDataSDO asks for the part tag (e.g. TagDOCP) of the security data
// object BF <class|80> <ref>: 4D L 70 L BF <class|80> <ref> 02 <tag> 80.
func GetDataSDO(cla, class, ref, tag byte) Command {
	return New(cla, InsGetData, GetDataSDOP1, GetDataSDOP2,
		T1(TagGetDataHeader, T1(TagGetDataSDO, TLV([]byte{0xBF, class | 0x80, ref}, []byte{tag, 0x80}))))
}

// MSESetFor sets the control reference template tmpl (TemplateAT,
// TemplateDST, TemplateHT) with a key reference (none when key is 0) and
// an algorithm.
func MSESetFor(cla, tmpl, key, alg byte) Command {
	var data []byte
	if key != 0 {
		data = T1(TagMSEKeyRef, []byte{key})
	}
	data = append(data, T1(TagMSEAlgorithm, []byte{alg})...)
	return New(cla, InsMSE, MSESet, tmpl, data)
}

// PSOHash hands the card the hash data (TagHashCode, TagHashData TLVs).
func PSOHash(cla byte, data []byte) Command {
	return New(cla, InsPSO, PSOHashP1, PSOHashP2, data)
}

// PSOCDS asks for the signature of the hash set by PSO HASH.
func PSOCDS(cla byte) Command {
	c := New(cla, InsPSO, PSOCDSP1, PSOCDSP2, nil)
	c.Le = 256
	return c
}

// InternalAuthenticate asks the key set by MSE SET AT to sign data.
func InternalAuthenticate(cla byte, data []byte) Command {
	c := New(cla, InsInternalAuthenticate, 0x00, 0x00, data)
	c.Le = 256
	return c
}

// GetResponse fetches n bytes (1 to 256) the card holds after 61 xx.
func GetResponse(cla byte, n int) Command {
	c := New(cla, InsGetResponse, 0x00, 0x00, nil)
	c.Le = n
	return c
}
