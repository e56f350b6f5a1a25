package apdu

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCommands pins the bytes of every command the card client sends (the
// bytes it sent before this package existed) and parses each back as the
// virtual card does.
func TestCommands(t *testing.T) {
	pin := []byte("1234")
	tests := []struct {
		name string
		cmd  Command
		want string
	}{
		{"MANAGE CHANNEL open 1", ManageChannelOpen(1), "00 70 00 01"},
		{"SELECT IAS", SelectAID(0x00, AIDIAS), "00 A4 04 0C 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10"},
		{"SELECT IAS contactless channel 1", SelectAID(0x01, AIDIASContactless), "01 A4 04 0C 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 20"},
		{"SELECT certificate", SelectFID(0x00, FIDSignatureCert), "00 A4 02 04 02 C0 01"},
		{"READ BINARY", ReadBinary(0x00, 0x01CE, 0xE7), "00 B0 01 CE E7"},
		{"READ BINARY 256", ReadBinary(0x00, 0, 256), "00 B0 00 00 00"},
		{"GET DATA CHV", GetDataSDO(0x00, SDOClassCHV, PINRef, TagDOCP), "00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80"},
		{"VERIFY", Verify(0x00, PINRef, pin), "00 20 00 01 04 31 32 33 34"},
		{"RESET RETRY COUNTER", ResetRetryCounter(0x00, ResetOnly, PINRef, []byte("87654321")), "00 2C 01 01 08 38 37 36 35 34 33 32 31"},
		{"MSE SET HT", MSESetFor(0x00, TemplateHT, 0, AlgSHA256), "00 22 41 AA 03 80 01 40"},
		{"MSE SET DST", MSESetFor(0x00, TemplateDST, 0x81, AlgSHA256RSA), "00 22 41 B6 06 84 01 81 80 01 42"},
		{"MSE SET AT", MSESetFor(0x01, TemplateAT, 0x82, AlgRSAPKCS1), "01 22 41 A4 06 84 01 82 80 01 02"},
		{"PSO HASH short", PSOHash(0x00, append(T1(TagHashCode), T1(TagHashData, []byte("x"))...)), "00 2A 90 A0 05 90 00 80 01 78"},
		{"PSO CDS", PSOCDS(0x00), "00 2A 9E 9A 00"},
		{"INTERNAL AUTHENTICATE", InternalAuthenticate(0x00, []byte{1, 2, 3}), "00 88 00 00 03 01 02 03 00"},
		{"GET RESPONSE", GetResponse(0x01, 0x20), "01 C0 00 00 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cmd.Bytes()
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("got % X, want % X", got, want)
			}
			back, ok := Parse(got)
			if !ok {
				t.Fatalf("Parse(% X): not a command", got)
			}
			if !equal(back, tt.cmd) {
				t.Fatalf("Parse(% X) = %+v, want %+v", got, back, tt.cmd)
			}
		})
	}
}

func equal(a, b Command) bool {
	return a.CLA == b.CLA && a.INS == b.INS && a.P1 == b.P1 && a.P2 == b.P2 && a.Le == b.Le && bytes.Equal(a.Data, b.Data)
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"", "00", "00 A4 04", "00 A4 04 0C 00 01", "00 A4 04 0C 03 01 02", "00 A4 04 0C 01 01 02 03"} {
		if c, ok := Parse(unhex(t, s)); ok {
			t.Errorf("Parse(%s) = %+v, want no command", s, c)
		}
	}
}

func TestStatusWords(t *testing.T) {
	tests := []struct {
		name   string
		sw     SW
		target SW
		want   bool
	}{
		{"63 C2 is a wrong PIN", Tries(2), WrongPIN, true},
		{"63 C0 is a wrong PIN", Tries(0), WrongPIN, true},
		{"69 83 is no wrong PIN", Blocked, WrongPIN, false},
		{"69 83 is blocked", Blocked, Blocked, true},
		{"63 C2 is not 63 C3", Tries(2), Tries(3), false},
		{"6A 82 is not 6A 88", NotFound, RefNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sw.Is(tt.target); got != tt.want {
				t.Fatalf("%v.Is(%v) = %v, want %v", tt.sw, tt.target, got, tt.want)
			}
		})
	}
	if n, ok := Tries(20).TriesLeft(); !ok || n != 15 {
		t.Errorf("Tries(20).TriesLeft() = %d, %v, want 15, true", n, ok)
	}
	if n, ok := MoreData(256).MoreData(); !ok || n != 256 {
		t.Errorf("MoreData(256).MoreData() = %d, %v, want 256, true", n, ok)
	}
	if le, ok := SW(0x6C20).WrongLe(); !ok || le != 0x20 {
		t.Errorf("6C20.WrongLe() = %d, %v, want 32, true", le, ok)
	}
	if !EndOfFile.Success() || !OK.Success() || Security.Success() {
		t.Errorf("Success: 9000 and 6282 succeed, 6982 does not")
	}
}

func TestResponse(t *testing.T) {
	for _, tt := range []struct {
		data []byte
		sw   SW
	}{{nil, OK}, {[]byte{1, 2, 3}, EndOfFile}, {nil, Tries(2)}, {bytes.Repeat([]byte{0xAB}, 256), OK}} {
		r := Response(tt.data, tt.sw)
		data, sw, ok := SplitResponse(r)
		if !ok || sw != tt.sw || !bytes.Equal(data, tt.data) {
			t.Errorf("SplitResponse(Response(% X, %v)) = % X, %v, %v", tt.data, tt.sw, data, sw, ok)
		}
	}
	if _, _, ok := SplitResponse([]byte{0x90}); ok {
		t.Error("SplitResponse of one byte: ok, want not")
	}
}

func TestTLV(t *testing.T) {
	for _, n := range []int{0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x1234} {
		v := bytes.Repeat([]byte{0x5A}, n)
		b := append(T1(0x81, []byte{1}), T1(0x62, v)...)
		got, ok := Find(b, 0x62)
		if !ok || !bytes.Equal(got, v) {
			t.Errorf("Find of a %d-byte value: %d bytes, %v", n, len(got), ok)
		}
	}
	if _, ok := Find(unhex(t, "62 05 01 02"), 0x62); ok {
		t.Error("Find of a TLV running past the data: found, want not")
	}
	if got := TLV([]byte{0xBF, 0x81, 0x01}, []byte{0xA0}, []byte{0x80}); !bytes.Equal(got, unhex(t, "BF 81 01 02 A0 80")) {
		t.Errorf("TLV with a 3-byte tag: got % X", got)
	}
}

// FuzzParse: whatever Parse takes for a command encodes back to the same
// bytes, so the client's encoding and the virtual card's parse are one
// bijection.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"00 70 00 01", "00 2A 9E 9A 00", "00 88 00 00 03 01 02 03 00", "00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80", "00 B0 00 00 E7"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok := Parse(b)
		if !ok {
			return
		}
		if got := c.Bytes(); !bytes.Equal(got, b) {
			t.Fatalf("Parse(% X).Bytes() = % X", b, got)
		}
	})
}

// FuzzCommand: every short command the client may build parses back to
// itself.
func FuzzCommand(f *testing.F) {
	f.Add(byte(0), byte(0x2A), byte(0x9E), byte(0x9A), []byte{}, uint16(256))
	f.Add(byte(1), byte(0x20), byte(0x00), byte(0x01), []byte("1234"), uint16(0))
	f.Fuzz(func(t *testing.T, cla, ins, p1, p2 byte, data []byte, le uint16) {
		c := Command{CLA: cla, INS: ins, P1: p1, P2: p2, Data: data, Le: int(le % 257)}
		if len(c.Data) > 255 {
			c.Data = c.Data[:255]
		}
		back, ok := Parse(c.Bytes())
		if !ok || !equal(back, c) {
			t.Fatalf("Parse(% X) = %+v, %v, want %+v", c.Bytes(), back, ok, c)
		}
		if !reflect.DeepEqual(back.Bytes(), c.Bytes()) {
			t.Fatalf("bytes differ")
		}
	})
}

// FuzzFind: a value wrapped by T1 is found again after any TLV before it.
func FuzzFind(f *testing.F) {
	f.Add(byte(0x62), []byte{1, 2}, []byte{0x80, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, tag byte, v, before []byte) {
		b := append(T1(tag^0xFF, before), T1(tag, v)...)
		got, ok := Find(b, tag)
		if !ok || !bytes.Equal(got, v) {
			t.Fatalf("Find(%02X) in % X = % X, %v, want % X", tag, b, got, ok, v)
		}
	})
}
