package fse_test

import (
	"testing"

	"github.com/fsegate/fsegate/fse"
)

// benchSheet is a typical pharmacy sheet of about 3 KB.
func benchSheet(b *testing.B) []byte {
	for seed := uint64(0); ; seed++ {
		s := generate(b, seed, "pharmacist", "")
		if len(s.Lines) >= 4 {
			return s.Encode()
		}
	}
}

func BenchmarkDecodeValidate(b *testing.B) {
	data := benchSheet(b)
	opts := testOptions(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := fse.Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fse.Validate(s, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	s, err := fse.Decode(benchSheet(b))
	if err != nil {
		b.Fatal(err)
	}
	opts := testOptions(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fse.Validate(s, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	s, err := fse.Decode(benchSheet(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Encode()
	}
}
