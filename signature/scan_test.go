package signature_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"runtime"
	"testing"

	"github.com/fsegate/fsegate/signature"
)

// scanPDF writes a PDF of pages pages, each with a content stream of
// content inflated bytes (zeros, deflated) and an uncompressed image.
func scanPDF(pages int, content int) []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zero := make([]byte, 1<<20)
	for n := content; n > 0; n -= len(zero) {
		w.Write(zero[:min(n, len(zero))])
	}
	w.Close()
	var b bytes.Buffer
	var offs []int
	obj := func(s string, stream []byte) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s", len(offs), s)
		if stream != nil {
			b.WriteString("\nstream\n")
			b.Write(stream)
			b.WriteString("\nendstream")
		}
		b.WriteString("\nendobj\n")
	}
	b.WriteString("%PDF-1.4\n")
	kids := ""
	for i := 0; i < pages; i++ {
		kids += fmt.Sprintf("%d 0 R ", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>", nil)
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids, pages), nil)
	obj("<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 1 >>", []byte{0})
	for i := 0; i < pages; i++ {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources << /XObject << /Im1 3 0 R >> >> >>", 5+2*i), nil)
		obj(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>", z.Len()), z.Bytes())
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

func scanJPEG(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil)
	return b.Bytes()
}

// TestInspectScan: a scanned PDF or JPEG within the bounds is read; a
// decompression bomb (a page of 80 MiB of zeros in 80 KB), too many
// pages, a truncated JPEG, or anything else are refused, the bomb without
// being kept in memory.
func TestInspectScan(t *testing.T) {
	for _, tc := range []struct {
		name      string
		data      []byte
		wantKind  string
		wantPages int
	}{
		{"a two-page PDF", scanPDF(2, 4096), signature.ScanPDF, 2},
		{"a JPEG", scanJPEG(300, 400), signature.ScanJPEG, 1},
		{"a bomb", scanPDF(1, 80<<20), "", 0},
		{"too many pages", scanPDF(signature.MaxScanPages+1, 10), "", 0},
		{"a truncated JPEG", scanJPEG(300, 400)[:200], "", 0},
		{"a text", []byte("hello"), "", 0},
		{"a PDF header and nothing", []byte("%PDF-1.7\n"), "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s, err := signature.InspectScan(tc.data)
			runtime.ReadMemStats(&after)
			if tc.wantKind == "" {
				if !errors.Is(err, signature.ErrScan) {
					t.Fatalf("got %+v %v, want ErrScan", s, err)
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
					t.Errorf("refusing it allocated %d MiB, want under 32", alloc>>20)
				}
				return
			}
			if err != nil || s.Kind != tc.wantKind || s.Pages != tc.wantPages {
				t.Fatalf("got %+v %v, want %s of %d pages", s, err, tc.wantKind, tc.wantPages)
			}
		})
	}
}
