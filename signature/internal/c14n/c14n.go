package c14n

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"
)

// XMLNamespace is the namespace bound to the "xml" prefix.
const XMLNamespace = "http://www.w3.org/XML/1998/namespace"

// ErrMalformed reports a tree that cannot be canonicalised: an undeclared
// prefix, a duplicate attribute, a DOCTYPE.
var ErrMalformed = errors.New("c14n: malformed XML")

type binding struct{ prefix, uri string }

type attr struct {
	uri string
	a   *etree.Attr
}

// Canonicalizer holds reusable scratch space. The zero value is ready; it is
// not safe for concurrent use.
type Canonicalizer struct {
	scope    []binding // in-scope declarations, innermost last
	rendered []binding // declarations already written by output ancestors
	attrs    []attr
	decls    []binding
	// Visit, if set, is called for every element written (not for the
	// excluded one), with its resolved namespace URI.
	Visit func(el *etree.Element, uri string) error
}

// Element appends the exclusive canonical form of el to dst, leaving out the
// subtree exclude (the enveloped signature) when it is not nil. Namespace
// declarations of el's ancestors are taken into account.
func (c *Canonicalizer) Element(dst []byte, el, exclude *etree.Element) ([]byte, error) {
	c.scope = c.scope[:0]
	c.rendered = c.rendered[:0]
	var anc []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		anc = append(anc, p)
	}
	for i := len(anc) - 1; i >= 0; i-- {
		c.pushDecls(anc[i])
	}
	return c.element(dst, el, exclude)
}

// Document appends the canonical form of the whole document (processing
// instructions around the root included, comments and the XML declaration
// left out), leaving out the subtree exclude.
func (c *Canonicalizer) Document(dst []byte, doc *etree.Document, exclude *etree.Element) ([]byte, error) {
	c.scope = c.scope[:0]
	c.rendered = c.rendered[:0]
	seenRoot := false
	var err error
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			if seenRoot {
				return dst, fmt.Errorf("%w: two root elements", ErrMalformed)
			}
			seenRoot = true
			if dst, err = c.element(dst, t, exclude); err != nil {
				return dst, err
			}
		case *etree.ProcInst:
			if t.Target == "xml" {
				continue
			}
			if seenRoot {
				dst = append(dst, '\n')
			}
			dst = appendPI(dst, t)
			if !seenRoot {
				dst = append(dst, '\n')
			}
		case *etree.Directive:
			return dst, fmt.Errorf("%w: DOCTYPE and other directives are not accepted", ErrMalformed)
		case *etree.CharData:
			if !isSpace(t.Data) {
				return dst, fmt.Errorf("%w: text outside the root element", ErrMalformed)
			}
		}
	}
	if !seenRoot {
		return dst, fmt.Errorf("%w: no root element", ErrMalformed)
	}
	return dst, nil
}

func isSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

func (c *Canonicalizer) pushDecls(el *etree.Element) {
	for i := range el.Attr {
		a := &el.Attr[i]
		switch {
		case a.Space == "xmlns":
			c.scope = append(c.scope, binding{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			c.scope = append(c.scope, binding{"", a.Value})
		}
	}
}

func lookup(bs []binding, prefix string) (string, bool) {
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].prefix == prefix {
			return bs[i].uri, true
		}
	}
	return "", false
}

func (c *Canonicalizer) resolve(prefix string) (string, error) {
	if prefix == "xml" {
		return XMLNamespace, nil
	}
	uri, ok := lookup(c.scope, prefix)
	if !ok && prefix != "" {
		return "", fmt.Errorf("%w: undeclared prefix %q", ErrMalformed, prefix)
	}
	return uri, nil
}

func (c *Canonicalizer) element(dst []byte, el, exclude *etree.Element) ([]byte, error) {
	scopeMark, renderedMark := len(c.scope), len(c.rendered)
	c.pushDecls(el)
	uri, err := c.resolve(el.Space)
	if err != nil {
		return dst, err
	}
	if c.Visit != nil {
		if err := c.Visit(el, uri); err != nil {
			return dst, err
		}
	}

	// Namespace declarations visibly utilised and not yet rendered.
	decls := c.decls[:0]
	need := func(prefix, uri string) {
		if prefix == "xml" {
			return
		}
		for _, d := range decls {
			if d.prefix == prefix {
				return
			}
		}
		r, ok := lookup(c.rendered, prefix)
		if !ok {
			r = ""
		}
		if r == uri && (ok || prefix == "") {
			return
		}
		decls = append(decls, binding{prefix, uri})
	}
	need(el.Space, uri)

	attrs := c.attrs[:0]
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		var auri string
		if a.Space != "" {
			if auri, err = c.resolve(a.Space); err != nil {
				return dst, err
			}
			need(a.Space, auri)
		}
		attrs = append(attrs, attr{auri, a})
	}
	if len(decls) > 1 {
		slices.SortFunc(decls, func(x, y binding) int { return strings.Compare(x.prefix, y.prefix) })
	}
	if len(attrs) > 1 {
		slices.SortFunc(attrs, func(x, y attr) int {
			if r := strings.Compare(x.uri, y.uri); r != 0 {
				return r
			}
			return strings.Compare(x.a.Key, y.a.Key)
		})
		for i := 1; i < len(attrs); i++ {
			if attrs[i].uri == attrs[i-1].uri && attrs[i].a.Key == attrs[i-1].a.Key {
				return dst, fmt.Errorf("%w: duplicate attribute %q", ErrMalformed, attrs[i].a.Key)
			}
		}
	}

	dst = append(dst, '<')
	dst = appendQName(dst, el.Space, el.Tag)
	for _, d := range decls {
		if d.prefix == "" {
			dst = append(dst, ` xmlns="`...)
		} else {
			dst = append(dst, ` xmlns:`...)
			dst = append(dst, d.prefix...)
			dst = append(dst, `="`...)
		}
		dst = appendAttrValue(dst, d.uri)
		dst = append(dst, '"')
		c.rendered = append(c.rendered, d)
	}
	for _, a := range attrs {
		dst = append(dst, ' ')
		dst = appendQName(dst, a.a.Space, a.a.Key)
		dst = append(dst, `="`...)
		dst = appendAttrValue(dst, a.a.Value)
		dst = append(dst, '"')
	}
	dst = append(dst, '>')
	// Keep the scratch slices for the next element (they were copied out).
	c.decls, c.attrs = decls[:0], attrs[:0]

	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if t == exclude {
				continue
			}
			if dst, err = c.element(dst, t, exclude); err != nil {
				return dst, err
			}
		case *etree.CharData:
			dst = appendText(dst, t.Data)
		case *etree.ProcInst:
			dst = appendPI(dst, t)
		case *etree.Directive:
			return dst, fmt.Errorf("%w: directive inside an element", ErrMalformed)
		}
	}
	dst = append(dst, "</"...)
	dst = appendQName(dst, el.Space, el.Tag)
	dst = append(dst, '>')
	c.scope, c.rendered = c.scope[:scopeMark], c.rendered[:renderedMark]
	return dst, nil
}

func appendQName(dst []byte, space, local string) []byte {
	if space != "" {
		dst = append(dst, space...)
		dst = append(dst, ':')
	}
	return append(dst, local...)
}

func appendPI(dst []byte, p *etree.ProcInst) []byte {
	dst = append(dst, "<?"...)
	dst = append(dst, p.Target...)
	if inst := strings.TrimLeft(p.Inst, " \t\r\n"); inst != "" {
		dst = append(dst, ' ')
		dst = append(dst, inst...)
	}
	return append(dst, "?>"...)
}

func appendText(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

func appendAttrValue(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '"':
			esc = "&quot;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}
