package c14n

import (
	"errors"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

func parse(t *testing.T, s string) *etree.Document {
	t.Helper()
	d := etree.NewDocument()
	d.ReadSettings.PreserveDuplicateAttrs = true
	if err := d.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAgainstGoxmldsig compares with goxmldsig's exclusive canonicalizer
// (run on a copy: it mutates its input).
func TestAgainstGoxmldsig(t *testing.T) {
	docs := []string{
		`<a xmlns="urn:a" xmlns:unused="urn:u" z="1" b="2"><b>t &amp; &lt; &gt; "q"</b><c/></a>`,
		`<p:a xmlns:p="urn:p" xmlns:q="urn:q" q:z="1" p:y="2" x="3"><p:b><q:c/></p:b></p:a>`,
		`<a xmlns="urn:a"><b xmlns=""><c xmlns="urn:a"/></b></a>`,
		`<a xmlns:x="urn:x1"><x:b><x:c xmlns:x="urn:x2"/></x:b></a>`,
		"<a attr=\"&#9;tab&#10;nl&#13;cr &quot;\">text\r\nline<?pi data?></a>",
		`<a xml:lang="fr" xmlns="urn:a"><!-- comment --><b xml:space="preserve"> x </b></a>`,
	}
	for _, s := range docs {
		d := parse(t, s)
		var c Canonicalizer
		got, err := c.Element(nil, d.Root(), nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(d.Root().Copy())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s\n got %s\nwant %s", s, got, want)
		}
	}
}

func TestSubtreeAndExclude(t *testing.T) {
	d := parse(t, `<r xmlns="urn:r" xmlns:s="urn:s"><s:x><y/></s:x><s:sig/></r>`)
	var c Canonicalizer
	x := d.Root().ChildElements()[0]
	got, _ := c.Element(nil, x, nil)
	if want := `<s:x xmlns:s="urn:s"><y xmlns="urn:r"></y></s:x>`; string(got) != want {
		t.Errorf("subtree: got %s, want %s", got, want)
	}
	got, _ = c.Document(nil, d, d.Root().ChildElements()[1])
	if want := `<r xmlns="urn:r"><s:x xmlns:s="urn:s"><y></y></s:x></r>`; string(got) != want {
		t.Errorf("exclude: got %s, want %s", got, want)
	}
}

func TestMalformed(t *testing.T) {
	for _, s := range []string{
		`<a><p:b/></a>`,
		`<a x="1" x="2"/>`,
		`<a xmlns:p="urn:p" xmlns:q="urn:p" p:x="1" q:x="2"/>`,
		"<!DOCTYPE a []><a/>",
	} {
		d := parse(t, s)
		var c Canonicalizer
		if _, err := c.Document(nil, d, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", s, err)
		}
	}
}
