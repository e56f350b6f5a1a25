package fse

// Identifier checks. None allocates on a valid input.

// NIRFormat reports whether nir has the form of a NIR: 15 characters, the
// first 1, 2, 7 or 8, all digits except the department "2A" or "2B".
func NIRFormat(nir string) bool {
	if len(nir) != 15 {
		return false
	}
	switch nir[0] {
	case '1', '2', '7', '8':
	default:
		return false
	}
	for i := 0; i < 15; i++ {
		c := nir[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if i == 6 && nir[5] == '2' && (c == 'A' || c == 'B' || c == 'a' || c == 'b') {
			continue
		}
		return false
	}
	return true
}

// NIRKey computes the 2-digit key of the first 13 characters of a NIR:
// 97 − (N mod 97), with Corsica's "2A" counted as 19 and "2B" as 18. ok is
// false when nir is not of the NIR form.
func NIRKey(nir string) (key int, ok bool) {
	if len(nir) < 13 {
		return 0, false
	}
	var m int
	for i := 0; i < 13; i++ {
		c := nir[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case i == 6 && nir[5] == '2' && (c == 'A' || c == 'a'):
			// "2A" → "19": the 2 counted at i=5 becomes a 1, then add 9.
			m = (m + 96) % 97
			d = 9
		case i == 6 && nir[5] == '2' && (c == 'B' || c == 'b'):
			m = (m + 96) % 97 // "2B" → "18"
			d = 8
		default:
			return 0, false
		}
		m = (m*10 + d) % 97
	}
	return 97 - m, true
}

// ValidNIR reports whether nir has the NIR form and a matching key.
func ValidNIR(nir string) bool {
	if !NIRFormat(nir) {
		return false
	}
	k, _ := NIRKey(nir)
	return int(nir[13]-'0')*10+int(nir[14]-'0') == k
}

// MaskNIR hides the birth place and order of a NIR for logs and messages:
// "1 85 05 ** *** *** 42". Anything not 15 characters long is hidden whole.
func MaskNIR(nir string) string {
	if len(nir) != 15 {
		b := make([]byte, len(nir))
		for i := range b {
			b[i] = '*'
		}
		return string(b)
	}
	b := make([]byte, 0, 21)
	b = append(b, nir[0], ' ', nir[1], nir[2], ' ', nir[3], nir[4])
	b = append(b, " ** *** *** "...)
	b = append(b, nir[13], nir[14])
	return string(b)
}

// Luhn reports whether s is all digits and passes the Luhn check.
func Luhn(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ValidRPPS reports whether s is an RPPS number: 11 digits, Luhn.
func ValidRPPS(s string) bool { return len(s) == 11 && Luhn(s) }

// ValidADELI reports whether s is an ADELI number: 9 digits, Luhn.
func ValidADELI(s string) bool { return len(s) == 9 && Luhn(s) }

// ValidFINESS reports whether s is a FINESS number: 9 digits with a Luhn
// key, or a Corsican number, whose department "2A" or "2B" makes the
// second character a letter (ANS schema: ^[A-Za-z0-9]{9}$). No public
// source gives the key of the Corsican numbers: their form only is checked.
func ValidFINESS(s string) bool {
	if len(s) != 9 {
		return false
	}
	if s[0] == '2' && (s[1] == 'A' || s[1] == 'B') {
		return allDigits(s[2:])
	}
	return Luhn(s)
}

// BillingKey reports whether a billing number (numéro AM: 8 digits and a
// key) passes the Luhn check over its 9 digits. No normative source gives
// the key's algorithm: Luhn is what the test cards of the SESAM-Vitale
// toolkit satisfy (domain.md §11), so a mismatch is only a warning
// (BILLING_KEY).
func BillingKey(s string) bool { return len(s) == 9 && Luhn(s) }

// ValidCIP13 reports whether s is a CIP13 code: 13 digits starting "34"
// with a valid EAN-13 check digit.
func ValidCIP13(s string) bool {
	if len(s) != 13 || s[0] != '3' || s[1] != '4' || !allDigits(s) {
		return false
	}
	return int(s[12]-'0') == ean13Check(s[:12])
}

func ean13Check(s string) int {
	sum := 0
	for i := 0; i < 12; i++ {
		d := int(s[i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func digits(s string, n int) bool { return len(s) == n && allDigits(s) }
