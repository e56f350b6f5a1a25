package lot

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// benchLot is a lot of 500 sheets of 6 kB, the size of a signed care sheet.
func benchLot() *Lot {
	sheet := bytes.Repeat([]byte("<x>signed care sheet bytes</x>\n"), 200)
	l := &Lot{ID: "cpam751-751000019-000001", Attempt: 1, Seq: 1, Key: "cpam751.751000019", Insurer: "cpam751", Billing: "751000019", Created: time.Unix(1e9, 0)}
	for i := 0; i < 500; i++ {
		l.Sheets = append(l.Sheets, NewSheet("751000019", fmt.Sprintf("%09d", i+1), sheet))
	}
	return l
}

func BenchmarkEncodeLot(b *testing.B) {
	l := benchLot()
	enc, _ := l.Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeLot(b *testing.B) {
	enc, _ := benchLot().Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeLot(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAck(b *testing.B) {
	a := sampleAck()
	for i := 0; i < 496; i++ {
		a.Returns = append(a.Returns, a.Returns[0])
	}
	enc, _ := a.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAck(enc); err != nil {
			b.Fatal(err)
		}
	}
}
