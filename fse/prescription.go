package fse

import (
	"strconv"

	"github.com/beevik/etree"
)

// Kinds of prescription reference a sheet may carry (Prescription.Kind).
// An empty kind is RxCarried, as sheets were before kinds existed.
const (
	// RxCarried is a prescription signed by the prescriber's card and
	// carried by fsegate (POST /v1/prescriptions): the gateway checks the
	// claim against it line by line and records each dispensation.
	RxCarried = "fsegate"
	// RxNational is the number of a prescription of the national
	// e-prescription base (ordonnance numérique), which fsegate cannot
	// reach: accepted, marked as not verified by fsegate.
	RxNational = "national"
	// RxPaper is a paper prescription: the sheet needs its SCOR piece (the
	// scanned prescription), sent after the sheet.
	RxPaper = "paper"
)

// Dispense says which line of the prescription a line of the sheet
// dispenses; both count from 1.
type Dispense struct {
	Line   int `json:"line"`    // line of the sheet
	RxLine int `json:"rx_line"` // line of the prescription
}

// RxKind is the kind of the reference: RxCarried when Kind is empty.
func (p *Prescription) RxKind() string {
	if p.Kind == "" {
		return RxCarried
	}
	return p.Kind
}

// NeedsSCOR reports whether a sheet with this reference needs its SCOR
// piece: paper prescriptions do.
func (p *Prescription) NeedsSCOR() bool { return p != nil && p.RxKind() == RxPaper }

// RxLineOf is the prescription line sheet line (from 1) dispenses, 0 when
// the sheet does not say.
func (p *Prescription) RxLineOf(line int) int {
	for _, d := range p.Dispenses {
		if d.Line == line {
			return d.RxLine
		}
	}
	return 0
}

var (
	dispenseFields = []string{"Line", "RxLine"}
	dispensePaths  = []string{"line", "rx_line"}
)

// prescriptionExtra decodes the optional Kind (i = 2) and Dispenses (i = 3)
// of a Prescription element.
func (d *decoder) prescriptionExtra(i int, el *etree.Element, at loc, p *Prescription) error {
	var err error
	switch i {
	case 2:
		p.Kind, err = d.enum(el, at, RxCarried, RxNational, RxPaper)
	case 3:
		path := at.String()
		if err := d.attrs(el, path); err != nil {
			return err
		}
		for _, tok := range el.Child {
			c, ok := tok.(*etree.Element)
			if !ok {
				if err := d.other(tok, el, path); err != nil {
					return err
				}
				continue
			}
			dpath := path + "/" + strconv.Itoa(len(p.Dispenses))
			if local, ok := d.local(c); !ok || local != "Dispense" {
				return d.fail(ErrUnknownElement, c, dpath, "element "+c.Tag+" is not a Dispense")
			}
			if len(p.Dispenses) >= 99 {
				return d.fail(ErrValue, c, dpath, "more than 99 Dispense elements")
			}
			p.Dispenses = append(p.Dispenses, Dispense{})
			ds := &p.Dispenses[len(p.Dispenses)-1]
			err := d.fields(c, dpath, dispenseFields, dispensePaths, all2, false, func(i int, el *etree.Element, at loc) error {
				var err error
				switch i {
				case 0:
					ds.Line, err = d.integer(el, at)
				case 1:
					ds.RxLine, err = d.integer(el, at)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	return err
}

// prescriptionExtra writes the optional Kind and Dispenses.
func (e *encoder) prescriptionExtra(p *Prescription) {
	if p.Kind != "" {
		e.leaf(2, "Kind", p.Kind)
	}
	if len(p.Dispenses) == 0 {
		return
	}
	e.open(2, "Dispenses")
	e.raw("\n")
	for _, ds := range p.Dispenses {
		e.open(3, "Dispense")
		e.raw("\n")
		e.open(4, "Line")
		e.b = strconv.AppendInt(e.b, int64(ds.Line), 10)
		e.close(0, "Line")
		e.open(4, "RxLine")
		e.b = strconv.AppendInt(e.b, int64(ds.RxLine), 10)
		e.close(0, "RxLine")
		e.close(3, "Dispense")
	}
	e.close(2, "Dispenses")
}

// prescriptionRefs checks the kind and the dispense lines: a known kind,
// each sheet line named once and within the sheet, prescription lines from
// 1. Whether the prescription has those lines is the gateway's check
// against the carried prescription.
func (v *validator) prescriptionRefs(rx *Prescription) {
	switch rx.Kind {
	case "", RxCarried, RxNational, RxPaper:
	default:
		v.add(ErrValue, "prescription/kind", rx.Kind, "prescription kind "+strconv.Quote(rx.Kind)+" is not fsegate, national or paper")
	}
	seen := map[int]bool{}
	for i, ds := range rx.Dispenses {
		path := "prescription/dispenses/" + strconv.Itoa(i)
		switch {
		case ds.Line < 1 || ds.Line > len(v.s.Lines):
			v.add(ErrValue, path+"/line", strconv.Itoa(ds.Line), "dispense names sheet line "+strconv.Itoa(ds.Line)+", the sheet has "+strconv.Itoa(len(v.s.Lines)))
		case seen[ds.Line]:
			v.add(ErrValue, path+"/line", strconv.Itoa(ds.Line), "sheet line "+strconv.Itoa(ds.Line)+" is named twice")
		case ds.RxLine < 1 || ds.RxLine > 99:
			v.add(ErrValue, path+"/rx_line", strconv.Itoa(ds.RxLine), "prescription line "+strconv.Itoa(ds.RxLine)+" is not between 1 and 99")
		}
		seen[ds.Line] = true
	}
}
