// Package tables reads fsegate's tariff tables (docs/amounts.md) from a
// directory (in development, fixtures/tariffs, which fixtures/dev.Tables
// reads), and compares two versions of one table: what the gateway, the
// workstation and the mock insurers load into fse.Options, and what
// 'gateway tables import' shows before taking a new version.
//
// A tables directory holds up to five CSV files: ngap.csv (required),
// ccam.csv with ccam-modifiers.csv, drugs.csv with fees.csv. A missing
// CCAM or drug table leaves those lines unchecked (fse.Options).
package tables

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"github.com/fsegate/fsegate/fse"
)

// Table describes one file of a tables directory.
type Table struct {
	File string   // file name in the directory, e.g. "ngap.csv"
	Key  []string // the columns that identify a row (with valid_from)
}

// All are the tables a directory may hold, in the order they are read.
var All = []Table{
	{File: "ngap.csv", Key: []string{"key", "profession", "valid_from"}},
	{File: "ccam.csv", Key: []string{"code", "activity", "valid_from"}},
	{File: "ccam-modifiers.csv", Key: []string{"modifier", "valid_from"}},
	{File: "drugs.csv", Key: []string{"cip13", "valid_from"}},
	{File: "fees.csv", Key: []string{"code", "valid_from"}},
}

// Lookup gives the table whose file name is name.
func Lookup(name string) (Table, bool) {
	for _, t := range All {
		if t.File == name {
			return t, true
		}
	}
	return Table{}, false
}

// Set are the tables read from one directory.
type Set struct {
	NGAP  *fse.Tariffs
	CCAM  *fse.CCAMTariffs
	Drugs *fse.DrugTariffs
}

// Apply puts the tables in o.
func (s Set) Apply(o *fse.Options) {
	o.Tariffs, o.CCAM, o.Drugs = s.NGAP, s.CCAM, s.Drugs
}

// Load reads the tables of fsys (a tables directory).
func Load(fsys fs.FS) (Set, error) {
	files := map[string][]byte{}
	for _, t := range All {
		b, err := fs.ReadFile(fsys, t.File)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Set{}, err
		}
		files[t.File] = b
	}
	return Parse(files)
}

// Parse reads the tables from their files' contents by file name.
func Parse(files map[string][]byte) (Set, error) {
	var s Set
	var err error
	reader := func(name string) io.Reader {
		if b, ok := files[name]; ok {
			return bytes.NewReader(b)
		}
		return nil
	}
	b, ok := files["ngap.csv"]
	if !ok {
		return s, errors.New("tables: no ngap.csv")
	}
	if s.NGAP, err = fse.ParseTariffs(bytes.NewReader(b)); err != nil {
		return s, err
	}
	if r := reader("ccam.csv"); r != nil {
		if s.CCAM, err = fse.ParseCCAM(r, reader("ccam-modifiers.csv")); err != nil {
			return s, err
		}
	} else if files["ccam-modifiers.csv"] != nil {
		return s, errors.New("tables: ccam-modifiers.csv without ccam.csv")
	}
	if r := reader("drugs.csv"); r != nil {
		if s.Drugs, err = fse.ParseDrugs(r, reader("fees.csv")); err != nil {
			return s, err
		}
	} else if files["fees.csv"] != nil {
		return s, errors.New("tables: fees.csv without drugs.csv")
	}
	return s, nil
}

// Change is one difference between two versions of a table.
type Change struct {
	Op  byte   // '+' a row added, '-' a row removed, '~' a row changed
	Key string // the row's key columns, "G 10 2024-12-22"
	// What changed: the new row for '+', the old one for '-', and
	// "column: old → new" for each changed column of '~'.
	Detail []string
}

func (c Change) String() string {
	return string(c.Op) + " " + c.Key + ": " + strings.Join(c.Detail, "; ")
}

// Diff compares two versions of table t, row by row by their key columns;
// the comments (the version line) are compared apart: version gives both.
func Diff(t Table, old, new []byte) (changes []Change, oldVersion, newVersion string, err error) {
	or, oldVersion, err := rows(t, old)
	if err != nil {
		return nil, "", "", fmt.Errorf("current %s: %w", t.File, err)
	}
	nr, newVersion, err := rows(t, new)
	if err != nil {
		return nil, "", "", fmt.Errorf("new %s: %w", t.File, err)
	}
	keys := map[string]bool{}
	for k := range or {
		keys[k] = true
	}
	for k := range nr {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		o, inOld := or[k]
		n, inNew := nr[k]
		switch {
		case !inOld:
			changes = append(changes, Change{Op: '+', Key: k, Detail: n.fields()})
		case !inNew:
			changes = append(changes, Change{Op: '-', Key: k, Detail: o.fields()})
		default:
			var d []string
			for _, c := range unionCols(o, n) {
				if o.v[c] != n.v[c] {
					d = append(d, c+": "+quoteEmpty(o.v[c])+" → "+quoteEmpty(n.v[c]))
				}
			}
			if len(d) > 0 {
				changes = append(changes, Change{Op: '~', Key: k, Detail: d})
			}
		}
	}
	return changes, oldVersion, newVersion, nil
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

type row struct {
	cols []string
	v    map[string]string
}

func (r row) fields() []string {
	out := make([]string, 0, len(r.cols))
	for _, c := range r.cols {
		out = append(out, c+"="+r.v[c])
	}
	return out
}

func unionCols(a, b row) []string {
	out := slices.Clone(a.cols)
	for _, c := range b.cols {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// rows reads a table's rows by key (an empty file has none).
func rows(t Table, data []byte) (map[string]row, string, error) {
	out := map[string]row{}
	version := ""
	for _, line := range strings.Split(string(data), "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok {
			if v, ok := strings.CutPrefix(strings.TrimSpace(c), "version:"); ok {
				version = strings.TrimSpace(v)
			}
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return out, version, nil
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, "", err
	}
	if len(recs) == 0 {
		return out, version, nil
	}
	header := recs[0]
	for _, k := range t.Key {
		if !slices.Contains(header, k) {
			return nil, "", fmt.Errorf("header has no column %q", k)
		}
	}
	for _, rec := range recs[1:] {
		r := row{cols: header, v: map[string]string{}}
		for i, c := range header {
			if i < len(rec) {
				r.v[c] = strings.TrimSpace(rec[i])
			}
		}
		var key []string
		for _, k := range t.Key {
			key = append(key, r.v[k])
		}
		id := strings.Join(key, " ")
		if _, dup := out[id]; dup {
			return nil, "", fmt.Errorf("two rows for %s", id)
		}
		out[id] = r
	}
	return out, version, nil
}

// PriceTables are the tables whose price differences a configuration may
// turn into warnings (--prices-warn, prices_warn).
var PriceTables = []string{"ngap", "ccam", "drugs"}

// WarnList is the value of a --prices-warn flag: a comma-separated list of
// PriceTables, each use adding to the list.
type WarnList []string

// Set adds the tables of a comma-separated list, refusing any other name.
func (w *WarnList) Set(v string) error {
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if err := CheckPriceTable(t); err != nil {
			return err
		}
		*w = append(*w, t)
	}
	return nil
}

func (w *WarnList) String() string {
	if w == nil {
		return ""
	}
	return strings.Join(*w, ",")
}

// CheckPriceTable says whether t names a table of PriceTables.
func CheckPriceTable(t string) error {
	if !slices.Contains(PriceTables, t) {
		return fmt.Errorf("%q is not ngap, ccam or drugs", t)
	}
	return nil
}
