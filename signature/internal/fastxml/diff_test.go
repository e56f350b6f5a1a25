package fastxml_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/beevik/etree"

	"github.com/fsegate/fsegate/signature/internal/fastxml"
)

// combos are the settings the differential check runs under: the ones the
// callers use and each option alone.
var combos = []etree.ReadSettings{
	{},
	{PreserveCData: true},
	{PreserveDuplicateAttrs: true},
	{MaxDepth: 24},
	{PreserveDuplicateAttrs: true, MaxDepth: 24},
	{MaxDepth: 3},
}

// reference parses data with etree itself.
func reference(data []byte, s etree.ReadSettings) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = s
	err := doc.ReadFromBytes(data)
	return doc, err
}

// differential checks, under every combo, that the fast path, when it
// handles data, gives etree's tree, and that it never handles what etree
// refuses. It returns the number of combos the fast path handled.
func differential(t testing.TB, data []byte) int {
	t.Helper()
	handled := 0
	for _, s := range combos {
		want, werr := reference(data, s)
		got, ok := fastxml.ReadFast(data, s)
		if ok {
			handled++
			if werr != nil {
				t.Fatalf("settings %+v: fast path accepted what etree refuses (%v)\ninput: %q", s, werr, data)
			}
			if err := sameDocument(got, want); err != nil {
				t.Fatalf("settings %+v: %v\ninput: %q", s, err, data)
			}
		} else if got != nil {
			t.Fatalf("settings %+v: declined with a document", s)
		}
		// ReadDocument gives etree's result either way.
		doc, err := fastxml.ReadDocument(data, s)
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("settings %+v: ReadDocument error %v, etree %v\ninput: %q", s, err, werr, data)
		}
		if werr == nil {
			if err := sameDocument(doc, want); err != nil {
				t.Fatalf("settings %+v: ReadDocument: %v\ninput: %q", s, err, data)
			}
		}
	}
	return handled
}

// sameDocument compares two documents: structure through the exported API
// (types, names, attributes, texts and flags, parents, indexes), then every
// field, unexported ones included (reflect.DeepEqual), then the output.
func sameDocument(got, want *etree.Document) error {
	if err := sameElement("", &got.Element, &want.Element); err != nil {
		return err
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("documents differ in unexported state (reflect.DeepEqual)")
	}
	gb, err1 := got.WriteToBytes()
	wb, err2 := want.WriteToBytes()
	if err1 != nil || err2 != nil {
		return fmt.Errorf("write: %v, %v", err1, err2)
	}
	if !bytes.Equal(gb, wb) {
		return fmt.Errorf("output differs:\n got %q\nwant %q", gb, wb)
	}
	return nil
}

func sameElement(path string, g, w *etree.Element) error {
	path += "/" + w.FullTag()
	if g.Space != w.Space || g.Tag != w.Tag {
		return fmt.Errorf("%s: element %q:%q, want %q:%q", path, g.Space, g.Tag, w.Space, w.Tag)
	}
	if (g.Attr == nil) != (w.Attr == nil) || (g.Child == nil) != (w.Child == nil) {
		return fmt.Errorf("%s: nil Attr/Child slices differ", path)
	}
	if len(g.Attr) != len(w.Attr) {
		return fmt.Errorf("%s: %d attributes %v, want %d %v", path, len(g.Attr), g.Attr, len(w.Attr), w.Attr)
	}
	for i := range w.Attr {
		ga, wa := &g.Attr[i], &w.Attr[i]
		if ga.Space != wa.Space || ga.Key != wa.Key || ga.Value != wa.Value {
			return fmt.Errorf("%s: attribute %d %q:%q=%q, want %q:%q=%q", path, i, ga.Space, ga.Key, ga.Value, wa.Space, wa.Key, wa.Value)
		}
		if ga.Element() != g || wa.Element() != w {
			return fmt.Errorf("%s: attribute %d has the wrong element", path, i)
		}
	}
	if len(g.Child) != len(w.Child) {
		return fmt.Errorf("%s: %d children, want %d", path, len(g.Child), len(w.Child))
	}
	for i := range w.Child {
		gc, wc := g.Child[i], w.Child[i]
		if reflect.TypeOf(gc) != reflect.TypeOf(wc) {
			return fmt.Errorf("%s: child %d is %T, want %T", path, i, gc, wc)
		}
		if gc.Parent() != g || wc.Parent() != w {
			return fmt.Errorf("%s: child %d has the wrong parent", path, i)
		}
		if gc.Index() != wc.Index() || gc.Index() != i {
			return fmt.Errorf("%s: child %d has index %d, want %d", path, i, gc.Index(), wc.Index())
		}
		switch wc := wc.(type) {
		case *etree.Element:
			if err := sameElement(path, gc.(*etree.Element), wc); err != nil {
				return err
			}
		case *etree.CharData:
			gc := gc.(*etree.CharData)
			if gc.Data != wc.Data || gc.IsCData() != wc.IsCData() || gc.IsWhitespace() != wc.IsWhitespace() {
				return fmt.Errorf("%s: child %d text %q cdata=%v ws=%v, want %q cdata=%v ws=%v", path, i,
					gc.Data, gc.IsCData(), gc.IsWhitespace(), wc.Data, wc.IsCData(), wc.IsWhitespace())
			}
		case *etree.Comment:
			if gc.(*etree.Comment).Data != wc.Data {
				return fmt.Errorf("%s: child %d comment %q, want %q", path, i, gc.(*etree.Comment).Data, wc.Data)
			}
		case *etree.ProcInst:
			gc := gc.(*etree.ProcInst)
			if gc.Target != wc.Target || gc.Inst != wc.Inst {
				return fmt.Errorf("%s: child %d PI %q %q, want %q %q", path, i, gc.Target, gc.Inst, wc.Target, wc.Inst)
			}
		case *etree.Directive:
			if gc.(*etree.Directive).Data != wc.Data {
				return fmt.Errorf("%s: child %d directive differs", path, i)
			}
		default:
			return fmt.Errorf("%s: child %d: unknown token %T", path, i, wc)
		}
	}
	return nil
}
