package fse_test

import (
	"testing"

	"github.com/beevik/etree"

	"github.com/fsegate/fsegate/fse"
)

// benchSheet is a large pharmacy sheet (seven drug lines, about 2.8 KB
// unsigned; about 5 KB once signed).
func benchSheet(b *testing.B) []byte {
	var best []byte
	for seed := uint64(0); seed < 100; seed++ {
		if data := generate(b, seed, "pharmacist", "").Encode(); len(data) > len(best) {
			best = data
		}
	}
	return best
}

// BenchmarkEtreeParse is the floor: etree parsing the same sheet.
func BenchmarkEtreeParse(b *testing.B) {
	data := benchSheet(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(data); err != nil {
			b.Fatal(err)
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
