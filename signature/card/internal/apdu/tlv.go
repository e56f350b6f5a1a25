package apdu

// TLV encodes one BER-TLV: tag (one or more bytes), definite length (short
// form, or 81 xx, or 82 xx xx), then the parts as the value.
func TLV(tag []byte, parts ...[]byte) []byte {
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

// T1 is TLV with a one-byte tag.
func T1(tag byte, parts ...[]byte) []byte { return TLV([]byte{tag}, parts...) }

// Find returns the value of the first top-level BER-TLV with the one-byte
// tag in data. It stops, not found, at the first TLV whose length runs
// past the data.
func Find(data []byte, tag byte) ([]byte, bool) {
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
