package fse

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

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
