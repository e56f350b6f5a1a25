package fse_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/problem"
)

func TestGenerateValid(t *testing.T) {
	opts := testOptions(t)
	for _, prof := range []string{"doctor", "pharmacist", "nurse", ""} {
		for seed := uint64(0); seed < 200; seed++ {
			s := generate(t, seed, prof, "")
			warns, err := fse.Validate(s, opts)
			if err != nil {
				t.Fatalf("%s seed %d: generated sheet invalid: %v\n%s", prof, seed, err, s.Encode())
			}
			if len(warns) != 0 {
				t.Fatalf("%s seed %d: warnings %v", prof, seed, warns[0])
			}
			back, err := fse.Decode(s.Encode())
			if err != nil {
				t.Fatalf("%s seed %d: decode of encoded sheet: %v\n%s", prof, seed, err, s.Encode())
			}
			if !reflect.DeepEqual(back, s) {
				t.Fatalf("%s seed %d: round trip differs:\n got %+v\nwant %+v", prof, seed, back, s)
			}
		}
	}
}

func TestGenerateBreak(t *testing.T) {
	opts := testOptions(t)
	for _, code := range fse.Breakable() {
		c, _ := fse.LookupCode(problem.Code(code))
		for seed := uint64(0); seed < 30; seed++ {
			s := generate(t, seed, "", code)
			warns, err := fse.Validate(s, opts)
			found := errors.Is(err, c)
			for _, w := range warns {
				if w.Err == c {
					found = true
				}
			}
			if !found {
				t.Fatalf("break %s seed %d: not found; errors %v, warnings %v\n%s", code, seed, err, warns, s.Encode())
			}
		}
	}
}
