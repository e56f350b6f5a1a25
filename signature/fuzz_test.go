package signature

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"
)

// FuzzVerify mutates signed sheets: Verify never panics, and never reports
// valid a document whose signed content differs from the original's (same
// ContentDigest, same signer, same signing time).
func FuzzVerify(f *testing.F) {
	signed := signSample(f, "doctor", "sig")
	f.Add(signed)
	files, _ := filepath.Glob(filepath.Join("testdata", "vectors", "*.xml"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	trust := devTrust(f, vectorNow)
	v := &Verifier{Trust: trust, Now: fixedClock(vectorNow)}
	want, err := v.Verify(signed)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := v.Verify(data)
		if err != nil {
			if _, ok := err.(*VerifyError); !ok {
				t.Fatalf("error is not a *VerifyError: %T %v", err, err)
			}
			return
		}
		if bytes.Equal(data, signed) {
			return
		}
		// Another valid document can only be another signature by a
		// trusted key: with only the doctor's signed sheets as seeds, the
		// signed content must be the original's.
		if res.ContentDigest != want.ContentDigest {
			t.Fatalf("valid with different signed content:\n%s", data)
		}
		var cz canonicalizer
		got, err := cz.content(res)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := cz.content(want)
		if !bytes.Equal(got, orig) {
			t.Fatalf("valid, same digest but different content:\n%s", data)
		}
	})
}

// FuzzParseDocument: ParseDocument never panics, fails only with a
// *VerifyError, and what it accepts etree's own reader reads with the same
// settings, to the same number of elements, with no attribute twice on an
// element.
func FuzzParseDocument(f *testing.F) {
	f.Add(signSample(f, "doctor", "sig"))
	files, _ := filepath.Glob(filepath.Join("testdata", "vectors", "*.xml"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDocument(data)
		if err != nil {
			if _, ok := err.(*VerifyError); !ok {
				t.Fatalf("error is not a *VerifyError: %T %v", err, err)
			}
			return
		}
		ref := etree.NewDocument()
		ref.ReadSettings = readSettings
		if err := ref.ReadFromBytes(data); err != nil {
			t.Fatalf("ParseDocument accepted what etree refuses: %v", err)
		}
		if got, want := countElements(d.Root()), countElements(ref.Root()); got != want {
			t.Fatalf("got %d elements, etree reads %d", got, want)
		}
	})
}

func countElements(el *etree.Element) int {
	n := 1
	for i, a := range el.Attr {
		for _, b := range el.Attr[:i] {
			if a.Space == b.Space && a.Key == b.Key {
				panic("duplicate attribute accepted: " + a.FullKey())
			}
		}
	}
	for _, c := range el.ChildElements() {
		n += countElements(c)
	}
	return n
}
