package pdfbomb

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
)

// File is an embedded file written as it is (deflated).
type File struct {
	Name string
	Data []byte
}

// Options say what Build embeds.
type Options struct {
	// Files are embedded first, with their content.
	Files []File
	// Zeros more files, named zero-01.bin, zero-02.bin…, of ZeroSize zero
	// bytes each (deflated to about a thousandth of that).
	Zeros    int
	ZeroSize int64
	// Keywords of the document information dictionary.
	Keywords string
}

// Build writes a one-page PDF (a classic cross-reference table, no object
// streams) embedding o's files in its EmbeddedFiles name tree.
func Build(o Options) []byte {
	type embed struct {
		name   string
		stream []byte
	}
	var files []embed
	for _, f := range o.Files {
		files = append(files, embed{f.Name, deflate(f.Data)})
	}
	if o.Zeros > 0 {
		z := Zeros(o.ZeroSize)
		for i := 1; i <= o.Zeros; i++ {
			files = append(files, embed{fmt.Sprintf("zero-%02d.bin", i), z})
		}
	}
	// Objects: 1 catalog, 2 pages, 3 page, 4 content, 5 font, 6 info, then
	// per file its stream and its file specification.
	var names bytes.Buffer
	for i, f := range files {
		fmt.Fprintf(&names, "%s %d 0 R ", hexString(f.name), 8+2*i)
	}
	content := []byte("BT /F1 12 Tf 72 720 Td (Ordonnance) Tj ET")
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := []int{0}
	obj := func(dict string, stream []byte) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\n", len(offsets)-1, dict)
		if stream != nil {
			b.WriteString("stream\n")
			b.Write(stream)
			b.WriteString("\nendstream\n")
		}
		b.WriteString("endobj\n")
	}
	obj(fmt.Sprintf("<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [%s] >> >> >>", names.String()), nil)
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", nil)
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>", nil)
	obj(fmt.Sprintf("<< /Length %d >>", len(content)), content)
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", nil)
	obj(fmt.Sprintf("<< /Producer (pdfbomb) /Keywords %s >>", hexString(o.Keywords)), nil)
	for _, f := range files {
		obj(fmt.Sprintf("<< /Type /EmbeddedFile /Length %d /Filter /FlateDecode >>", len(f.stream)), f.stream)
		obj(fmt.Sprintf("<< /Type /Filespec /F %s /UF %s /EF << /F %d 0 R >> >>", hexString(f.name), hexString(f.name), len(offsets)-1), nil)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets))
	for _, off := range offsets[1:] {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets), xref)
	return b.Bytes()
}

func hexString(s string) string { return "<" + hex.EncodeToString([]byte(s)) + ">" }

func deflate(p []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

// mebibyte is one MiB of zeros deflated and sync-flushed: byte-aligned
// blocks that may follow each other (their back-references reach zeros).
var mebibyte = sync.OnceValue(func() []byte { return zeroBlocks(1 << 20) })

func zeroBlocks(n int) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(make([]byte, n))
	w.Flush()
	return b.Bytes()
}

// Zeros is the zlib stream (FlateDecode) of n zero bytes.
func Zeros(n int64) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x78, 0xda}) // zlib header, best compression
	mib := mebibyte()
	for i := int64(0); i < n>>20; i++ {
		b.Write(mib)
	}
	if rest := n & (1<<20 - 1); rest > 0 {
		b.Write(zeroBlocks(int(rest)))
	}
	b.Write([]byte{0x01, 0x00, 0x00, 0xff, 0xff}) // final empty stored block
	// Adler-32 of n zeros: a stays 1, b adds 1 per byte.
	return binary.BigEndian.AppendUint32(b.Bytes(), uint32(n%65521)<<16|1)
}
