package fse_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fsegate/fsegate/fse"
)

func addCases(f *testing.F) {
	files, _ := filepath.Glob("testdata/cases/*.xml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
}

// FuzzDecode: decoding never panics, and a decoded sheet encodes to bytes
// that decode to the same sheet and encode to the same bytes.
func FuzzDecode(f *testing.F) {
	addCases(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := fse.Decode(data)
		if err != nil {
			return
		}
		enc := s.Encode()
		back, err := fse.Decode(enc)
		if err != nil {
			t.Fatalf("encoded sheet does not decode: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, s)
		}
		if string(back.Encode()) != string(enc) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzValidate: validating any decodable sheet never panics and always
// gives codes from Codes().
func FuzzValidate(f *testing.F) {
	addCases(f)
	opts := testOptions(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := fse.Decode(data)
		if err != nil {
			s, err = fse.DecodeJSON(data)
			if err != nil {
				return
			}
		}
		warns, err := fse.Validate(s, opts)
		for _, fe := range append(found(err, nil), warns...) {
			if _, ok := fse.LookupCode(fe.Code); !ok {
				t.Fatalf("unknown code %s", fe.Code)
			}
		}
	})
}
