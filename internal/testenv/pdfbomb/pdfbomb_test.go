package pdfbomb

import (
	"bytes"
	"compress/zlib"
	"io"
	"testing"
)

func TestZeros(t *testing.T) {
	for _, n := range []int64{0, 5, 1 << 20, 3<<20 + 7} {
		z := Zeros(n)
		r, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.Copy(io.Discard, r) // the checksum is checked at the end
		if err != nil || got != n {
			t.Errorf("Zeros(%d) inflates to %d bytes, %v; want %d", n, got, err, n)
		}
		if n >= 1<<20 && int64(len(z)) > n/500 {
			t.Errorf("Zeros(%d) is %d bytes, want under %d", n, len(z), n/500)
		}
	}
}

func TestBuild(t *testing.T) {
	b := Build(Options{Files: []File{{"prescription.json", []byte(`{"id":"RX1"}`)}}, Zeros: 30, ZeroSize: 16 << 20, Keywords: "RX1"})
	if len(b) > 700<<10 {
		t.Errorf("30 files of 16 MiB take %d bytes, want under 700 KiB", len(b))
	}
	for _, want := range []string{"%PDF-1.7", "/EmbeddedFiles", "startxref", "%%EOF"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("no %q in the PDF", want)
		}
	}
}
