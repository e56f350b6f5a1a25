package apdu

import "fmt"

// INS is an instruction byte (ISO/IEC 7816-4 §5.4.2, IAS-ECC).
type INS byte

// The instructions the CPx card client sends and the virtual card answers.
const (
	InsVerify               INS = 0x20
	InsMSE                  INS = 0x22 // MANAGE SECURITY ENVIRONMENT
	InsPSO                  INS = 0x2A // PERFORM SECURITY OPERATION
	InsResetRetryCounter    INS = 0x2C
	InsManageChannel        INS = 0x70
	InsGetChallenge         INS = 0x84
	InsInternalAuthenticate INS = 0x88
	InsSelect               INS = 0xA4
	InsReadBinary           INS = 0xB0
	InsGetResponse          INS = 0xC0
	InsGetData              INS = 0xCB // GET DATA, odd INS: data field holds the tag list
)

// Parameters of the commands above.
const (
	// SELECT P1: by file id, by DF name (AID), by path from the MF.
	SelectByFID  byte = 0x02
	SelectByName byte = 0x04
	SelectByPath byte = 0x08
	// SELECT P2: answer with the FCP, or with no data.
	SelectFCP    byte = 0x04
	SelectNoData byte = 0x0C

	// MSE P1: SET for computation (digital signature, authentication).
	MSESet byte = 0x41
	// MSE P2: the control reference template being set.
	TemplateAT  byte = 0xA4 // authentication (INTERNAL AUTHENTICATE)
	TemplateHT  byte = 0xAA // hash (PSO HASH)
	TemplateDST byte = 0xB6 // digital signature (PSO CDS)
	TemplateCT  byte = 0xB8 // confidentiality
	// Tags inside an MSE data field.
	TagMSEAlgorithm byte = 0x80
	TagMSEKeyRef    byte = 0x84

	// Algorithm references of the CPx IAS application.
	AlgRSAPKCS1    byte = 0x02 // INTERNAL AUTHENTICATE over a DigestInfo
	AlgSHA256      byte = 0x40 // PSO HASH
	AlgSHA256RSA   byte = 0x42 // PSO CDS
	AlgSHA1RSA     byte = 0x12
	AlgRSADecipher byte = 0x1A
	// PSO P1 P2: hash (PSO HASH), compute digital signature (PSO CDS).
	PSOHashP1 byte = 0x90
	PSOHashP2 byte = 0xA0
	PSOCDSP1  byte = 0x9E
	PSOCDSP2  byte = 0x9A
	// GET DATA P1 P2 on a security data object.
	GetDataSDOP1    byte = 0x3F
	GetDataSDOP2    byte = 0xFF
	TagHashCode     byte = 0x90 // PSO HASH: hash code (or intermediate state)
	TagHashData     byte = 0x80 // PSO HASH: data to hash, or the last block
	ChannelOpen     byte = 0x00 // MANAGE CHANNEL P1
	ChannelClose    byte = 0x80
	ResetWithNewPIN byte = 0x00 // RESET RETRY COUNTER P1: unblock code ‖ new PIN
	ResetOnly       byte = 0x01 // RESET RETRY COUNTER P1: unblock code only
)

// Command is one short command APDU.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte // 0 to 255 bytes
	// Le is how many bytes the answer may hold: 0 for no Le field, 1 to
	// 256 (256 is sent as 00).
	Le int
}

// New makes a command without Le.
func New(cla byte, ins INS, p1, p2 byte, data []byte) Command {
	return Command{CLA: cla, INS: byte(ins), P1: p1, P2: p2, Data: data}
}

// Bytes encodes the command. It panics on a command no short APDU can
// carry (more than 255 bytes of data, Le outside 0..256): the client
// builds only commands it knows to fit.
func (c Command) Bytes() []byte {
	if len(c.Data) > 255 || c.Le < 0 || c.Le > 256 {
		panic(fmt.Sprintf("apdu: %02X %02X: %d bytes of data, Le %d: not a short APDU", c.CLA, c.INS, len(c.Data), c.Le))
	}
	b := make([]byte, 0, 6+len(c.Data))
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le)) // 256 is 00
	}
	return b
}

// P1P2 is P1 and P2 as one number.
func (c Command) P1P2() uint16 { return uint16(c.P1)<<8 | uint16(c.P2) }

// Channel is the logical channel the class byte names (0 to 3).
func (c Command) Channel() byte { return c.CLA & 0x03 }

// Parse reads one short command APDU: header, then nothing, Le, Lc and
// data, or Lc, data and Le. Anything else (an Lc of 0, a length that
// matches no case) is not a command.
func Parse(b []byte) (Command, bool) {
	if len(b) < 4 {
		return Command{}, false
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	le := func(x byte) int {
		if x == 0 {
			return 256
		}
		return int(x)
	}
	switch {
	case len(b) == 4:
	case len(b) == 5:
		c.Le = le(b[4])
	default:
		lc := int(b[4])
		if lc == 0 || len(b) < 5+lc || len(b) > 6+lc {
			return Command{}, false
		}
		c.Data = b[5 : 5+lc]
		if len(b) == 6+lc {
			c.Le = le(b[5+lc])
		}
	}
	return c, true
}
