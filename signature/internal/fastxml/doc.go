// Package fastxml parses XML into github.com/beevik/etree documents faster
// than etree's own reader. It is signature's codec: signature.ParseDocument,
// the one reader of signed bytes (the gateway's intake, gateway verify, the
// mock insurers, the workstation), calls it with the one set of settings;
// nothing else may.
//
// # Why
//
// etree's Document.ReadFromBytes drives encoding/xml's RawToken, which reads
// byte by byte through a bufio.Reader and copies every name, attribute and
// text: about 140 µs and hundreds of allocations for a 3 KB signed care
// sheet, about a fifth of the gateway's CPU under load. The rest of the code
// (fse decoder, XAdES verification, exclusive C14N) works on etree trees and
// keeps doing so: fastxml builds the same tree, only faster.
//
// # Contract
//
// ReadDocument(data, settings) returns exactly what
//
//	doc := etree.NewDocument()
//	doc.ReadSettings = settings
//	err := doc.ReadFromBytes(data)
//
// returns: the same tree (token types, prefixes and local names, attributes
// in order, text with the same whitespace and CDATA flags, comments,
// processing instructions, parents and indexes) and the same error.
//
// A hand-written scanner over the bytes (the fast path) handles the
// documents it is sure to reproduce exactly and declines everything else;
// a declined document is parsed by etree itself with the same settings,
// whose result and error are returned unchanged. So behaviour never
// differs from etree's, errors included: the fast path never accepts what
// etree refuses, and every error comes from etree.
//
// The fast path handles UTF-8 documents made of elements, attributes (quoted
// with ' or "), text, CDATA sections, comments and processing instructions
// (an <?xml?> declaration with version 1.0 and encoding UTF-8 or none), with
// names of ASCII letters, digits, '_', '-', '.' and at most one ':' between
// a prefix and a local name, the five predefined entities and decimal or
// hexadecimal character references to XML characters. Settings may set
// MaxDepth, PreserveCData and PreserveDuplicateAttrs.
//
// It declines: a DOCTYPE or any other <! directive, a carriage return
// anywhere, invalid UTF-8 or characters outside the XML Char production,
// other entity references, duplicate attributes, mismatched or unclosed
// tags, other names, "]]>" in text, '<' in an attribute value, a "--" inside
// a comment, any syntax error, nesting deeper than MaxDepth (etree then
// reports ErrMaxDepth), and settings with Permissive, ValidateInput,
// CharsetReader, Entity or AutoClose set.
//
// The tree's nodes are allocated in a few blocks (elements, text nodes,
// attributes, child lists) and names, values and texts without entities are
// substrings of one copy of the input: a document is kept in memory as long
// as any node of it is referenced.
package fastxml
