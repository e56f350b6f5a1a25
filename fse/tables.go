package fse

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The tariff tables are fsegate's own CSV files, one per table, documented
// in docs/amounts.md with the column map to the official publication each
// comes from. Each starts with '#' comments, one of which may be
// "# version: NAME" (otherwise the version is the table's name and its
// latest valid_from date), then a header naming the columns (in any
// order; unknown columns are refused), then one row per value in force
// from a date on. The fse package never opens files: callers give readers.

// table is one CSV table read: its rows by column name.
type table struct {
	name    string
	version string
	cols    map[string]int
	rows    [][]string
	lines   []int
	latest  Date
}

func readTable(r io.Reader, name string, required, optional []string) (*table, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s table: %w", name, err)
	}
	t := &table{name: name, cols: map[string]int{}}
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if c, ok := bytes.CutPrefix(line, []byte("#")); ok {
			if v, ok := bytes.CutPrefix(bytes.TrimSpace(c), []byte("version:")); ok {
				t.version = string(bytes.TrimSpace(v))
			}
		}
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("read %s table: %w", name, err)
		}
		if header {
			header = false
			for i, c := range rec {
				c = strings.TrimSpace(c)
				known := false
				for _, k := range append(append([]string{}, required...), optional...) {
					known = known || k == c
				}
				if !known {
					return nil, fmt.Errorf("read %s table: line %d: unknown column %q (columns: %s)", name, line, c, strings.Join(append(append([]string{}, required...), optional...), ","))
				}
				t.cols[c] = i
			}
			for _, c := range required {
				if _, ok := t.cols[c]; !ok {
					return nil, fmt.Errorf("read %s table: line %d: header has no column %q (required: %s)", name, line, c, strings.Join(required, ","))
				}
			}
			continue
		}
		if len(rec) != len(t.cols) {
			return nil, fmt.Errorf("read %s table: line %d: %d fields, the header has %d", name, line, len(rec), len(t.cols))
		}
		t.rows = append(t.rows, rec)
		t.lines = append(t.lines, line)
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("read %s table: no row", name)
	}
	return t, nil
}

// get gives column c of row i ("" when the column is absent).
func (t *table) get(i int, c string) string {
	j, ok := t.cols[c]
	if !ok {
		return ""
	}
	return strings.TrimSpace(t.rows[i][j])
}

func (t *table) errorf(i int, format string, a ...any) error {
	return fmt.Errorf("read %s table: line %d: %s", t.name, t.lines[i], fmt.Sprintf(format, a...))
}

func (t *table) date(i int, c string) (Date, error) {
	d, ok := parseDate(t.get(i, c))
	if !ok {
		return Date{}, t.errorf(i, "%s %q is not a date 2006-01-02", c, t.get(i, c))
	}
	if d.After(t.latest) {
		t.latest = d
	}
	return d, nil
}

func (t *table) cents(i int, c string, optional bool) (Amount, error) {
	v := t.get(i, c)
	if v == "" && optional {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || (n == 0 && !optional) {
		return 0, t.errorf(i, "%s %q is not a positive number of cents", c, v)
	}
	return Amount(n), nil
}

func (t *table) rate(i int, c string, allowed ...int) (int, error) {
	v := t.get(i, c)
	n, err := strconv.Atoi(v)
	ok := err == nil && n > 0 && n <= 100
	if ok && len(allowed) > 0 {
		ok = false
		for _, a := range allowed {
			ok = ok || a == n
		}
	}
	if !ok {
		return 0, t.errorf(i, "%s %q is not a rate in percent", c, v)
	}
	return n, nil
}

func (t *table) finish() string {
	if t.version != "" {
		return t.version
	}
	return t.name + "-" + t.latest.String()
}

// dated is one value of a table from a date on.
type dated[V any] struct {
	from Date
	v    V
}

// datedList keeps each key's values sorted, oldest first.
type datedList[K comparable, V any] map[K][]dated[V]

func (m datedList[K, V]) add(k K, from Date, v V) { m[k] = append(m[k], dated[V]{from, v}) }

func (m datedList[K, V]) sort(name string, keyName func(K) string) error {
	for k, v := range m {
		sort.Slice(v, func(i, j int) bool { return v[i].from.Before(v[j].from) })
		for i := 1; i < len(v); i++ {
			if v[i].from == v[i-1].from {
				return fmt.Errorf("read %s table: %s has two values from %s", name, keyName(k), v[i].from)
			}
		}
	}
	return nil
}

func (m datedList[K, V]) at(k K, on Date) (V, bool) {
	v := m[k]
	for i := len(v) - 1; i >= 0; i-- {
		if !v[i].from.After(on) {
			return v[i].v, true
		}
	}
	var zero V
	return zero, false
}

// NGAP line kinds (the ngap table's kind column): what a key is.
const (
	NGAPAct        = "act"        // an act: franchise on an auxiliary's act
	NGAPMajoration = "majoration" // a majoration added to an act (MCG, MAU, MCI, nuit, dimanche)
	NGAPIndemnity  = "indemnity"  // a travel indemnity (IFD, IK)
)

// Tariffs is the dated NGAP table: for each (key, profession), the value
// of the key in cents, the AMO rate and the kind of key, from a date on.
// ParseTariffs reads it (fixtures/tariffs/ngap.csv).
type Tariffs struct {
	version string
	keys    datedList[ngapKey, tariff]
}

type ngapKey struct{ key, profession string }

type tariff struct {
	value Amount
	rate  int    // AMO rate in percent
	kind  string // NGAPAct, NGAPMajoration or NGAPIndemnity
}

// ParseTariffs reads the NGAP table:
//
//	# version: ngap-2024-12-22
//	key,profession,valid_from,cents,rate,kind,label
//	G,10,2024-12-22,3000,70,act,consultation de médecine générale
//	IFD,60,2024-01-28,275,60,indemnity,indemnité forfaitaire de déplacement (infirmier)
//
// profession is a G15 code or a ';'-separated list of them; the same key
// may have other values for another profession.
func ParseTariffs(r io.Reader) (*Tariffs, error) {
	tb, err := readTable(r, "ngap", []string{"key", "profession", "valid_from", "cents", "rate", "kind"}, []string{"label", "source"})
	if err != nil {
		return nil, err
	}
	t := &Tariffs{keys: datedList[ngapKey, tariff]{}}
	for i := range tb.rows {
		key := tb.get(i, "key")
		if key == "" {
			return nil, tb.errorf(i, "empty key")
		}
		from, err := tb.date(i, "valid_from")
		if err != nil {
			return nil, err
		}
		cents, err := tb.cents(i, "cents", false)
		if err != nil {
			return nil, err
		}
		rate, err := tb.rate(i, "rate")
		if err != nil {
			return nil, err
		}
		kind := tb.get(i, "kind")
		switch kind {
		case NGAPAct, NGAPMajoration, NGAPIndemnity:
		default:
			return nil, tb.errorf(i, "kind %q is not act, majoration or indemnity", kind)
		}
		for _, p := range strings.Split(tb.get(i, "profession"), ";") {
			if !digits(p, 2) {
				return nil, tb.errorf(i, "profession %q is not a 2-digit G15 code", p)
			}
			t.keys.add(ngapKey{key, p}, from, tariff{value: cents, rate: rate, kind: kind})
		}
	}
	if err := t.keys.sort("ngap", func(k ngapKey) string { return k.key + " (profession " + k.profession + ")" }); err != nil {
		return nil, err
	}
	t.version = tb.finish()
	return t, nil
}

// Version names the table, e.g. "ngap-2024-12-22"; "none" for a nil table.
func (t *Tariffs) Version() string {
	if t == nil {
		return "none"
	}
	return t.version
}

func (t *Tariffs) at(key string, on Date, profession string) (tariff, bool) {
	if t == nil {
		return tariff{}, false
	}
	return t.keys.at(ngapKey{key, profession}, on)
}

// known reports whether key has a value on day on for any profession.
func (t *Tariffs) known(key string, on Date) bool {
	if t == nil {
		return false
	}
	for k := range t.keys {
		if k.key == key {
			if _, ok := t.keys.at(k, on); ok {
				return true
			}
		}
	}
	return false
}

// Lookup gives the value of key for profession (G15) on day on.
func (t *Tariffs) Lookup(key, profession string, on Date) (Amount, bool) {
	tf, ok := t.at(key, on, profession)
	return tf.value, ok
}

// Allowed reports whether profession (G15) may bill key on day on.
func (t *Tariffs) Allowed(key string, on Date, profession string) bool {
	_, ok := t.at(key, on, profession)
	return ok
}

// Keys lists the keys a profession may bill on day on, sorted.
func (t *Tariffs) Keys(on Date, profession string) []string {
	if t == nil {
		return nil
	}
	var out []string
	for k := range t.keys {
		if k.profession == profession && t.Allowed(k.key, on, profession) {
			out = append(out, k.key)
		}
	}
	sort.Strings(out)
	return out
}

// CCAMAct is one CCAM act's row in force: its tariff and the modifiers it
// may take.
type CCAMAct struct {
	Tariff    Amount // in cents, for the activity
	Rate      int    // AMO rate in percent
	Modifiers string // letters of the modifiers the act may take, e.g. "FPSU"
}

// CCAMModifier is a CCAM modifier in force: a percentage of the act's
// tariff or a fixed amount added to it.
type CCAMModifier struct {
	Percent int    // added percent of the tariff (K: 20)
	Fixed   Amount // added cents (F: 19.06 €)
}

// CCAMTariffs is the dated CCAM table: acts by (code, activity) and the
// modifiers. ParseCCAM reads it (fixtures/tariffs/ccam.csv and
// ccam-modifiers.csv).
type CCAMTariffs struct {
	version   string
	acts      datedList[ccamKey, CCAMAct]
	modifiers datedList[byte, CCAMModifier]
}

type ccamKey struct {
	code     string
	activity int
}

// ParseCCAM reads the CCAM acts and the modifiers:
//
//	code,activity,valid_from,cents,rate,modifiers,label
//	DEQP003,1,2025-01-01,1452,70,FPSU,électrocardiographie sur au moins 12 dérivations
//
//	modifier,valid_from,percent,cents,label
//	F,2005-03-25,0,1906,urgence un dimanche ou un jour férié
func ParseCCAM(acts, modifiers io.Reader) (*CCAMTariffs, error) {
	tb, err := readTable(acts, "ccam", []string{"code", "activity", "valid_from", "cents", "rate"}, []string{"modifiers", "label", "source"})
	if err != nil {
		return nil, err
	}
	t := &CCAMTariffs{acts: datedList[ccamKey, CCAMAct]{}, modifiers: datedList[byte, CCAMModifier]{}}
	for i := range tb.rows {
		code := tb.get(i, "code")
		if !ccamCode(code) {
			return nil, tb.errorf(i, "code %q is not 4 capital letters and 3 digits", code)
		}
		act, err := strconv.Atoi(tb.get(i, "activity"))
		if err != nil || act < 1 || act > 9 {
			return nil, tb.errorf(i, "activity %q is not a digit 1 to 9", tb.get(i, "activity"))
		}
		from, err := tb.date(i, "valid_from")
		if err != nil {
			return nil, err
		}
		cents, err := tb.cents(i, "cents", false)
		if err != nil {
			return nil, err
		}
		rate, err := tb.rate(i, "rate")
		if err != nil {
			return nil, err
		}
		mods := tb.get(i, "modifiers")
		for j := 0; j < len(mods); j++ {
			if !modifierLetter(mods[j]) {
				return nil, tb.errorf(i, "modifiers %q: %q is not a capital letter or a digit", mods, mods[j])
			}
		}
		t.acts.add(ccamKey{code, act}, from, CCAMAct{Tariff: cents, Rate: rate, Modifiers: mods})
	}
	if err := t.acts.sort("ccam", func(k ccamKey) string { return k.code + " activity " + strconv.Itoa(k.activity) }); err != nil {
		return nil, err
	}
	version := tb.finish()
	if modifiers != nil {
		mb, err := readTable(modifiers, "ccam-modifiers", []string{"modifier", "valid_from", "percent", "cents"}, []string{"label", "source"})
		if err != nil {
			return nil, err
		}
		for i := range mb.rows {
			m := mb.get(i, "modifier")
			if len(m) != 1 || !modifierLetter(m[0]) {
				return nil, mb.errorf(i, "modifier %q is not one capital letter or digit", m)
			}
			from, err := mb.date(i, "valid_from")
			if err != nil {
				return nil, err
			}
			pct, err := strconv.Atoi(mb.get(i, "percent"))
			if err != nil || pct < 0 || pct > 100 {
				return nil, mb.errorf(i, "percent %q is not 0 to 100", mb.get(i, "percent"))
			}
			cents, err := mb.cents(i, "cents", true)
			if err != nil {
				return nil, err
			}
			t.modifiers.add(m[0], from, CCAMModifier{Percent: pct, Fixed: cents})
		}
		if err := t.modifiers.sort("ccam-modifiers", func(b byte) string { return string(b) }); err != nil {
			return nil, err
		}
		if mb.latest.After(tb.latest) && tb.version == "" {
			version = "ccam-" + mb.latest.String()
		}
	}
	t.version = version
	return t, nil
}

func modifierLetter(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') }

// Version names the table, e.g. "ccam-2025-01-01"; "none" for a nil table.
func (t *CCAMTariffs) Version() string {
	if t == nil {
		return "none"
	}
	return t.version
}

// Act gives the row in force on day on of code for activity.
func (t *CCAMTariffs) Act(code string, activity int, on Date) (CCAMAct, bool) {
	if t == nil {
		return CCAMAct{}, false
	}
	return t.acts.at(ccamKey{code, activity}, on)
}

// Price gives the price of an act with its modifiers on day on: the
// tariff, plus each modifier's percent of the tariff (rounded half up) and
// fixed amount. ok is false when the act is unknown; bad names the first
// modifier the act may not take or the table does not know.
func (t *CCAMTariffs) Price(code string, activity int, modifiers string, on Date) (price Amount, ok bool, bad string) {
	a, ok := t.Act(code, activity, on)
	if !ok {
		return 0, false, ""
	}
	price = a.Tariff
	for i := 0; i < len(modifiers); i++ {
		m, known := t.modifiers.at(modifiers[i], on)
		if !known || !strings.ContainsRune(a.Modifiers, rune(modifiers[i])) {
			return 0, true, modifiers[i : i+1]
		}
		price += share(a.Tariff, m.Percent) + m.Fixed
	}
	return price, true, ""
}

// Drug is a drug's row in force: its price per box, its rate class and
// its TFR (tarif forfaitaire de responsabilité) when its generic group has
// one.
type Drug struct {
	Price Amount // public price per box, cents
	Rate  int    // rate class: 15, 30, 65 or 100
	TFR   Amount // reimbursement base per box; 0 when the price is the base
}

// Fee is a pharmacy fee's row in force (honoraire de dispensation).
type Fee struct {
	Value Amount // cents per unit
	Rate  int    // AMO rate in percent; 0: at the rate of the drugs it goes with
}

// DrugTariffs is the dated drug table by CIP13, with the pharmacy fees.
// ParseDrugs reads it (fixtures/tariffs/drugs.csv and fees.csv).
type DrugTariffs struct {
	version string
	drugs   datedList[string, Drug]
	fees    datedList[string, Fee]
}

// ParseDrugs reads the drugs and the dispensing fees:
//
//	cip13,valid_from,cents,rate,tfr_cents,label
//	3400930000014,2025-01-01,208,65,,PARACETAMOL 1000MG CPR B/8
//
//	code,valid_from,cents,rate,label
//	HD,2016-01-01,102,drug,honoraire de dispensation par conditionnement
//
// A fee's rate is a percent or "drug" (at the rate of the drugs it goes
// with).
func ParseDrugs(drugs, fees io.Reader) (*DrugTariffs, error) {
	tb, err := readTable(drugs, "drugs", []string{"cip13", "valid_from", "cents", "rate"}, []string{"tfr_cents", "label", "source"})
	if err != nil {
		return nil, err
	}
	t := &DrugTariffs{drugs: datedList[string, Drug]{}, fees: datedList[string, Fee]{}}
	for i := range tb.rows {
		cip := tb.get(i, "cip13")
		if !ValidCIP13(cip) {
			return nil, tb.errorf(i, "cip13 %q is not a valid CIP13", cip)
		}
		from, err := tb.date(i, "valid_from")
		if err != nil {
			return nil, err
		}
		price, err := tb.cents(i, "cents", false)
		if err != nil {
			return nil, err
		}
		rate, err := tb.rate(i, "rate", 15, 30, 65, 100)
		if err != nil {
			return nil, err
		}
		tfr, err := tb.cents(i, "tfr_cents", true)
		if err != nil {
			return nil, err
		}
		t.drugs.add(cip, from, Drug{Price: price, Rate: rate, TFR: tfr})
	}
	if err := t.drugs.sort("drugs", func(s string) string { return s }); err != nil {
		return nil, err
	}
	version := tb.finish()
	if fees != nil {
		fb, err := readTable(fees, "fees", []string{"code", "valid_from", "cents", "rate"}, []string{"label", "source"})
		if err != nil {
			return nil, err
		}
		for i := range fb.rows {
			code := fb.get(i, "code")
			if code == "" {
				return nil, fb.errorf(i, "empty code")
			}
			from, err := fb.date(i, "valid_from")
			if err != nil {
				return nil, err
			}
			v, err := fb.cents(i, "cents", false)
			if err != nil {
				return nil, err
			}
			f := Fee{Value: v}
			if fb.get(i, "rate") != "drug" {
				if f.Rate, err = fb.rate(i, "rate"); err != nil {
					return nil, err
				}
			}
			t.fees.add(code, from, f)
		}
		if err := t.fees.sort("fees", func(s string) string { return s }); err != nil {
			return nil, err
		}
		if fb.latest.After(tb.latest) && tb.version == "" {
			version = "drugs-" + fb.latest.String()
		}
	}
	t.version = version
	return t, nil
}

// Version names the table, e.g. "drugs-2025-01-01"; "none" for a nil table.
func (t *DrugTariffs) Version() string {
	if t == nil {
		return "none"
	}
	return t.version
}

// Drug gives the row of cip in force on day on.
func (t *DrugTariffs) Drug(cip string, on Date) (Drug, bool) {
	if t == nil {
		return Drug{}, false
	}
	return t.drugs.at(cip, on)
}

// Fee gives the fee code in force on day on.
func (t *DrugTariffs) Fee(code string, on Date) (Fee, bool) {
	if t == nil {
		return Fee{}, false
	}
	return t.fees.at(code, on)
}

// CIPs lists the drugs in force on day on, sorted.
func (t *DrugTariffs) CIPs(on Date) []string {
	if t == nil {
		return nil
	}
	var out []string
	for k := range t.drugs {
		if _, ok := t.drugs.at(k, on); ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
