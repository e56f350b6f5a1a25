package fastxml_test

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadDocument runs the differential check on arbitrary input: when
// the fast path handles it, the tree must be etree's, and it must never
// handle what etree refuses. Seeds: the sample sheets, the fse conformance
// cases, the crafted edge cases and testdata/fuzz/FuzzReadDocument.
func FuzzReadDocument(f *testing.F) {
	for _, rel := range []string{"signature/testdata/caresheet.xml", "signature/testdata/caresheet-generated.xml"} {
		f.Add(readRepo(f, rel))
	}
	cases, _ := filepath.Glob("../../../fse/testdata/cases/*.xml")
	for _, c := range cases {
		if b, err := os.ReadFile(c); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	for _, c := range crafted {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		differential(t, data)
		// The input as the content of an attribute, a text, a CDATA
		// section, a comment and a PI of a well-formed document: mutations
		// of the escaping rules the fast path handles more often.
		in := string(data)
		for _, doc := range []string{
			`<r a="` + in + `" b='` + in + `'>` + in + `</r>`,
			`<r><![CDATA[` + in + `]]></r>`,
			`<r><!--` + in + `--><?p ` + in + `?></r>`,
		} {
			differential(t, []byte(doc))
		}
	})
}
