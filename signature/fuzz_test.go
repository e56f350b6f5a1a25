package signature

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
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
