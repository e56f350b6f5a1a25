package fse_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fse"
)

var updateCases = flag.Bool("update-cases", false, "rewrite the generated conformance cases in testdata/cases")

// A conformance case is one sheet per file, with a header comment:
//
//	<!-- expect: valid -->
//	<!-- expect: NIR_KEY at patient/nir -->
//	<!-- expect: SHEET_UNKNOWN_ELEMENT at patient/email line 18 -->
//	<!-- expect: CARE_DATE_FUTURE at care_date, CREATED_INVALID at created -->
//	<!-- pad: 300000 --> (append that many spaces before decoding)
//	<!-- prices: warn --> (every table warns on prices instead of refusing)
//
// Every case is decoded (XML) and validated at testNow with the fixtures'
// tariff and holiday tables; the codes found (errors and warnings) must be
// exactly those expected.
type expectation struct {
	code, path string
	line       int
}

var expectRE = regexp.MustCompile(`^([A-Z0-9_]+)(?: at ([^\s,]*))?(?: line (\d+))?$`)

func parseHeader(t *testing.T, data []byte) (valid bool, want []expectation, pad int, warnPrices bool) {
	t.Helper()
	for _, m := range regexp.MustCompile(`<!--\s*(expect|pad|prices):\s*(.*?)\s*-->`).FindAllSubmatch(data, -1) {
		if string(m[1]) == "pad" {
			pad, _ = strconv.Atoi(string(m[2]))
			continue
		}
		if string(m[1]) == "prices" {
			warnPrices = string(m[2]) == "warn"
			continue
		}
		if string(m[2]) == "valid" {
			valid = true
			continue
		}
		for _, e := range strings.Split(string(m[2]), ",") {
			sm := expectRE.FindStringSubmatch(strings.TrimSpace(e))
			if sm == nil {
				t.Fatalf("bad expect item %q", e)
			}
			line, _ := strconv.Atoi(sm[3])
			want = append(want, expectation{sm[1], sm[2], line})
		}
	}
	if !valid && len(want) == 0 {
		t.Fatal("no <!-- expect: ... --> header")
	}
	return valid, want, pad, warnPrices
}

func found(err error, warns []*fse.FieldError) []*fse.FieldError {
	var out []*fse.FieldError
	var ve *fse.ValidationError
	if errors.As(err, &ve) {
		out = append(out, ve.Errors...)
	} else if err != nil {
		panic(err)
	}
	return append(out, warns...)
}

func checkSheet(data []byte, opts fse.Options) []*fse.FieldError {
	s, err := fse.Decode(data)
	if err != nil {
		return found(err, nil)
	}
	warns, err := fse.Validate(s, opts)
	return found(err, warns)
}

func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance case in testdata/cases (run go test -run TestCases -update-cases): %v", err)
	}
	opts := testOptions(t)
	covered := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			valid, want, pad, warnPrices := parseHeader(t, data)
			if pad > 0 {
				data = append(data, bytes.Repeat([]byte(" "), pad)...)
			}
			o := opts
			if warnPrices {
				o.Prices = fse.PricePolicy{NGAP: fse.PriceWarn, CCAM: fse.PriceWarn, Drugs: fse.PriceWarn}
			}
			got := checkSheet(data, o)
			if valid {
				if len(got) != 0 {
					t.Fatalf("want valid, got %v", got)
				}
				return
			}
			for _, w := range want {
				covered[w.code] = true
			}
			if len(got) != len(want) {
				t.Errorf("got %d findings %v, want %d %v", len(got), got, len(want), want)
			}
			for _, w := range want {
				ok := false
				for _, g := range got {
					if string(g.Code) == w.code && g.Path == w.path && (w.line == 0 || g.Line == w.line) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("want %s at %q line %d, got %v", w.code, w.path, w.line, got)
				}
			}
		})
	}
	for _, c := range fse.Codes() {
		if !covered[string(c.Code)] {
			t.Errorf("code %s has no conformance case in testdata/cases", c.Code)
		}
	}
}

// TestWriteCases regenerates the generated cases (valid sheets and one per
// breakable rule) with -update-cases; the hand-written format cases stay.
func TestWriteCases(t *testing.T) {
	if !*updateCases {
		return
	}
	opts := testOptions(t)
	write := func(name string, s *fse.Sheet) {
		data := s.Encode()
		got := checkSheet(data, opts)
		var items []string
		for _, g := range got {
			items = append(items, string(g.Code)+" at "+g.Path)
		}
		sort.Strings(items)
		header := "valid"
		if len(items) > 0 {
			header = strings.Join(items, ", ")
		}
		data = bytes.Replace(data, []byte("?>\n"), []byte("?>\n<!-- expect: "+header+" -->\n"), 1)
		if err := os.WriteFile(filepath.Join("testdata/cases", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"doctor", "pharmacist", "nurse"} {
		for i := uint64(0); i < 2; i++ {
			write(fmt.Sprintf("valid-%s-%d.xml", p, i+1), generate(t, 100+i, p, ""))
		}
	}
	for _, code := range fse.Breakable() {
		write("gen-"+strings.ToLower(strings.ReplaceAll(code, "_", "-"))+".xml", generate(t, 7, "", code))
	}
}
