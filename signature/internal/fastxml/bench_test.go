package fastxml_test

import (
	"testing"

	"github.com/beevik/etree"

	"github.com/fsegate/fsegate/signature/internal/fastxml"
)

// BenchmarkReadDocument parses the 3 KB sample sheet with the fast path
// and with etree.
func BenchmarkReadDocument(b *testing.B) {
	data := readRepo(b, "signature/testdata/caresheet.xml")
	s := etree.ReadSettings{PreserveDuplicateAttrs: true}
	if _, ok := fastxml.ReadFast(data, s); !ok {
		b.Fatal("the fast path declines the sample sheet")
	}
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fastxml.ReadDocument(data, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("etree", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			doc := etree.NewDocument()
			doc.ReadSettings = s
			if err := doc.ReadFromBytes(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
