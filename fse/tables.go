package fse

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Tariffs is the dated NGAP tariff table: for each key, its value in cents
// from a date on, and the professions (G15 codes) allowed to bill it. It is
// read from CSV (fixtures/tariffs/ngap.csv) by ParseTariffs; the fse package
// never opens files itself.
type Tariffs struct {
	version string
	keys    map[string][]tariff // sorted by from, oldest first
}

type tariff struct {
	from        Date
	value       Amount
	professions string // "10;40"
}

// ParseTariffs reads a tariff table in CSV:
//
//	# version: ngap-2024-12-22
//	key,cents,valid_from,professions,label
//	G,3000,2024-12-22,10,consultation de médecine générale
//
// Lines starting with '#' are comments; "# version: X" names the table
// (otherwise its version is "ngap-" and the latest valid_from date).
func ParseTariffs(r io.Reader) (*Tariffs, error) {
	t := &Tariffs{keys: map[string][]tariff{}}
	var latest Date
	sc := bufio.NewScanner(r)
	n := 0
	header := false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line[1:]), "version:"); ok {
				t.version = strings.TrimSpace(v)
			}
			continue
		}
		f := strings.Split(line, ",")
		if !header {
			header = true
			if len(f) < 4 || f[0] != "key" || f[1] != "cents" || f[2] != "valid_from" || f[3] != "professions" {
				return nil, fmt.Errorf("read tariffs: line %d: header must be key,cents,valid_from,professions[,label]", n)
			}
			continue
		}
		if len(f) < 4 {
			return nil, fmt.Errorf("read tariffs: line %d: want key,cents,valid_from,professions", n)
		}
		cents, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || cents <= 0 {
			return nil, fmt.Errorf("read tariffs: line %d: cents %q is not a positive integer", n, f[1])
		}
		from, ok := parseDate(f[2])
		if !ok {
			return nil, fmt.Errorf("read tariffs: line %d: valid_from %q is not a date 2006-01-02", n, f[2])
		}
		if f[0] == "" {
			return nil, fmt.Errorf("read tariffs: line %d: empty key", n)
		}
		t.keys[f[0]] = append(t.keys[f[0]], tariff{from: from, value: Amount(cents), professions: f[3]})
		if from.After(latest) {
			latest = from
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tariffs: %w", err)
	}
	if len(t.keys) == 0 {
		return nil, fmt.Errorf("read tariffs: no tariff")
	}
	for k, v := range t.keys {
		sort.Slice(v, func(i, j int) bool { return v[i].from.Before(v[j].from) })
		for i := 1; i < len(v); i++ {
			if v[i].from == v[i-1].from {
				return nil, fmt.Errorf("read tariffs: key %s has two values from %s", k, v[i].from)
			}
		}
	}
	if t.version == "" {
		t.version = "ngap-" + latest.String()
	}
	return t, nil
}

// Version names the table, e.g. "ngap-2024-12-22".
func (t *Tariffs) Version() string {
	if t == nil {
		return "none"
	}
	return t.version
}

func (t *Tariffs) at(key string, on Date) (tariff, bool) {
	if t == nil {
		return tariff{}, false
	}
	v := t.keys[key]
	for i := len(v) - 1; i >= 0; i-- {
		if !v[i].from.After(on) {
			return v[i], true
		}
	}
	return tariff{}, false
}

// Lookup gives the value of key in force on day on.
func (t *Tariffs) Lookup(key string, on Date) (Amount, bool) {
	tf, ok := t.at(key, on)
	return tf.value, ok
}

// Allowed reports whether profession (G15) may bill key on day on.
func (t *Tariffs) Allowed(key string, on Date, profession string) bool {
	tf, ok := t.at(key, on)
	return ok && listHas(tf.professions, profession)
}

// Keys lists the keys a profession may bill on day on, sorted.
func (t *Tariffs) Keys(on Date, profession string) []string {
	var out []string
	if t == nil {
		return nil
	}
	for k := range t.keys {
		if t.Allowed(k, on, profession) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// listHas reports whether the ';'-separated list holds item.
func listHas(list, item string) bool {
	for list != "" {
		var head string
		head, list, _ = strings.Cut(list, ";")
		if head == item {
			return true
		}
	}
	return false
}

// Holidays is the dated table of French public holidays used to count
// working days (fixtures/holidays.csv), read by ParseHolidays.
type Holidays struct {
	days       map[Date]bool
	first, end Date // covered range: [first year's Jan 1, last year's Dec 31]
}

// ParseHolidays reads "date,name" lines (a "date,name" header and '#'
// comments allowed).
func ParseHolidays(r io.Reader) (*Holidays, error) {
	h := &Holidays{days: map[Date]bool{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "date,") {
			continue
		}
		ds, _, _ := strings.Cut(line, ",")
		d, ok := parseDate(ds)
		if !ok {
			return nil, fmt.Errorf("read holidays: line %d: %q is not a date 2006-01-02", n, ds)
		}
		h.days[d] = true
		if h.first.IsZero() || d.Before(h.first) {
			h.first = Date{d.Year, time.January, 1}
		}
		if d.After(h.end) {
			h.end = Date{d.Year, time.December, 31}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read holidays: %w", err)
	}
	if len(h.days) == 0 {
		return nil, fmt.Errorf("read holidays: no holiday")
	}
	return h, nil
}

// Covers reports whether the table knows the holidays of d's year.
func (h *Holidays) Covers(d Date) bool {
	return h != nil && !d.Before(h.first) && !d.After(h.end)
}

// Holiday reports whether d is a public holiday.
func (h *Holidays) Holiday(d Date) bool { return h != nil && h.days[d] }

// WorkingDay reports whether d is a working day: Monday to Friday and not a
// public holiday. A nil table knows no holiday.
func (h *Holidays) WorkingDay(d Date) bool {
	switch d.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return !h.Holiday(d)
}

// AddWorkingDays gives the n-th working day after d.
func (h *Holidays) AddWorkingDays(d Date, n int) Date {
	t := d.Time(time.UTC)
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if h.WorkingDay(DateOf(t)) {
			n--
		}
	}
	return DateOf(t)
}
