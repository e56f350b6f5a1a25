package virtual

import "github.com/fsegate/fsegate/signature/card/internal/apdu"

func seq(parts ...[]byte) []byte { return apdu.T1(0x30, parts...) }

func derInt(v int) []byte {
	if v < 0x80 {
		return []byte{0x02, 0x01, byte(v)}
	}
	if v < 0x8000 {
		return []byte{0x02, 0x02, byte(v >> 8), byte(v)}
	}
	return []byte{0x02, 0x03, byte(v >> 16), byte(v >> 8), byte(v)}
}

func octets(b []byte) []byte { return apdu.T1(0x04, b) }

func utf8(s string) []byte { return apdu.T1(0x0C, []byte(s)) }

// bits encodes a BIT STRING whose named bits (0 = most significant bit of
// the first byte, as PKCS#15 numbers them) are set, in DER form.
func bits(named ...int) []byte {
	maxBit := -1
	for _, b := range named {
		maxBit = max(maxBit, b)
	}
	if maxBit < 0 {
		return []byte{0x03, 0x01, 0x00}
	}
	v := make([]byte, maxBit/8+1)
	for _, b := range named {
		v[b/8] |= 0x80 >> (b % 8)
	}
	unused := 7 - maxBit%8
	return apdu.T1(0x03, []byte{byte(unused)}, v)
}
