package virtual

import (
	"bytes"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
)

// FuzzAPDU feeds the virtual card a sequence of commands (each prefixed by
// its length byte). Whatever comes in, the card must not panic, must answer
// every command with at least a status word, and must never sign (PSO CDS
// or INTERNAL AUTHENTICATE answered 90 00) unless the right PIN was
// presented in the sequence.
func FuzzAPDU(f *testing.F) {
	seq := func(cmds ...[]byte) []byte {
		var b []byte
		for _, c := range cmds {
			b = append(b, byte(len(c)))
			b = append(b, c...)
		}
		return b
	}
	selectApp := []byte{0x00, 0xA4, 0x04, 0x04, 0x0D, 0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10}
	verify := []byte{0x00, 0x20, 0x00, 0x01, 0x04, '1', '2', '3', '4'}
	wrong := []byte{0x00, 0x20, 0x00, 0x01, 0x04, '9', '9', '9', '9'}
	mseDST := []byte{0x00, 0x22, 0x41, 0xB6, 0x06, 0x84, 0x01, 0x81, 0x80, 0x01, 0x42}
	psoHash := append([]byte{0x00, 0x2A, 0x90, 0xA0, 0x05, 0x90, 0x00, 0x80, 0x01}, 'x')
	psoCDS := []byte{0x00, 0x2A, 0x9E, 0x9A, 0x00}
	mseAT := []byte{0x00, 0x22, 0x41, 0xA4, 0x06, 0x84, 0x01, 0x82, 0x80, 0x01, 0x02}
	intAuth := append([]byte{0x00, 0x88, 0x00, 0x00, 0x20}, make([]byte, 32)...)
	f.Add(seq(selectApp, verify, mseDST, psoHash, psoCDS))
	f.Add(seq(selectApp, wrong, mseDST, psoHash, psoCDS))
	f.Add(seq(selectApp, mseAT, intAuth))
	f.Add(seq([]byte{0x00, 0xB0, 0x9C, 0x00, 0xC0}, []byte{0x00, 0xCB, 0x3F, 0xFF, 0x0A, 0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81, 0x01, 0x02, 0xA0, 0x80}))
	f.Add([]byte{0x03, 0x00, 0x2A, 0x9E})
	p, err := LoadProfileFS(fixtures.FS(), "cards/doctor.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := New(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		pinSeen := bytes.Contains(data, []byte("1234"))
		for len(data) > 0 {
			n := int(data[0])
			data = data[1:]
			if n > len(data) {
				n = len(data)
			}
			cmd := data[:n]
			data = data[n:]
			resp := c.APDU(append([]byte(nil), cmd...))
			if len(resp) < 2 {
				t.Fatalf("% X answered % X: no status word", cmd, resp)
			}
			ok := resp[len(resp)-2] == 0x90 && resp[len(resp)-1] == 0x00
			signs := len(cmd) >= 4 && ((cmd[1] == 0x2A && cmd[2] == 0x9E && cmd[3] == 0x9A) || cmd[1] == 0x88)
			if signs && ok && len(resp) > 2 && !pinSeen {
				t.Fatalf("% X signed without the PIN ever presented", cmd)
			}
		}
	})
}
