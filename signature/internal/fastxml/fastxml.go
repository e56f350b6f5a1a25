package fastxml

import (
	"bytes"
	"encoding/binary"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// defaultMaxDepth is etree's depth limit when ReadSettings.MaxDepth <= 0.
const defaultMaxDepth = 1024

// ReadDocument parses data into an etree document exactly as
//
//	doc.ReadSettings = settings; err = doc.ReadFromBytes(data)
//
// would (same tree, same error), faster for the plain documents we
// receive. On error the document is etree's partly read one, as
// ReadFromBytes leaves it.
func ReadDocument(data []byte, settings etree.ReadSettings) (*etree.Document, error) {
	if doc, ok := readFast(data, settings); ok {
		return doc, nil
	}
	doc := etree.NewDocument()
	doc.ReadSettings = settings
	err := doc.ReadFromBytes(data)
	return doc, err
}

// cdataTmpl is a preserved CDATA node (its flag is unexported): such nodes
// are copied from it and get their data.
var cdataTmpl = *etree.NewCData("")

// frame is an open element: its node, its raw qualified name (to match the
// end tag) and where its children start in parser.pending.
type frame struct {
	el    *etree.Element
	name  string
	start int
}

type attrSpan struct{ key, value string }

// scratch holds the parser's reusable buffers.
type scratch struct {
	pending []etree.Token // children of the open elements, in order
	stack   []frame
	spans   []attrSpan
	buf     []byte // entity decoding
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{pending: make([]etree.Token, 0, 256), stack: make([]frame, 0, 32), spans: make([]attrSpan, 0, 16)}
}}

type parser struct {
	s        string
	pos      int
	maxDepth int
	preserve bool // PreserveCData
	*scratch

	elems []etree.Element
	chars []etree.CharData
	attrs []etree.Attr
	toks  []etree.Token
}

// readFast is the fast path: it returns the document and true when it
// parsed data exactly as etree would, or false when it declines (etree must
// then parse it).
func readFast(data []byte, settings etree.ReadSettings) (*etree.Document, bool) {
	if settings.Permissive || settings.ValidateInput || settings.CharsetReader != nil ||
		settings.Entity != nil || settings.AutoClose != nil {
		return nil, false
	}
	if !validChars(data) {
		return nil, false
	}
	p := parser{s: string(data), maxDepth: settings.MaxDepth, preserve: settings.PreserveCData}
	if p.maxDepth <= 0 {
		p.maxDepth = defaultMaxDepth
	}
	// Upper bounds of the nodes: elements, comments, PIs and CDATA sections
	// start with a '<' not followed by '/'; a text run ends before a '<' or
	// at the end. So elements <= lt-ends, attributes <= '=' count, children
	// <= (lt+1)+(lt-ends); only text nodes (text runs plus CDATA sections)
	// can outgrow their bound, and every block grows by chunks if needed.
	lt, ends := 0, 0
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			break
		}
		lt++
		i += j + 1
		if i < len(data) && data[i] == '/' {
			ends++
		}
	}
	p.elems = make([]etree.Element, 0, lt-ends)
	p.chars = make([]etree.CharData, 0, lt+1)
	p.attrs = make([]etree.Attr, 0, bytes.Count(data, []byte{'='}))
	p.toks = make([]etree.Token, 0, 2*lt-ends+1)

	p.scratch = scratchPool.Get().(*scratch)
	doc, ok := p.parse(settings)
	clear(p.pending[:cap(p.pending)])
	clear(p.stack[:cap(p.stack)])
	clear(p.spans[:cap(p.spans)])
	p.pending, p.stack, p.spans, p.buf = p.pending[:0], p.stack[:0], p.spans[:0], p.buf[:0]
	scratchPool.Put(p.scratch)
	if !ok {
		return nil, false
	}
	return doc, true
}

func (p *parser) parse(settings etree.ReadSettings) (*etree.Document, bool) {
	s := p.s
	for p.pos < len(s) {
		if s[p.pos] != '<' {
			end := strings.IndexByte(s[p.pos:], '<')
			if end < 0 {
				end = len(s)
			} else {
				end += p.pos
			}
			raw := s[p.pos:end]
			if strings.Contains(raw, "]]>") {
				return nil, false
			}
			text, ok := p.unescape(raw)
			if !ok {
				return nil, false
			}
			p.text(text, false)
			p.pos = end
			continue
		}
		if p.pos+1 >= len(s) {
			return nil, false
		}
		var ok bool
		switch s[p.pos+1] {
		case '/':
			ok = p.endTag()
		case '?':
			ok = p.procInst()
		case '!':
			ok = p.bang()
		default:
			ok = p.startTag()
		}
		if !ok {
			return nil, false
		}
	}
	if len(p.stack) != 0 {
		return nil, false
	}
	doc := etree.NewDocument()
	doc.ReadSettings = settings
	p.adopt(&doc.Element, 0)
	return doc, true
}

// add appends a finished token to the children of the innermost open
// element (or of the document).
func (p *parser) add(t etree.Token) { p.pending = append(p.pending, t) }

// adopt makes pending[start:] the children of e.
func (p *parser) adopt(e *etree.Element, start int) {
	kids := p.pending[start:]
	if len(kids) > 0 {
		if cap(p.toks)-len(p.toks) < len(kids) {
			p.toks = make([]etree.Token, 0, max(len(kids), 64))
		}
		n := len(p.toks)
		e.Child = p.toks[n : n : n+len(kids)]
		p.toks = p.toks[:n+len(kids)]
		for _, k := range kids {
			e.AddChild(k)
		}
	}
	clear(kids)
	p.pending = p.pending[:start]
}

func (p *parser) text(data string, cdata bool) {
	if len(p.chars) == cap(p.chars) {
		p.chars = make([]etree.CharData, 0, 64)
	}
	p.chars = p.chars[:len(p.chars)+1]
	c := &p.chars[len(p.chars)-1]
	if cdata && p.preserve {
		*c = cdataTmpl
		c.Data = data
	} else {
		// A zero node with SetData is etree's text node: the whitespace
		// flag set when data is whitespace; AddChild sets parent and index.
		c.SetData(data)
	}
	p.add(c)
}

// startTag reads <name attr="value" ...> or <name .../>.
func (p *parser) startTag() bool {
	s := p.s
	start := p.pos + 1
	end, ok := scanName(s, start)
	if !ok {
		return false
	}
	name := s[start:end]
	i := end
	spans := p.spans[:0]
	empty := false
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return false
		}
		c := s[i]
		if c == '/' {
			if i+1 >= len(s) || s[i+1] != '>' {
				return false
			}
			empty = true
			i += 2
			break
		}
		if c == '>' {
			i++
			break
		}
		kend, ok := scanName(s, i)
		if !ok {
			return false
		}
		key := s[i:kend]
		i = skipSpace(s, kend)
		if i >= len(s) || s[i] != '=' {
			return false
		}
		i = skipSpace(s, i+1)
		if i >= len(s) || (s[i] != '"' && s[i] != '\'') {
			return false
		}
		q := s[i]
		vend := strings.IndexByte(s[i+1:], q)
		if vend < 0 {
			return false
		}
		vend += i + 1
		raw := s[i+1 : vend]
		if strings.IndexByte(raw, '<') >= 0 {
			return false
		}
		val, ok := p.unescape(raw)
		if !ok {
			return false
		}
		spans = append(spans, attrSpan{key, val})
		i = vend + 1
	}
	p.spans = spans
	p.pos = i

	// etree counts the document in its stack: an element at nesting level
	// L (the root is 1) fails with ErrMaxDepth when L > MaxDepth.
	if len(p.stack)+1 > p.maxDepth {
		return false
	}
	if len(p.elems) == cap(p.elems) {
		p.elems = make([]etree.Element, 0, 32)
	}
	p.elems = p.elems[:len(p.elems)+1]
	e := &p.elems[len(p.elems)-1]
	space, tag := "", name
	if c := strings.IndexByte(name, ':'); c >= 0 {
		space, tag = name[:c], name[c+1:]
	}
	*e = etree.Element{Space: space, Tag: tag, Attr: make([]etree.Attr, 0), Child: make([]etree.Token, 0)}
	if n := len(spans); n > 0 {
		if cap(p.attrs)-len(p.attrs) < n {
			p.attrs = make([]etree.Attr, 0, max(n, 32))
		}
		k := len(p.attrs)
		e.Attr = p.attrs[k : k : k+n]
		p.attrs = p.attrs[:k+n]
		for j, a := range spans {
			e.CreateAttr(a.key, a.value)
			if len(e.Attr) != j+1 {
				return false // duplicate attribute
			}
		}
		clear(spans)
	}
	p.add(e)
	if !empty {
		p.stack = append(p.stack, frame{el: e, name: name, start: len(p.pending)})
	}
	return true
}

// endTag reads </name>.
func (p *parser) endTag() bool {
	s := p.s
	start := p.pos + 2
	end, ok := scanName(s, start)
	if !ok || len(p.stack) == 0 {
		return false
	}
	i := skipSpace(s, end)
	if i >= len(s) || s[i] != '>' {
		return false
	}
	top := p.stack[len(p.stack)-1]
	if top.name != s[start:end] {
		return false
	}
	p.stack[len(p.stack)-1] = frame{}
	p.stack = p.stack[:len(p.stack)-1]
	p.adopt(top.el, top.start)
	p.pos = i + 1
	return true
}

// procInst reads <?target inst?>.
func (p *parser) procInst() bool {
	s := p.s
	start := p.pos + 2
	end, ok := scanName(s, start)
	if !ok {
		return false
	}
	target := s[start:end]
	c := skipSpace(s, end)
	j := strings.Index(s[c:], "?>")
	if j < 0 {
		return false
	}
	inst := s[c : c+j]
	if target == "xml" {
		if v := procInstParam("version", inst); v != "" && v != "1.0" {
			return false
		}
		if enc := procInstParam("encoding", inst); enc != "" && !strings.EqualFold(enc, "utf-8") {
			return false
		}
	}
	p.add(&etree.ProcInst{Target: target, Inst: inst})
	p.pos = c + j + 2
	return true
}

// bang reads a comment or a CDATA section; it declines directives.
func (p *parser) bang() bool {
	s := p.s
	rest := s[p.pos:]
	switch {
	case strings.HasPrefix(rest, "<!--"):
		c := p.pos + 4
		j := strings.Index(s[c:], "--")
		if j < 0 {
			return false
		}
		j += c
		if j+2 >= len(s) || s[j+2] != '>' {
			return false
		}
		p.add(&etree.Comment{Data: s[c:j]})
		p.pos = j + 3
		return true
	case strings.HasPrefix(rest, "<![CDATA["):
		c := p.pos + 9
		j := strings.Index(s[c:], "]]>")
		if j < 0 {
			return false
		}
		p.text(s[c:c+j], true)
		p.pos = c + j + 3
		return true
	}
	return false
}

// unescape decodes the predefined entities and character references of
// raw; it declines any other reference.
func (p *parser) unescape(raw string) (string, bool) {
	amp := strings.IndexByte(raw, '&')
	if amp < 0 {
		return raw, true
	}
	b := append(p.buf[:0], raw[:amp]...)
	for i := amp; i < len(raw); {
		c := raw[i]
		if c != '&' {
			j := strings.IndexByte(raw[i:], '&')
			if j < 0 {
				j = len(raw) - i
			}
			b = append(b, raw[i:i+j]...)
			i += j
			continue
		}
		semi := strings.IndexByte(raw[i:], ';')
		if semi < 0 || semi > 12 {
			return "", false
		}
		ref := raw[i+1 : i+semi]
		i += semi + 1
		switch ref {
		case "lt":
			b = append(b, '<')
		case "gt":
			b = append(b, '>')
		case "amp":
			b = append(b, '&')
		case "quot":
			b = append(b, '"')
		case "apos":
			b = append(b, '\'')
		default:
			r, ok := charRef(ref)
			if !ok {
				return "", false
			}
			b = utf8.AppendRune(b, r)
		}
	}
	p.buf = b
	return string(b), true
}

// charRef decodes "#65" or "#x41" (lower-case x, as encoding/xml wants)
// to an XML character.
func charRef(ref string) (rune, bool) {
	if len(ref) < 2 || ref[0] != '#' {
		return 0, false
	}
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 7 {
		return 0, false
	}
	var r rune
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d rune
		switch {
		case '0' <= c && c <= '9':
			d = rune(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*base + d
	}
	return r, isXMLChar(r)
}

// isXMLChar is the Char production of XML 1.0 (encoding/xml's
// isInCharacterRange).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// validChars reports whether data is valid UTF-8 made of XML characters
// other than '\r' (encoding/xml rewrites "\r\n" and "\r"; the fast path
// does not).
func validChars(data []byte) bool {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	for i := 0; i < len(data); {
		// Eight ASCII bytes >= 0x20 at a time.
		if i+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[i:])
			if (w|(w-0x20*lo))&hi == 0 {
				i += 8
				continue
			}
		}
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return false
		}
		i += size
	}
	return true
}

// byte classes of names.
const (
	nameStart = 1 << iota // A-Z a-z _
	nameByte              // name start, digits, '-', '.'
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', c == '_':
			t[c] = nameStart | nameByte
		case '0' <= c && c <= '9', c == '-', c == '.':
			t[c] = nameByte
		}
	}
	return t
}()

// scanName returns the end of the name starting at s[i]: ASCII letters,
// digits, '_', '-', '.', starting with a letter or '_', with at most one
// ':' between a non-empty prefix and a non-empty local name. It declines a
// name followed by a non-ASCII byte (encoding/xml would read it as part of
// the name).
func scanName(s string, i int) (int, bool) {
	if i >= len(s) || class[s[i]]&nameStart == 0 {
		return 0, false
	}
	colon := -1
	j := i + 1
	for j < len(s) {
		c := s[j]
		if class[c]&nameByte != 0 {
			j++
			continue
		}
		if c == ':' {
			if colon >= 0 {
				return 0, false
			}
			colon = j
			j++
			continue
		}
		if c >= utf8.RuneSelf {
			return 0, false
		}
		break
	}
	if colon == j-1 {
		return 0, false
	}
	return j, true
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t') {
		i++
	}
	return i
}

// procInstParam is encoding/xml's procInst: the value of param="..." in
// the content of an <?xml?> declaration, as the decoder reads it.
func procInstParam(param, s string) string {
	param = param + "="
	lenp := len(param)
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := strings.Index(sub, param)
		if k < 0 || lenp+k >= len(sub) {
			return ""
		}
		i += lenp + k + 1
		if c := sub[lenp+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	j := strings.IndexByte(s[i:], sep)
	if j < 0 {
		return ""
	}
	return s[i : i+j]
}
