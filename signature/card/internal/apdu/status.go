package apdu

import "fmt"

// SW is a status word, SW1 SW2.
type SW uint16

// Status words of the CPx card (ISO/IEC 7816-4 §5.6).
const (
	OK             SW = 0x9000
	EndOfFile      SW = 0x6282 // fewer bytes than Le: end of the file reached
	WrongLength    SW = 0x6700
	NoChannel      SW = 0x6881 // logical channel not supported
	WrongPIN       SW = 0x63C0 // 63 Cx: x tries left
	Security       SW = 0x6982 // security status not satisfied
	Blocked        SW = 0x6983 // authentication method blocked
	Conditions     SW = 0x6985 // conditions of use not satisfied
	NotAllowed     SW = 0x6986 // command not allowed
	WrongData      SW = 0x6A80
	NotFound       SW = 0x6A82 // file not found
	WrongP1P2      SW = 0x6A86
	RefNotFound    SW = 0x6A88 // referenced data not found
	WrongOffset    SW = 0x6B00 // wrong P1 P2: offset beyond the file
	INSUnsupported SW = 0x6D00
	CLAUnsupported SW = 0x6E00
)

// More data: 61 xx, xx bytes waiting for GET RESPONSE.
const moreData = 0x61

// wrongLe: 6C xx, send again with Le xx.
const wrongLe = 0x6C

// Tries is the wrong-PIN status 63 Cx with x tries left (at most 15).
func Tries(n int) SW { return WrongPIN | SW(min(max(n, 0), 15)) }

// MoreData is 61 xx: n bytes (256 as 00) wait for GET RESPONSE.
func MoreData(n int) SW { return SW(moreData)<<8 | SW(byte(min(n, 256))) }

// SW1 and SW2 are the two bytes.
func (s SW) SW1() byte { return byte(s >> 8) }
func (s SW) SW2() byte { return byte(s) }

// Success reports whether the command succeeded: 90 00, or 62 82 (data
// read up to the end of the file).
func (s SW) Success() bool { return s == OK || s == EndOfFile }

// TriesLeft is x of a 63 Cx status word.
func (s SW) TriesLeft() (int, bool) {
	if s&0xFFF0 != WrongPIN {
		return 0, false
	}
	return int(s & 0x0F), true
}

// MoreData reports the xx of 61 xx (256 for 00).
func (s SW) MoreData() (int, bool) {
	if s.SW1() != moreData {
		return 0, false
	}
	if s.SW2() == 0 {
		return 256, true
	}
	return int(s.SW2()), true
}

// WrongLe reports the xx of 6C xx: send again with Le xx.
func (s SW) WrongLe() (byte, bool) { return s.SW2(), s.SW1() == wrongLe }

// Is compares status words: WrongPIN (63 C0) matches every 63 Cx.
func (s SW) Is(target SW) bool {
	if target == WrongPIN {
		_, ok := s.TriesLeft()
		return ok
	}
	return s == target
}

var names = map[SW]string{
	Security:       "security status not satisfied (PIN not verified)",
	Blocked:        "authentication method blocked",
	Conditions:     "conditions of use not satisfied",
	NotAllowed:     "command not allowed",
	WrongData:      "wrong data",
	NotFound:       "file not found",
	WrongP1P2:      "wrong P1 P2",
	RefNotFound:    "referenced data not found",
	WrongLength:    "wrong length",
	NoChannel:      "logical channel not supported",
	INSUnsupported: "instruction not supported",
	CLAUnsupported: "class not supported",
}

// Name says what the status word means; "" when this package has no name
// for it.
func (s SW) Name() string { return names[s] }

func (s SW) String() string {
	if n := names[s]; n != "" {
		return fmt.Sprintf("%04X %s", uint16(s), n)
	}
	return fmt.Sprintf("%04X", uint16(s))
}

// Response encodes a response APDU: data ‖ SW1 SW2.
func Response(data []byte, sw SW) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, sw.SW1(), sw.SW2())
}

// SplitResponse splits a response APDU into its data and status word; ok
// is false when it holds fewer than two bytes.
func SplitResponse(r []byte) (data []byte, sw SW, ok bool) {
	if len(r) < 2 {
		return nil, 0, false
	}
	n := len(r) - 2
	return r[:n], SW(r[n])<<8 | SW(r[n+1]), true
}
