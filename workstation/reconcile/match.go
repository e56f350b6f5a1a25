package reconcile

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fsegate/fsegate/client"
)

// Status says how a bank line and a transfer compare.
type Status string

const (
	Matched       Status = "matched"        // same reference (or, without one, same amount and date), same amount, dates within the tolerance
	AmountDiffers Status = "amount differs" // the bank line names the transfer, with another amount
	DateDiffers   Status = "date differs"   // same transfer and amount, the bank's date further than the tolerance from the value date
	Unexpected    Status = "unexpected"     // a bank line no transfer known to the gateway explains
	Missing       Status = "missing"        // a transfer the statement does not show
)

// Result is one line of the reconciliation: a bank line, a transfer, or
// both.
type Result struct {
	Status   Status
	Bank     *Line            // nil for Missing
	Transfer *client.Transfer // nil for Unexpected
	Detail   string
}

// Date is the result's date: the bank's, or the transfer's value date.
func (r *Result) Date() string {
	if r.Bank != nil {
		return r.Bank.Date
	}
	return r.Transfer.Date
}

// Report is a whole reconciliation.
type Report struct {
	Results   []Result // by date, then bank row
	BankLines int
	Transfers int    // transfers of the statement's period
	From, To  string // the period compared: the statement's dates, widened by the tolerance
	Counts    map[Status]int
}

// Differences is the number of results that are not Matched.
func (r *Report) Differences() int { return len(r.Results) - r.Counts[Matched] }

// Options tune Match. The zero value is usable.
type Options struct {
	// DateTolerance is how many days a bank's booking date may be from the
	// transfer's value date and still match (2 when 0; -1 for none).
	DateTolerance int
}

// Period is the value dates whose transfers a statement should show: its
// first to its last date, widened by the tolerance ("" when it is empty).
func Period(lines []Line, opt Options) (from, to string) {
	tol := tolerance(opt)
	for _, l := range lines {
		if from == "" || l.Date < from {
			from = l.Date
		}
		if l.Date > to {
			to = l.Date
		}
	}
	if from == "" {
		return "", ""
	}
	return addDays(from, -tol), addDays(to, tol)
}

func tolerance(opt Options) int {
	switch {
	case opt.DateTolerance < 0:
		return 0
	case opt.DateTolerance == 0:
		return 2
	}
	return opt.DateTolerance
}

// Match matches the bank lines with the transfers: first by reference (the
// reference column, or the reference found in the label), then, for lines
// naming none, by amount and date; what is left is unexpected (bank) or
// missing (transfers whose value date falls in the statement's period).
func Match(lines []Line, transfers []client.Transfer, opt Options) *Report {
	tol := tolerance(opt)
	rep := &Report{BankLines: len(lines), Counts: map[Status]int{}}
	rep.From, rep.To = Period(lines, opt)
	byRef := map[string]int{}
	var inPeriod []int
	for i := range transfers {
		t := &transfers[i]
		byRef[t.Reference] = i
		if rep.From != "" && t.Date >= rep.From && t.Date <= rep.To {
			inPeriod = append(inPeriod, i)
		}
	}
	used := map[int]bool{}
	add := func(r Result) {
		rep.Results = append(rep.Results, r)
		rep.Counts[r.Status]++
	}
	var noRef []*Line
	for i := range lines {
		l := &lines[i]
		ti, ok := reference(l, byRef)
		if !ok || used[ti] {
			noRef = append(noRef, l)
			continue
		}
		used[ti] = true
		t := &transfers[ti]
		add(compare(l, t, tol, "by reference"))
	}
	// Lines naming no transfer: the one transfer of that amount whose value
	// date is closest, within the tolerance.
	for _, l := range noRef {
		best, bestDays := -1, tol+1
		for _, ti := range inPeriod {
			t := &transfers[ti]
			if used[ti] || t.Total != l.Amount {
				continue
			}
			if d := absDays(l.Date, t.Date); d < bestDays {
				best, bestDays = ti, d
			}
		}
		if best < 0 {
			add(Result{Status: Unexpected, Bank: l, Detail: fmt.Sprintf("row %d: no transfer known to the gateway has this reference, or this amount within %d days", l.Row, tol)})
			continue
		}
		used[best] = true
		add(compare(l, &transfers[best], tol, "by amount and date (the bank line names no known reference)"))
	}
	for _, ti := range inPeriod {
		if used[ti] {
			continue
		}
		t := &transfers[ti]
		add(Result{Status: Missing, Transfer: t, Detail: fmt.Sprintf("transfer of %s (%s) is not on the statement", t.Insurer, sheets(t))})
	}
	rep.Transfers = len(inPeriod)
	sort.SliceStable(rep.Results, func(i, j int) bool {
		a, b := &rep.Results[i], &rep.Results[j]
		if a.Date() != b.Date() {
			return a.Date() < b.Date()
		}
		return a.Bank != nil && (b.Bank == nil || a.Bank.Row < b.Bank.Row)
	})
	return rep
}

// reference finds the transfer a bank line names.
func reference(l *Line, byRef map[string]int) (int, bool) {
	if l.Reference != "" {
		i, ok := byRef[l.Reference]
		return i, ok
	}
	for _, w := range strings.FieldsFunc(l.Label, func(r rune) bool { return r == ' ' || r == '\t' || r == ';' }) {
		if i, ok := byRef[w]; ok {
			return i, true
		}
	}
	return 0, false
}

func compare(l *Line, t *client.Transfer, tol int, how string) Result {
	r := Result{Bank: l, Transfer: t}
	switch d := absDays(l.Date, t.Date); {
	case l.Amount != t.Total:
		r.Status = AmountDiffers
		r.Detail = fmt.Sprintf("row %d: bank %s, transfer %s (difference %s)", l.Row, client.Euros(l.Amount), client.Euros(t.Total), client.Euros(l.Amount-t.Total))
		if w := t.Sum("withheld"); w != 0 {
			r.Detail += fmt.Sprintf("; the transfer withheld %s", client.Euros(w))
		}
	case d > tol:
		r.Status = DateDiffers
		r.Detail = fmt.Sprintf("row %d: booked %s, value date %s (%d days apart, tolerance %d)", l.Row, l.Date, t.Date, d, tol)
	default:
		r.Status = Matched
		r.Detail = fmt.Sprintf("row %d: %s, matched %s", l.Row, sheets(t), how)
	}
	return r
}

// sheets counts the sheets a transfer names: "1 sheet", "3 sheets".
func sheets(t *client.Transfer) string {
	seen := map[string]bool{}
	for _, l := range t.Lines {
		seen[l.Number] = true
	}
	if len(seen) == 1 {
		return "1 sheet"
	}
	return fmt.Sprintf("%d sheets", len(seen))
}

func addDays(date string, n int) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return date
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

func absDays(a, b string) int {
	ta, err1 := time.Parse(time.DateOnly, a)
	tb, err2 := time.Parse(time.DateOnly, b)
	if err1 != nil || err2 != nil {
		return 1 << 30
	}
	d := int(ta.Sub(tb).Hours() / 24)
	if d < 0 {
		d = -d
	}
	return d
}
