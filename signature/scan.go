package signature

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"io"

	"github.com/digitorus/pdf"

	"github.com/fsegate/fsegate/problem"
)

// Bounds of a scanned document (a SCOR piece): the file, its pages, and
// what its compressed streams may inflate to together.
const (
	MaxScanBytes   = 5 << 20
	MaxScanPages   = 50
	MaxScanInflate = 64 << 20
	MaxScanPixels  = 50_000_000 // a JPEG page: about A4 at 600 dpi in colour
)

// Kinds of scanned document.
const (
	ScanPDF  = "pdf"
	ScanJPEG = "jpeg"
)

// Scan is what InspectScan found.
type Scan struct {
	Kind  string // ScanPDF or ScanJPEG
	Pages int
}

// ErrScan is wrapped by every InspectScan refusal.
var ErrScan = problem.New(CodeScanInvalid, "not a readable scanned document")

// InspectScan checks a scanned document, PDF or JPEG, with bounded work:
// at most MaxScanBytes; a JPEG whose header decodes (at most MaxScanPixels)
// and that ends with its EOI marker; a PDF that parses, with 1 to
// MaxScanPages pages, whose Flate streams (page contents and images)
// inflate to at most MaxScanInflate together, measured as they inflate and
// not kept (a decompression bomb is refused). Image streams of other
// filters (DCT, CCITT, JBIG2) are not decoded.
func InspectScan(data []byte) (s Scan, err error) {
	if len(data) > MaxScanBytes {
		return Scan{}, fmt.Errorf("%w: %d bytes, over %d", ErrScan, len(data), MaxScanBytes)
	}
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return Scan{}, fmt.Errorf("%w: JPEG: %v", ErrScan, err)
		}
		if cfg.Width*cfg.Height > MaxScanPixels || cfg.Width < 1 || cfg.Height < 1 {
			return Scan{}, fmt.Errorf("%w: JPEG of %d×%d pixels, over %d", ErrScan, cfg.Width, cfg.Height, MaxScanPixels)
		}
		if !bytes.HasSuffix(bytes.TrimRight(data, "\x00\r\n"), []byte{0xFF, 0xD9}) {
			return Scan{}, fmt.Errorf("%w: JPEG without its end marker (truncated)", ErrScan)
		}
		return Scan{Kind: ScanJPEG, Pages: 1}, nil
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return inspectPDF(data)
	}
	return Scan{}, fmt.Errorf("%w: neither a PDF nor a JPEG", ErrScan)
}

func inspectPDF(data []byte) (s Scan, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = Scan{}, fmt.Errorf("%w: the PDF cannot be read", ErrScan)
		}
	}()
	rdr, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Scan{}, fmt.Errorf("%w: PDF: %v", ErrScan, err)
	}
	var total int64
	pages, visits := 0, 0
	measure := func(f pdf.Value) error {
		if f.Kind() != pdf.Stream {
			return nil
		}
		switch filter := f.Key("Filter"); {
		case filter.IsNull(), filter.Name() == "FlateDecode", filter.Len() == 1 && filter.Index(0).Name() == "FlateDecode":
			n, err := inflate(io.Discard, f, MaxScanInflate-total)
			if err != nil {
				return fmt.Errorf("%w: PDF stream: %v", ErrScan, err)
			}
			if total += n; total > MaxScanInflate {
				return fmt.Errorf("%w: the PDF's streams inflate to more than %d bytes", ErrScan, MaxScanInflate)
			}
		}
		return nil
	}
	var walk func(node pdf.Value, depth int) error
	walk = func(node pdf.Value, depth int) error {
		if visits++; depth > 16 || visits > maxPDFTreeNodes {
			return fmt.Errorf("%w: the PDF's page tree is too deep or too large", ErrScan)
		}
		if node.Key("Type").Name() == "Page" {
			if pages++; pages > MaxScanPages {
				return fmt.Errorf("%w: more than %d pages", ErrScan, MaxScanPages)
			}
			contents := node.Key("Contents")
			if contents.Kind() == pdf.Array {
				for i := 0; i < contents.Len() && i < 64; i++ {
					if err := measure(contents.Index(i)); err != nil {
						return err
					}
				}
			} else if err := measure(contents); err != nil {
				return err
			}
			xo := node.Key("Resources").Key("XObject")
			for i, k := range xo.Keys() {
				if i >= 64 {
					break
				}
				if err := measure(xo.Key(k)); err != nil {
					return err
				}
			}
			return nil
		}
		kids := node.Key("Kids")
		for i := 0; i < kids.Len(); i++ {
			if err := walk(kids.Index(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(rdr.Trailer().Key("Root").Key("Pages"), 0); err != nil {
		return Scan{}, err
	}
	if pages == 0 {
		return Scan{}, fmt.Errorf("%w: the PDF has no page", ErrScan)
	}
	return Scan{Kind: ScanPDF, Pages: pages}, nil
}
