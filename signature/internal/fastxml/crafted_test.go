package fastxml_test

import (
	"io"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/fsegate/fsegate/signature/internal/fastxml"
)

// crafted are edge cases of encoding/xml and etree; fast says whether the
// fast path must handle the input under the default settings (false: it
// must decline). Every case also goes through the differential check.
var crafted = []struct {
	name, in string
	fast     bool
}{
	{"empty", "", true},
	{"only whitespace", " \n\t", true},
	{"root", "<a/>", true},
	{"decl", `<?xml version="1.0" encoding="UTF-8"?>` + "\n<a>x</a>\n", true},
	{"decl lower utf", `<?xml version='1.0' encoding='utf-8' standalone="yes"?><a/>`, true},
	{"decl no encoding", `<?xml version="1.0"?><a/>`, true},
	{"decl latin1", `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`, false},
	{"decl version 1.1", `<?xml version="1.1"?><a/>`, false},
	{"decl empty", `<?xml?><a/>`, true},
	{"pi", `<a><?php echo 1 ?></a>`, true},
	{"pi no space", `<a><?t"x"?></a>`, true},
	{"pi question marks", `<a><?t ??></a>`, true},
	{"pi unterminated", `<a><?t x></a>`, false},
	{"prefixes", `<p:a xmlns:p="urn:x" xmlns="urn:y" p:b="1" xml:lang="fr"><p:c/><d/></p:a>`, true},
	{"attr quotes", `<a b='"' c="'"/>`, true},
	{"attr spaces", "<a  b = \"1\"\n\tc\t=\t'2' />", true},
	{"attr no space between", `<a b="1"c="2"/>`, true},
	{"attr whitespace value", "<a b=\" x\ty\nz \"/>", true},
	{"attr entities", `<a b="&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;"/>`, true},
	{"attr gt and ]]>", `<a b="x > y ]]> z"/>`, true},
	{"attr lt", `<a b="<"/>`, false},
	{"attr unquoted", `<a b=1/>`, false},
	{"attr without value", `<a b/>`, false},
	{"attr duplicate", `<a b="1" b="2"/>`, false},
	{"attr same local other prefix", `<a p:b="1" b="2" q:b="3"/>`, true},
	{"text entities", `<a>&lt;x&gt; &amp; &quot;&apos; &#233;&#xe9;&#xE9;</a>`, true},
	{"text gt", `<a>x > y</a>`, true},
	{"text ]]>", `<a>x ]]> y</a>`, false},
	{"text ]] entity >", `<a>x ]]&gt; y ]]</a>`, true},
	{"text unknown entity", `<a>&nbsp;</a>`, false},
	{"text upper X ref", `<a>&#X41;</a>`, false},
	{"text ref to NUL", `<a>&#0;</a>`, false},
	{"text ref to surrogate", `<a>&#xD800;</a>`, false},
	{"text ref to CR", `<a>x&#13;</a>`, true},
	{"text ref whitespace", `<a>&#32;&#x9;</a>`, true},
	{"text no semicolon", `<a>&amp</a>`, false},
	{"text CR", "<a>x\r\ny</a>", false},
	{"text accents", "<a>Hélène Müller – 東京 😀</a>", true},
	{"text U+FFFD", "<a>\uFFFD</a>", true},
	{"text U+FFFE", "<a>\uFFFE</a>", false},
	{"text invalid utf8", "<a>\xff</a>", false},
	{"text control", "<a>\x01</a>", false},
	{"bom", "\uFEFF<a/>", true},
	{"cdata", `<a><![CDATA[<b>&amp;]]]]><![CDATA[>]]></a>`, true},
	{"cdata empty", `<a><![CDATA[]]></a>`, true},
	{"cdata whitespace", "<a>x<![CDATA[ \n ]]>y</a>", true},
	{"cdata unterminated", `<a><![CDATA[x</a>`, false},
	{"comment", `<!-- c --><a><!----><!-- - --></a><!--x-->`, true},
	{"comment dashes", `<a><!-- a -- b --></a>`, false},
	{"comment triple dash", `<a><!-- a ---></a>`, false},
	{"comment accents", `<a><!-- é --></a>`, true},
	{"doctype", `<!DOCTYPE a><a/>`, false},
	{"doctype entity", `<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`, false},
	{"mismatch", `<a></b>`, false},
	{"mismatch prefix", `<p:a></q:a>`, false},
	{"unclosed", `<a><b></b>`, false},
	{"stray end", `</a>`, false},
	{"end tag space", "<a></a \n>", true},
	{"end tag junk", `<a></a x>`, false},
	{"two roots", `<a/><b/>`, true},
	{"text before root", `x<a/>y`, true},
	{"text after root", "<a/>\n<!-- c -->\n<?pi x?>\n", true},
	{"name digit start", `<1a/>`, false},
	{"name two colons", `<a:b:c/>`, false},
	{"name leading colon", `<:a/>`, false},
	{"name trailing colon", `<a:/>`, false},
	{"name non-ascii", `<é/>`, false},
	{"name non-ascii tail", `<aé/>`, false},
	{"name dots dashes", `<a.b-c_d:e.f-1/>`, true},
	{"space after lt", `< a/>`, false},
	{"lt at end", `<a/><`, false},
	{"slash without gt", `<a/ >`, false},
	{"eof in tag", `<a b="1"`, false},
	{"deep", strings.Repeat("<a>", 30) + strings.Repeat("</a>", 30), true},
	// more text nodes than '<' bounds: the node blocks must grow
	{"cdata alternating", "<a>" + strings.Repeat("x<![CDATA[y]]>", 100) + "<b/></a>", true},
	{"mixed", "<a>x<b>y</b>z<!--c-->w<![CDATA[v]]>u</a>", true},
}

func TestCrafted(t *testing.T) {
	for _, c := range crafted {
		t.Run(c.name, func(t *testing.T) {
			data := []byte(c.in)
			differential(t, data)
			_, ok := fastxml.ReadFast(data, etree.ReadSettings{})
			if ok != c.fast {
				_, err := reference(data, etree.ReadSettings{})
				t.Errorf("fast path handled=%v, want %v (etree error: %v)", ok, c.fast, err)
			}
		})
	}
}

// TestMaxDepth checks the depth limit: etree's ErrMaxDepth comes through
// ReadDocument, and the fast path handles the document at the limit.
func TestMaxDepth(t *testing.T) {
	at := []byte(strings.Repeat("<a>", 24) + strings.Repeat("</a>", 24))
	over := []byte(strings.Repeat("<a>", 25) + strings.Repeat("</a>", 25))
	s := etree.ReadSettings{MaxDepth: 24}
	if _, ok := fastxml.ReadFast(at, s); !ok {
		t.Error("declined a document exactly at MaxDepth")
	}
	if _, ok := fastxml.ReadFast(over, s); ok {
		t.Error("handled a document over MaxDepth")
	}
	if _, err := fastxml.ReadDocument(over, s); err != etree.ErrMaxDepth {
		t.Errorf("over MaxDepth: error %v, want etree.ErrMaxDepth", err)
	}
	deep := []byte(strings.Repeat("<a>", 1025) + strings.Repeat("</a>", 1025))
	if _, err := fastxml.ReadDocument(deep, etree.ReadSettings{}); err != etree.ErrMaxDepth {
		t.Errorf("over the default depth: error %v, want etree.ErrMaxDepth", err)
	}
}

// TestSettingsDeclined checks that settings the fast path does not
// reproduce send the document to etree.
func TestSettingsDeclined(t *testing.T) {
	data := []byte(`<a>&e;</a>`)
	for _, s := range []etree.ReadSettings{
		{Permissive: true},
		{ValidateInput: true},
		{Entity: map[string]string{"e": "x"}},
		{AutoClose: []string{"br"}},
		{CharsetReader: func(string, io.Reader) (io.Reader, error) { return nil, nil }},
	} {
		if _, ok := fastxml.ReadFast([]byte("<a/>"), s); ok {
			t.Errorf("settings %+v: fast path handled", s)
		}
	}
	doc, err := fastxml.ReadDocument(data, etree.ReadSettings{Entity: map[string]string{"e": "x"}})
	if err != nil || doc.Root().Text() != "x" {
		t.Errorf("Entity setting: %v, text %q", err, doc.Root().Text())
	}
}

// TestLargeCData puts CDATA sections across etree's 4 KB read boundaries,
// where its CDATA detection peeks at the input.
func TestLargeCData(t *testing.T) {
	for pad := 4070; pad < 4100; pad++ {
		in := "<a>" + strings.Repeat("x", pad) + "<![CDATA[y]]>z<![CDATA[]]><b/>" + strings.Repeat(" ", pad%7) + "</a>"
		if differential(t, []byte(in)) != len(combos) {
			t.Fatalf("pad %d: fast path declined", pad)
		}
	}
}
