package signature

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/fsegate/fsegate/signature/internal/fastxml"
)

// The limits of ParseDocument. A signed care sheet is a few KB and ten
// levels deep (CareSheet/Signature/Object/.../DigestMethod); the limits
// leave room for real documents and none for amplification.
const (
	// MaxDocumentSize is the largest document read, signature included.
	MaxDocumentSize = 256 << 10
	// MaxDepth is the deepest element nesting, the signature's included.
	MaxDepth = 24
)

// readSettings are the only settings signed bytes are read with:
// duplicate attributes are kept so that they can be refused (etree drops
// all but one otherwise, and which one another reader keeps differs).
var readSettings = etree.ReadSettings{PreserveDuplicateAttrs: true, PreserveCData: true, MaxDepth: MaxDepth}

// Document is a signed document parsed once by ParseDocument. Its tree is
// shared by the verifier and the caller's decoder, so both read the same
// thing; nothing may change it.
type Document struct {
	doc *etree.Document
	raw []byte
}

// Root is the document's root element: the signed content, whose last
// child is the ds:Signature.
func (d *Document) Root() *etree.Element { return d.doc.Root() }

// Bytes are the exact bytes the document was parsed from.
func (d *Document) Bytes() []byte { return d.raw }

// ParseDocument is the one way signed bytes are read. It refuses, with a
// *VerifyError:
//   - XML_TOO_LARGE over MaxDocumentSize, XML_TOO_DEEP over MaxDepth;
//   - XML_ENCODING for a declared encoding other than UTF-8 (xmlsec1 and
//     others would transcode and digest other characters) or bytes that are
//     not UTF-8;
//   - XML_MALFORMED for XML that is not well-formed, a duplicate attribute
//     (two readers would keep different values), a DOCTYPE or a processing
//     instruction;
//   - XML_DUPLICATE_ID when two elements carry the same Id (a reference
//     would resolve to either);
//   - SIGNATURE_MISSING without a ds:Signature, SIGNATURE_WRAPPING with more
//     than one, or when the KeyInfo holds anything but one
//     X509Data/X509Certificate, or a SignatureValue or DigestValue holds
//     anything but text: places no digest covers carry no content.
//
// Verifier.VerifyDocument checks the rest (position, shape, digests, trust).
func ParseDocument(raw []byte) (*Document, error) {
	doc, ps := readDocument(raw)
	if ps == nil {
		// A second signature is reported as such, not as the duplicate
		// Id it brings along.
		ps = checkSigned(doc.Root())
	}
	if ps == nil {
		ps = checkIDs(doc.Root())
	}
	if len(ps) > 0 {
		return nil, &VerifyError{Problems: ps}
	}
	return &Document{doc: doc, raw: raw}, nil
}

// readDocument parses raw with readSettings and the checks every document
// gets, signed or about to be signed, but unique Ids (checkIDs).
func readDocument(raw []byte) (*etree.Document, []Problem) {
	if len(raw) > MaxDocumentSize {
		return nil, fail(CodeXMLTooLarge, "", "the document is %d bytes, over the limit of %d", len(raw), MaxDocumentSize)
	}
	if enc, ok := declaredEncoding(raw); ok && !isUTF8Name(enc) {
		return nil, fail(CodeXMLEncoding, "", "the document declares encoding %q: only UTF-8 is accepted", enc)
	}
	if !utf8.Valid(raw) {
		return nil, fail(CodeXMLEncoding, "", "the document is not UTF-8")
	}
	doc, err := fastxml.ReadDocument(raw, readSettings)
	if err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, fail(CodeXMLTooDeep, "", "elements nested deeper than %d", MaxDepth)
		}
		return nil, fail(CodeXMLMalformed, "", "not well-formed XML: %v", err)
	}
	for i, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Directive:
			return nil, fail(CodeXMLMalformed, "", "DOCTYPE and other directives are not accepted")
		case *etree.ProcInst:
			if i != 0 || t.Target != "xml" {
				return nil, fail(CodeXMLMalformed, "", "processing instructions are not accepted")
			}
		}
	}
	root := doc.Root()
	if root == nil {
		return nil, fail(CodeXMLMalformed, "", "no root element")
	}
	if p := walk(root); p != nil {
		return nil, []Problem{*p}
	}
	return doc, nil
}

// readUnsigned is readDocument with unique Ids: a document about to be
// signed.
func readUnsigned(raw []byte) (*etree.Document, []Problem) {
	doc, ps := readDocument(raw)
	if ps == nil {
		ps = checkIDs(doc.Root())
	}
	return doc, ps
}

// declaredEncoding is the encoding of the XML declaration at the very
// start of raw, if it names one.
func declaredEncoding(raw []byte) (string, bool) {
	if !bytes.HasPrefix(raw, []byte("<?xml")) {
		return "", false
	}
	end := bytes.Index(raw, []byte("?>"))
	if end < 0 {
		return "", false
	}
	decl := raw[len("<?xml"):end]
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return "", false
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return "", false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
		return "", false
	}
	q := rest[0]
	j := bytes.IndexByte(rest[1:], q)
	if j < 0 {
		return "", false
	}
	return string(rest[1 : 1+j]), true
}

func isUTF8Name(enc string) bool {
	return len(enc) == 5 && (enc[0]|0x20) == 'u' && (enc[1]|0x20) == 't' && (enc[2]|0x20) == 'f' && enc[3] == '-' && enc[4] == '8'
}

// walk checks every element: no duplicate attribute (two prefixes of one
// namespace included), no processing instruction.
func walk(el *etree.Element) *Problem {
	for i := range el.Attr {
		a := &el.Attr[i]
		for j := range i {
			b := &el.Attr[j]
			if a.Key == b.Key && (a.Space == b.Space || (a.Space != "" && b.Space != "" && a.NamespaceURI() == b.NamespaceURI())) {
				p := newProblem(CodeXMLMalformed, el.Tag, "duplicate attribute %s", a.FullKey())
				return &p
			}
		}
	}
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if p := walk(t); p != nil {
				return p
			}
		case *etree.ProcInst, *etree.Directive:
			p := newProblem(CodeXMLMalformed, el.Tag, "processing instructions are not accepted")
			return &p
		}
	}
	return nil
}

// checkIDs refuses two elements with the same Id: a reference "#id" must
// name one element, whichever reader resolves it.
func checkIDs(root *etree.Element) []Problem {
	var c idChecker
	c.ids = c.buf[:0]
	return c.visit(root)
}

// idChecker holds the Ids seen: a few per document, so a slice (on the
// stack while it fits buf) beats a map.
type idChecker struct {
	buf [8]string
	ids []string
}

func (c *idChecker) visit(el *etree.Element) []Problem {
	for _, a := range el.Attr {
		if a.Space != "" || a.Key != "Id" {
			continue
		}
		if slices.Contains(c.ids, a.Value) {
			return fail(CodeXMLDuplicateID, el.Tag, "two elements have the Id %s", strconv.Quote(a.Value))
		}
		c.ids = append(c.ids, a.Value)
	}
	for _, t := range el.Child {
		if ch, ok := t.(*etree.Element); ok {
			if ps := c.visit(ch); ps != nil {
				return ps
			}
		}
	}
	return nil
}

// checkSigned checks what a signed document must be beyond well-formed:
// exactly one ds:Signature, whose unsigned parts (KeyInfo, SignatureValue,
// DigestValue) hold nothing a digest does not cover.
func checkSigned(root *etree.Element) []Problem {
	var sig *etree.Element
	switch n := findSignatures(root, &sig); {
	case n == 0:
		return fail(CodeSignatureMissing, "", "no ds:Signature")
	case n > 1:
		return fail(CodeSignatureWrapping, "", "more than one ds:Signature in the document")
	}
	if bad := checkUnsigned(sig); bad != nil {
		return fail(CodeSignatureWrapping, pathOf(bad), "%s", unsignedRule(bad))
	}
	return nil
}

// findSignatures counts the ds:Signature elements under el and keeps the
// first in *first.
func findSignatures(el *etree.Element, first **etree.Element) int {
	n := 0
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok {
			if c.Tag == "Signature" && nsOf(c) == NSDSig {
				if n == 0 && *first == nil {
					*first = c
				}
				n++
			}
			n += findSignatures(c, first)
		}
	}
	return n
}

// checkUnsigned walks the signature for its KeyInfo, SignatureValue and
// DigestValue elements and returns the first one of the wrong shape.
func checkUnsigned(el *etree.Element) *etree.Element {
	for _, t := range el.Child {
		c, ok := t.(*etree.Element)
		if !ok {
			continue
		}
		switch {
		case isDS(c, "KeyInfo"):
			if !keyInfoShape(c) {
				return c
			}
		case isDS(c, "SignatureValue") || isDS(c, "DigestValue"):
			if !textOnly(c) {
				return c
			}
		default:
			if bad := checkUnsigned(c); bad != nil {
				return bad
			}
		}
	}
	return nil
}

func unsignedRule(el *etree.Element) string {
	if el.Tag == "KeyInfo" {
		return "KeyInfo must hold exactly one X509Data with one X509Certificate"
	}
	return el.Tag + " must hold text only"
}

// pathOf is el's path from the signature, for messages: Signature/KeyInfo.
func pathOf(el *etree.Element) string {
	var parts []string
	for e := el; e != nil; e = e.Parent() {
		parts = append(parts, e.Tag)
		if e.Tag == "Signature" {
			break
		}
	}
	slices.Reverse(parts)
	return strings.Join(parts, "/")
}

func keyInfoShape(ki *etree.Element) bool {
	kids, ok := elements(ki)
	if !ok || len(kids) != 1 || !isDS(kids[0], "X509Data") || !onlyElements(ki) {
		return false
	}
	xd, ok := elements(kids[0])
	if !ok || len(xd) != 1 || !isDS(xd[0], "X509Certificate") || !onlyElements(kids[0]) {
		return false
	}
	return textOnly(xd[0])
}

// onlyElements: no comment among the children (elements already refused
// text).
func onlyElements(el *etree.Element) bool {
	for _, t := range el.Child {
		if _, ok := t.(*etree.Comment); ok {
			return false
		}
	}
	return true
}

// textOnly: character data only, no element nor comment.
func textOnly(el *etree.Element) bool {
	for _, t := range el.Child {
		if _, ok := t.(*etree.CharData); !ok {
			return false
		}
	}
	return true
}
