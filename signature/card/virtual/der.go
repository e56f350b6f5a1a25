package virtual

// tlv encodes one BER-TLV: tag (one or more bytes), definite length, value.
func tlv(tag []byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := append([]byte{}, tag...)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func t1(tag byte, parts ...[]byte) []byte { return tlv([]byte{tag}, parts...) }

func seq(parts ...[]byte) []byte { return t1(0x30, parts...) }

func derInt(v int) []byte {
	if v < 0x80 {
		return []byte{0x02, 0x01, byte(v)}
	}
	if v < 0x8000 {
		return []byte{0x02, 0x02, byte(v >> 8), byte(v)}
	}
	return []byte{0x02, 0x03, byte(v >> 16), byte(v >> 8), byte(v)}
}

func octets(b []byte) []byte { return t1(0x04, b) }

func utf8(s string) []byte { return t1(0x0C, []byte(s)) }

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
	return t1(0x03, []byte{byte(unused)}, v)
}

// findTLV returns the value of the first top-level TLV with tag in data.
func findTLV(data []byte, tag byte) ([]byte, bool) {
	for len(data) >= 2 {
		t := data[0]
		l, hl := int(data[1]), 2
		switch data[1] {
		case 0x81:
			if len(data) < 3 {
				return nil, false
			}
			l, hl = int(data[2]), 3
		case 0x82:
			if len(data) < 4 {
				return nil, false
			}
			l, hl = int(data[2])<<8|int(data[3]), 4
		}
		if len(data) < hl+l {
			return nil, false
		}
		if t == tag {
			return data[hl : hl+l], true
		}
		data = data[hl+l:]
	}
	return nil, false
}
