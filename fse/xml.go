package fse

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Limits of the decoder.
const (
	MaxSize  = 256 << 10 // bytes of one care sheet, signature included
	MaxDepth = 24        // element nesting, the signature's included
)

// SignatureNamespace is the XMLDSig namespace of the enveloped signature
// the decoder accepts (and ignores) as the last child of the root.
const SignatureNamespace = "http://www.w3.org/2000/09/xmldsig#"

const xadesNamespace = "http://uri.etsi.org/01903/v1.3.2#"

// Decode reads a care sheet in XML. Decoding is strict: a DTD, an entity, a
// processing instruction, an unknown or repeated element, text where
// elements are expected, a document over MaxSize or MaxDepth are refused
// with their line. One enveloped ds:Signature as the last child of the
// root is accepted and ignored (the signature package verifies it). The
// error is a *ValidationError holding one format violation.
func Decode(data []byte) (*Sheet, error) {
	if len(data) > MaxSize {
		return nil, single(ErrTooLarge, "", 0, "the sheet is "+strconv.Itoa(len(data))+" bytes, over the limit of "+strconv.Itoa(MaxSize))
	}
	if i := indexForbidden(data); i >= 0 {
		return nil, single(ErrForbidden, "", lineAt(data, i), "DTD or entity declaration")
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: MaxDepth}
	if err := doc.ReadFromBytes(data); err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, single(ErrTooDeep, "", lineOfDepth(data, MaxDepth), "elements nested deeper than "+strconv.Itoa(MaxDepth))
		}
		line, msg := syntaxError(data, err)
		return nil, single(ErrMalformed, "", line, msg)
	}
	d := decoder{data: data, doc: &doc.Element}
	return d.document(&doc.Element)
}

// DecodeElement reads a care sheet from the root element of a document
// already parsed with etree (the gateway parses once and shares the tree
// with signature verification). The rules are those of Decode; errors have
// no line numbers. The document's DTD and size must have been refused by
// whoever parsed it; DecodeElement refuses a DOCTYPE it finds in the tree.
func DecodeElement(root *etree.Element) (*Sheet, error) {
	if root == nil {
		return nil, single(ErrMissingElement, "", 0, "no CareSheet element")
	}
	d := decoder{}
	if p := root.Parent(); p != nil {
		d.doc = p
		return d.document(p)
	}
	return d.sheet(root)
}

type decoder struct {
	data      []byte         // input, to find lines of errors; nil from DecodeElement
	doc       *etree.Element // document node, to count elements for lines
	rootSpace string         // prefix of the root element
}

func (d *decoder) document(doc *etree.Element) (*Sheet, error) {
	var root *etree.Element
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if root != nil {
				return nil, d.fail(ErrUnknownElement, t, "", "a second root element")
			}
			root = t
		case *etree.ProcInst:
			if t.Target != "xml" {
				return nil, d.fail(ErrForbidden, nil, "", "processing instruction "+t.Target)
			}
		case *etree.Directive:
			return nil, d.fail(ErrForbidden, nil, "", "DTD or directive")
		case *etree.CharData:
			if !t.IsWhitespace() {
				return nil, d.fail(ErrMalformed, nil, "", "text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, single(ErrMissingElement, "", 0, "no CareSheet element")
	}
	return d.sheet(root)
}

var (
	sheetFields        = []string{"Number", "Created", "CareDate", "Securing", "Practitioner", "Patient", "Prescription", "Lines", "Totals", "Rectifies"}
	sheetPaths         = []string{"number", "created", "care_date", "securing", "practitioner", "patient", "prescription", "lines", "totals", "rectifies"}
	rectifiesFields    = []string{"Number", "Date"}
	rectifiesPaths     = []string{"number", "date"}
	practitionerFields = []string{"IdType", "Id", "NationalId", "Billing", "Profession", "Specialty", "FINESS", "Remplacant"}
	practitionerPaths  = []string{"id_type", "id", "national_id", "billing", "profession", "specialty", "finess", "remplacant"}
	remplacantFields   = []string{"IdType", "Id", "NationalId"}
	remplacantPaths    = []string{"id_type", "id", "national_id"}
	patientFields      = []string{"NIR", "BirthDate", "Rank", "Regime", "Caisse", "Centre", "AMC", "Coverage"}
	patientPaths       = []string{"nir", "birth_date", "rank", "regime", "caisse", "centre", "amc", "coverage"}
	prescriptionFields = []string{"Id", "Prescriber", "Kind", "Dispenses"}
	prescriptionPaths  = []string{"id", "prescriber", "kind", "dispenses"}
	lineKinds          = []string{"NGAP", "CCAM", "Drug", "Fee"}
	ngapFields         = []string{"Key", "Coefficient", "Label", "Amount", "AMO", "Exemption"}
	ngapPaths          = []string{"key", "coefficient", "label", "amount", "amo", "exemption"}
	ccamFields         = []string{"Code", "Label", "Amount", "AMO", "Activity", "Modifiers", "Exemption"}
	ccamPaths          = []string{"code", "label", "amount", "amo", "activity", "modifiers", "exemption"}
	drugFields         = []string{"CIP13", "Label", "Quantity", "UnitPrice", "Rate", "Amount", "AMO", "Base", "Exemption"}
	drugPaths          = []string{"cip13", "label", "quantity", "unit_price", "rate", "amount", "amo", "base", "exemption"}
	feeFields          = []string{"Code", "Label", "Quantity", "UnitPrice", "Rate", "Amount", "AMO", "Exemption"}
	feePaths           = []string{"code", "label", "quantity", "unit_price", "rate", "amount", "amo", "exemption"}
	totalsFields       = []string{"Billed", "AMO", "AMC", "Patient", "Participation", "TiersPayantAMO", "TiersPayantAMC", "Franchises"}
	totalsPaths        = []string{"billed", "amo", "amc", "patient", "participation", "tiers_payant_amo", "tiers_payant_amc", "franchises"}
)

const (
	allBut6    = 0x1ff &^ (1 << 6) // sheet: all but Prescription (and Rectifies, the 10th)
	allBut6of7 = 0x7f &^ (1 << 6)  // practitioner: all but FINESS (and Remplacant, the 8th)
	all3       = 0x7
	allBut6of8 = 0xff &^ (1 << 6) // patient: all but AMC
	all2       = 0x3
	ngapReq    = 0x1f &^ (1 << 2) // all but Label
	ccamReq    = 0xf &^ (1 << 1)
	drugReq    = 0x7f &^ (1 << 1)
	feeReq     = 0x7f &^ (1 << 1)
	all7       = 0x7f
)

func (d *decoder) sheet(root *etree.Element) (*Sheet, error) {
	d.rootSpace = root.Space
	if root.Tag != "CareSheet" || root.NamespaceURI() != Namespace {
		return nil, d.fail(ErrUnknownElement, root, "", "the root element must be CareSheet in namespace "+Namespace)
	}
	if err := d.attrs(root, ""); err != nil {
		return nil, err
	}
	s := &Sheet{}
	err := d.fields(root, "", sheetFields, sheetPaths, allBut6, true, func(i int, el *etree.Element, at loc) error {
		var err error
		switch i {
		case 0:
			s.Number, err = d.text(el, at)
		case 1:
			var v string
			if v, err = d.text(el, at); err == nil {
				t, perr := time.Parse(time.RFC3339Nano, v)
				if perr != nil || len(v) < 20 {
					return d.fail(ErrValue, el, at.String(), "creation time is not RFC 3339 (2006-01-02T15:04:05Z)")
				}
				s.Created = t.UTC()
			}
		case 2:
			s.CareDate, err = d.date(el, at)
		case 3:
			s.Securing, err = d.enum(el, at, SecuringVitale, SecuringDegraded)
		case 4:
			err = d.practitioner(el, at.String(), &s.Practitioner)
		case 5:
			err = d.patient(el, at.String(), &s.Patient)
		case 6:
			s.Prescription = &Prescription{}
			err = d.prescription(el, at.String(), s.Prescription)
		case 7:
			err = d.lines(el, at.String(), s)
		case 8:
			err = d.totals(el, at.String(), &s.Totals)
		case 9:
			s.Rectifies = &Rectification{}
			err = d.fields(el, at.String(), rectifiesFields, rectifiesPaths, all2, false, func(i int, el *etree.Element, at loc) error {
				var err error
				switch i {
				case 0:
					s.Rectifies.Number, err = d.text(el, at)
				case 1:
					s.Rectifies.Date, err = d.date(el, at)
				}
				return err
			})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (d *decoder) practitioner(el *etree.Element, path string, p *Practitioner) error {
	return d.fields(el, path, practitionerFields, practitionerPaths, allBut6of7, false, func(i int, el *etree.Element, at loc) error {
		var err error
		switch i {
		case 0:
			p.IDType, err = d.enum(el, at, IDTypeRPPS, IDTypeADELI)
		case 1:
			p.ID, err = d.text(el, at)
		case 2:
			p.NationalID, err = d.text(el, at)
		case 3:
			p.Billing, err = d.text(el, at)
		case 4:
			p.Profession, err = d.text(el, at)
		case 5:
			p.Specialty, err = d.text(el, at)
		case 6:
			p.FINESS, err = d.text(el, at)
		case 7:
			p.Remplacant = &Remplacant{}
			err = d.fields(el, at.String(), remplacantFields, remplacantPaths, all3, false, func(i int, el *etree.Element, at loc) error {
				var err error
				switch i {
				case 0:
					p.Remplacant.IDType, err = d.enum(el, at, IDTypeRPPS, IDTypeADELI)
				case 1:
					p.Remplacant.ID, err = d.text(el, at)
				case 2:
					p.Remplacant.NationalID, err = d.text(el, at)
				}
				return err
			})
		}
		return err
	})
}

func (d *decoder) patient(el *etree.Element, path string, p *Patient) error {
	return d.fields(el, path, patientFields, patientPaths, allBut6of8, false, func(i int, el *etree.Element, at loc) error {
		var err error
		switch i {
		case 0:
			p.NIR, err = d.text(el, at)
		case 1:
			p.BirthDate, err = d.date(el, at)
		case 2:
			p.Rank, err = d.integer(el, at)
		case 3:
			p.Regime, err = d.text(el, at)
		case 4:
			p.Caisse, err = d.text(el, at)
		case 5:
			p.Centre, err = d.text(el, at)
		case 6:
			p.AMC, err = d.text(el, at)
		case 7:
			p.Coverage, err = d.enum(el, at, CoverageStandard, CoverageALD, CoverageMaternity, CoverageC2S)
		}
		return err
	})
}

func (d *decoder) prescription(el *etree.Element, path string, p *Prescription) error {
	return d.fields(el, path, prescriptionFields, prescriptionPaths, all2, false, func(i int, el *etree.Element, at loc) error {
		var err error
		switch i {
		case 0:
			p.ID, err = d.text(el, at)
		case 1:
			p.Prescriber, err = d.text(el, at)
		default:
			err = d.prescriptionExtra(i, el, at, p)
		}
		return err
	})
}

func (d *decoder) lines(el *etree.Element, path string, s *Sheet) error {
	if err := d.attrs(el, path); err != nil {
		return err
	}
	n := 0
	for _, tok := range el.Child {
		if _, ok := tok.(*etree.Element); ok {
			n++
		}
	}
	if n > 0 {
		s.Lines = make([]Line, 0, n)
	}
	for _, tok := range el.Child {
		c, ok := tok.(*etree.Element)
		if !ok {
			if err := d.other(tok, el, path); err != nil {
				return err
			}
			continue
		}
		local, ok := d.local(c)
		kind := -1
		if ok {
			kind = indexOf(lineKinds, local)
		}
		lpath := linePath(len(s.Lines) + 1)
		if kind < 0 {
			return d.fail(ErrUnknownElement, c, lpath, "element "+c.Tag+" is not a line (NGAP, CCAM, Drug or Fee)")
		}
		if err := d.attrs(c, lpath); err != nil {
			return err
		}
		s.Lines = append(s.Lines, Line{})
		l := &s.Lines[len(s.Lines)-1]
		var err error
		switch kind {
		case 0:
			l.Kind = KindNGAP
			err = d.fields(c, lpath, ngapFields, ngapPaths, ngapReq, false, func(i int, el *etree.Element, at loc) error {
				var err error
				switch i {
				case 0:
					l.Key, err = d.text(el, at)
				case 1:
					var v string
					if v, err = d.text(el, at); err == nil {
						var ok bool
						if l.Coefficient, ok = parseCoefficient(v); !ok {
							return d.fail(ErrValue, el, at.String(), "coefficient is not a number with at most 2 decimals")
						}
					}
				case 2:
					l.Label, err = d.text(el, at)
				case 3:
					l.Amount, err = d.amount(el, at)
				case 4:
					l.AMO, err = d.amount(el, at)
				case 5:
					l.Exemption, err = d.enum(el, at, ExemptionALD, ExemptionMaternity)
				}
				return err
			})
		case 1:
			l.Kind = KindCCAM
			err = d.fields(c, lpath, ccamFields, ccamPaths, ccamReq, false, func(i int, el *etree.Element, at loc) error {
				var err error
				switch i {
				case 0:
					l.Code, err = d.text(el, at)
				case 1:
					l.Label, err = d.text(el, at)
				case 2:
					l.Amount, err = d.amount(el, at)
				case 3:
					l.AMO, err = d.amount(el, at)
				case 4:
					l.Activity, err = d.integer(el, at)
				case 5:
					l.Modifiers, err = d.text(el, at)
				case 6:
					l.Exemption, err = d.enum(el, at, ExemptionALD, ExemptionMaternity)
				}
				return err
			})
		case 2:
			l.Kind = KindDrug
			err = d.fields(c, lpath, drugFields, drugPaths, drugReq, false, func(i int, el *etree.Element, at loc) error {
				var err error
				switch i {
				case 0:
					l.CIP13, err = d.text(el, at)
				case 1:
					l.Label, err = d.text(el, at)
				case 2:
					l.Quantity, err = d.integer(el, at)
				case 3:
					l.UnitPrice, err = d.amount(el, at)
				case 4:
					l.Rate, err = d.integer(el, at)
				case 5:
					l.Amount, err = d.amount(el, at)
				case 6:
					l.AMO, err = d.amount(el, at)
				case 7:
					l.Base, err = d.amount(el, at)
				case 8:
					l.Exemption, err = d.enum(el, at, ExemptionALD, ExemptionMaternity)
				}
				return err
			})
		case 3:
			l.Kind = KindFee
			err = d.fields(c, lpath, feeFields, feePaths, feeReq, false, func(i int, el *etree.Element, at loc) error {
				var err error
				switch i {
				case 0:
					l.Code, err = d.text(el, at)
				case 1:
					l.Label, err = d.text(el, at)
				case 2:
					l.Quantity, err = d.integer(el, at)
				case 3:
					l.UnitPrice, err = d.amount(el, at)
				case 4:
					l.Rate, err = d.integer(el, at)
				case 5:
					l.Amount, err = d.amount(el, at)
				case 6:
					l.AMO, err = d.amount(el, at)
				case 7:
					l.Exemption, err = d.enum(el, at, ExemptionALD, ExemptionMaternity)
				}
				return err
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) totals(el *etree.Element, path string, t *Totals) error {
	return d.fields(el, path, totalsFields, totalsPaths, all7, false, func(i int, el *etree.Element, at loc) error {
		var err error
		switch i {
		case 0:
			t.Billed, err = d.amount(el, at)
		case 1:
			t.AMO, err = d.amount(el, at)
		case 2:
			t.AMC, err = d.amount(el, at)
		case 3:
			t.Patient, err = d.amount(el, at)
		case 4:
			t.Participation, err = d.amount(el, at)
		case 5:
			t.TiersPayantAMO, err = d.boolean(el, at)
		case 6:
			t.TiersPayantAMC, err = d.boolean(el, at)
		case 7:
			t.Franchises, err = d.amount(el, at)
		}
		return err
	})
}

// fields walks the children of parent: each must be one of names, at most
// once; the bits of required must all be seen. With signature, one
// ds:Signature is allowed as the last child.
func (d *decoder) fields(parent *etree.Element, path string, names, paths []string, required uint64, signature bool, fn func(i int, el *etree.Element, at loc) error) error {
	if path != "" {
		if err := d.attrs(parent, path); err != nil {
			return err
		}
	}
	var seen uint64
	var sig *etree.Element
	for _, tok := range parent.Child {
		c, ok := tok.(*etree.Element)
		if !ok {
			if err := d.other(tok, parent, path); err != nil {
				return err
			}
			continue
		}
		if sig != nil {
			if c.Tag == "Signature" && c.NamespaceURI() == SignatureNamespace {
				return d.fail(ErrRepeatedElement, c, "signature", "a second Signature")
			}
			return d.fail(ErrUnknownElement, c, path, "element "+c.Tag+" after the Signature, which must be the last child")
		}
		local, ok := d.local(c)
		i := -1
		if ok {
			i = indexOf(names, local)
		}
		if i < 0 {
			if signature && c.Tag == "Signature" && c.NamespaceURI() == SignatureNamespace {
				sig = c
				continue
			}
			return d.fail(ErrUnknownElement, c, join(path, c.Tag), "element "+c.Tag+" is not part of the format here")
		}
		at := loc{path, paths[i]}
		if seen&(1<<i) != 0 {
			return d.fail(ErrRepeatedElement, c, at.String(), "element "+local+" appears twice")
		}
		seen |= 1 << i
		if err := fn(i, c, at); err != nil {
			return err
		}
	}
	if missing := required &^ seen; missing != 0 {
		for i := range names {
			if missing&(1<<i) != 0 {
				return d.fail(ErrMissingElement, parent, join(path, paths[i]), "element "+names[i]+" is missing")
			}
		}
	}
	return nil
}

// loc is the path of a field, joined only when an error needs it.
type loc struct{ parent, name string }

func (l loc) String() string { return join(l.parent, l.name) }

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "/" + name
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// local gives el's local name when el is in the care sheet namespace.
func (d *decoder) local(el *etree.Element) (string, bool) {
	if el.Space == d.rootSpace && len(el.Attr) == 0 {
		return el.Tag, true
	}
	return el.Tag, el.NamespaceURI() == Namespace
}

// attrs refuses attributes other than namespace declarations of the format.
func (d *decoder) attrs(el *etree.Element, path string) error {
	for _, a := range el.Attr {
		switch {
		case a.Space == "" && a.Key == "xmlns", a.Space == "xmlns":
			// Only the format's namespace; the root may also declare the
			// signature's namespaces for its enveloped signature.
			if a.Value != Namespace && !(path == "" && (a.Value == SignatureNamespace || a.Value == xadesNamespace)) {
				return d.fail(ErrUnknownElement, el, path, "namespace "+a.Value+" is not part of the format")
			}
		default:
			return d.fail(ErrUnknownElement, el, path, "attribute "+a.FullKey()+" is not part of the format")
		}
	}
	return nil
}

// other handles a non-element child of a container element.
func (d *decoder) other(tok etree.Token, parent *etree.Element, path string) error {
	switch t := tok.(type) {
	case *etree.CharData:
		if !t.IsWhitespace() {
			return d.fail(ErrUnknownElement, parent, path, "text where elements are expected")
		}
	case *etree.Comment:
	default:
		return d.fail(ErrForbidden, parent, path, "processing instruction or directive")
	}
	return nil
}

// text gives the text of a leaf element.
func (d *decoder) text(el *etree.Element, at loc) (string, error) {
	if len(el.Attr) > 0 {
		if err := d.attrs(el, at.String()); err != nil {
			return "", err
		}
	}
	switch len(el.Child) {
	case 0:
		return "", nil
	case 1:
		if cd, ok := el.Child[0].(*etree.CharData); ok {
			return cd.Data, nil
		}
	}
	var b []byte
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b = append(b, t.Data...)
		case *etree.Comment:
		case *etree.Element:
			return "", d.fail(ErrUnknownElement, t, at.String(), "element "+t.Tag+" inside a value")
		default:
			return "", d.fail(ErrForbidden, el, at.String(), "processing instruction or directive")
		}
	}
	return string(b), nil
}

func (d *decoder) amount(el *etree.Element, at loc) (Amount, error) {
	v, err := d.text(el, at)
	if err != nil {
		return 0, err
	}
	a, ok := parseAmount(v)
	if !ok {
		return 0, d.fail(ErrValue, el, at.String(), "amount "+strconv.Quote(v)+" is not written 12.34")
	}
	return a, nil
}

func (d *decoder) date(el *etree.Element, at loc) (Date, error) {
	v, err := d.text(el, at)
	if err != nil {
		return Date{}, err
	}
	t, ok := parseDate(v)
	if !ok {
		return Date{}, d.fail(ErrValue, el, at.String(), "date "+strconv.Quote(v)+" is not a day written 2006-01-02")
	}
	return t, nil
}

func (d *decoder) integer(el *etree.Element, at loc) (int, error) {
	v, err := d.text(el, at)
	if err != nil {
		return 0, err
	}
	if v == "" || len(v) > 9 || !allDigits(v) || (len(v) > 1 && v[0] == '0') {
		return 0, d.fail(ErrValue, el, at.String(), "number "+strconv.Quote(v)+" is not a whole number")
	}
	n, _ := atoiN(v)
	return n, nil
}

func (d *decoder) boolean(el *etree.Element, at loc) (bool, error) {
	v, err := d.text(el, at)
	if err != nil {
		return false, err
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, d.fail(ErrValue, el, at.String(), "value "+strconv.Quote(v)+" is not true or false")
}

func (d *decoder) enum(el *etree.Element, at loc, allowed ...string) (string, error) {
	v, err := d.text(el, at)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if v == a {
			return a, nil
		}
	}
	return "", d.fail(ErrValue, el, at.String(), "value "+strconv.Quote(v)+" is not one of "+joinList(allowed))
}

func joinList(l []string) string {
	var b []byte
	for i, s := range l {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, s...)
	}
	return string(b)
}

// fail builds a format error for el, with its line when the input is known.
func (d *decoder) fail(c *CodeInfo, el *etree.Element, path, msg string) error {
	line := 0
	if d.data != nil && el != nil && d.doc != nil {
		line = d.lineOf(el)
	}
	return single(c, path, line, msg)
}

// lineOf finds the line of el's start tag: its rank among the elements in
// document order, then the same rank in the token stream of the input.
func (d *decoder) lineOf(el *etree.Element) int {
	rank, found := 0, false
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		for _, tok := range e.Child {
			if found {
				return
			}
			if c, ok := tok.(*etree.Element); ok {
				if c == el {
					found = true
					return
				}
				rank++
				walk(c)
			}
		}
	}
	walk(d.doc)
	if !found {
		return 0
	}
	dec := xml.NewDecoder(bytes.NewReader(d.data))
	n := 0
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return 0
		}
		if _, ok := tok.(xml.StartElement); ok {
			if n == rank {
				line, _ := dec.InputPos()
				return line
			}
			n++
		}
	}
}

func lineAt(data []byte, off int) int { return 1 + bytes.Count(data[:off], []byte{'\n'}) }

// indexForbidden finds a DOCTYPE or an entity declaration.
func indexForbidden(data []byte) int {
	for _, k := range [][]byte{[]byte("<!DOCTYPE"), []byte("<!ENTITY"), []byte("<!doctype")} {
		if i := bytes.Index(data, k); i >= 0 {
			return i
		}
	}
	return -1
}

func lineOfDepth(data []byte, max int) int {
	dec := xml.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return 0
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			if depth > max {
				line, _ := dec.InputPos()
				return line
			}
		case xml.EndElement:
			depth--
		}
	}
}

// syntaxError gives the line and a message for a parse error.
func syntaxError(data []byte, err error) (int, string) {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return se.Line, se.Msg
	}
	// etree's own errors (unbalanced tags) carry no line: find it again.
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, terr := dec.Token()
		if terr == io.EOF {
			break
		}
		if errors.As(terr, &se) {
			return se.Line, se.Msg
		}
		if terr != nil {
			line, _ := dec.InputPos()
			return line, terr.Error()
		}
	}
	line, _ := dec.InputPos()
	return line, "not well-formed XML"
}

// Encode writes the sheet in its canonical XML form: fixed element order,
// two-space indentation, UTC times, amounts with two decimals, no
// signature. The same sheet always gives the same bytes.
func (s *Sheet) Encode() []byte {
	e := encoder{b: make([]byte, 0, 2048+256*len(s.Lines))}
	e.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CareSheet xmlns=\"" + Namespace + "\">\n")
	e.leaf(1, "Number", s.Number)
	e.open(1, "Created")
	e.b = s.Created.UTC().AppendFormat(e.b, time.RFC3339Nano)
	e.close(0, "Created")
	e.open(1, "CareDate")
	e.b = s.CareDate.appendTo(e.b)
	e.close(0, "CareDate")
	e.leaf(1, "Securing", s.Securing)

	p := &s.Practitioner
	e.open(1, "Practitioner")
	e.raw("\n")
	e.leaf(2, "IdType", p.IDType)
	e.leaf(2, "Id", p.ID)
	e.leaf(2, "NationalId", p.NationalID)
	e.leaf(2, "Billing", p.Billing)
	e.leaf(2, "Profession", p.Profession)
	e.leaf(2, "Specialty", p.Specialty)
	if p.FINESS != "" {
		e.leaf(2, "FINESS", p.FINESS)
	}
	if r := p.Remplacant; r != nil {
		e.open(2, "Remplacant")
		e.raw("\n")
		e.leaf(3, "IdType", r.IDType)
		e.leaf(3, "Id", r.ID)
		e.leaf(3, "NationalId", r.NationalID)
		e.close(2, "Remplacant")
	}
	e.close(1, "Practitioner")

	pt := &s.Patient
	e.open(1, "Patient")
	e.raw("\n")
	e.leaf(2, "NIR", pt.NIR)
	e.open(2, "BirthDate")
	e.b = pt.BirthDate.appendTo(e.b)
	e.close(0, "BirthDate")
	e.open(2, "Rank")
	e.b = strconv.AppendInt(e.b, int64(pt.Rank), 10)
	e.close(0, "Rank")
	e.leaf(2, "Regime", pt.Regime)
	e.leaf(2, "Caisse", pt.Caisse)
	e.leaf(2, "Centre", pt.Centre)
	if pt.AMC != "" {
		e.leaf(2, "AMC", pt.AMC)
	}
	e.leaf(2, "Coverage", pt.Coverage)
	e.close(1, "Patient")

	if rx := s.Prescription; rx != nil {
		e.open(1, "Prescription")
		e.raw("\n")
		e.leaf(2, "Id", rx.ID)
		e.leaf(2, "Prescriber", rx.Prescriber)
		e.prescriptionExtra(rx)
		e.close(1, "Prescription")
	}

	if rc := s.Rectifies; rc != nil {
		e.open(1, "Rectifies")
		e.raw("\n")
		e.leaf(2, "Number", rc.Number)
		e.open(2, "Date")
		e.b = rc.Date.appendTo(e.b)
		e.close(0, "Date")
		e.close(1, "Rectifies")
	}

	e.open(1, "Lines")
	e.raw("\n")
	for i := range s.Lines {
		l := &s.Lines[i]
		switch l.Kind {
		case KindNGAP:
			e.open(2, "NGAP")
			e.raw("\n")
			e.leaf(3, "Key", l.Key)
			e.open(3, "Coefficient")
			e.b = l.Coefficient.appendTo(e.b)
			e.close(0, "Coefficient")
			if l.Label != "" {
				e.leaf(3, "Label", l.Label)
			}
			e.exemption(l)
			e.amount(3, "Amount", l.Amount)
			e.amount(3, "AMO", l.AMO)
			e.close(2, "NGAP")
		case KindCCAM:
			e.open(2, "CCAM")
			e.raw("\n")
			e.leaf(3, "Code", l.Code)
			if l.Activity != 0 {
				e.open(3, "Activity")
				e.b = strconv.AppendInt(e.b, int64(l.Activity), 10)
				e.close(0, "Activity")
			}
			if l.Modifiers != "" {
				e.leaf(3, "Modifiers", l.Modifiers)
			}
			if l.Label != "" {
				e.leaf(3, "Label", l.Label)
			}
			e.exemption(l)
			e.amount(3, "Amount", l.Amount)
			e.amount(3, "AMO", l.AMO)
			e.close(2, "CCAM")
		case KindDrug, KindFee:
			name, id, idValue := "Drug", "CIP13", l.CIP13
			if l.Kind == KindFee {
				name, id, idValue = "Fee", "Code", l.Code
			}
			e.open(2, name)
			e.raw("\n")
			e.leaf(3, id, idValue)
			if l.Label != "" {
				e.leaf(3, "Label", l.Label)
			}
			e.open(3, "Quantity")
			e.b = strconv.AppendInt(e.b, int64(l.Quantity), 10)
			e.close(0, "Quantity")
			e.amount(3, "UnitPrice", l.UnitPrice)
			e.open(3, "Rate")
			e.b = strconv.AppendInt(e.b, int64(l.Rate), 10)
			e.close(0, "Rate")
			e.exemption(l)
			e.amount(3, "Amount", l.Amount)
			if l.Base != 0 && l.Kind == KindDrug {
				e.amount(3, "Base", l.Base)
			}
			e.amount(3, "AMO", l.AMO)
			e.close(2, name)
		}
	}
	e.close(1, "Lines")

	t := &s.Totals
	e.open(1, "Totals")
	e.raw("\n")
	e.amount(2, "Billed", t.Billed)
	e.amount(2, "AMO", t.AMO)
	e.amount(2, "AMC", t.AMC)
	e.amount(2, "Patient", t.Patient)
	e.amount(2, "Participation", t.Participation)
	if t.Franchises != 0 {
		e.amount(2, "Franchises", t.Franchises)
	}
	e.leaf(2, "TiersPayantAMO", strconv.FormatBool(t.TiersPayantAMO))
	e.leaf(2, "TiersPayantAMC", strconv.FormatBool(t.TiersPayantAMC))
	e.close(1, "Totals")
	e.raw("</CareSheet>\n")
	return e.b
}

type encoder struct{ b []byte }

func (e *encoder) exemption(l *Line) {
	if l.Exemption != "" {
		e.leaf(3, "Exemption", l.Exemption)
	}
}

func (e *encoder) raw(s string) { e.b = append(e.b, s...) }

func (e *encoder) indent(n int) {
	for i := 0; i < n; i++ {
		e.b = append(e.b, ' ', ' ')
	}
}

func (e *encoder) open(depth int, name string) {
	e.indent(depth)
	e.b = append(e.b, '<')
	e.b = append(e.b, name...)
	e.b = append(e.b, '>')
}

func (e *encoder) close(depth int, name string) {
	e.indent(depth)
	e.b = append(e.b, '<', '/')
	e.b = append(e.b, name...)
	e.b = append(e.b, '>', '\n')
}

func (e *encoder) leaf(depth int, name, value string) {
	e.open(depth, name)
	e.text(value)
	e.close(0, name)
}

func (e *encoder) amount(depth int, name string, a Amount) {
	e.open(depth, name)
	e.b = a.appendTo(e.b)
	e.close(0, name)
}

// text escapes s; characters XML cannot carry become U+FFFD.
func (e *encoder) text(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				e.raw("&amp;")
			case c == '<':
				e.raw("&lt;")
			case c == '>':
				e.raw("&gt;")
			case c == '\r':
				e.raw("&#xD;")
			case c == '\n' || c == '\t' || c >= 0x20:
				e.b = append(e.b, c)
			default:
				e.raw("\uFFFD")
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			e.raw("\uFFFD")
		} else {
			e.b = append(e.b, s[i:i+size]...)
		}
		i += size
	}
}

func isXMLChar(r rune) bool {
	return r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
