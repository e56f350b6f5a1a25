package chaos

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Rules the checker enforces; a Violation names one.
const (
	RuleLost           = "lost"            // a receipted sheet not final at a destination, or in no lot
	RuleDuplicated     = "duplicated"      // a sheet in more than one lot, or final twice at a destination
	RulePaidTwice      = "paid-twice"      // a destination paid more than once
	RuleDoublon        = "doublon"         // another sheet accepted under a receipted key
	RuleSameReceipt    = "same-receipt"    // the same sheet again got another receipt
	RuleBackwards      = "backwards"       // a state moved back
	RuleNotice         = "notice"          // a notice not delivered, not confirmed, missing or unknown
	RuleAudit          = "audit"           // the audit chain broken, forked or rewritten
	RuleRefusedQueued  = "refused-queued"  // a refused sheet found in the queue
	RuleReceiptNoState = "receipt-unknown" // a receipt for a sheet the cluster does not know
)

// Violation is one broken rule.
type Violation struct {
	Rule   string `json:"rule"`
	Key    string `json:"key,omitempty"`
	Detail string `json:"detail"`
}

func (v Violation) String() string {
	if v.Key == "" {
		return v.Rule + ": " + v.Detail
	}
	return v.Rule + " " + v.Key + ": " + v.Detail
}

// Report is the checker's verdict and the campaign's figures.
type Report struct {
	Sent       int            `json:"sent"`      // distinct sheets sent
	Receipted  int            `json:"receipted"` // distinct sheets receipted
	Refused    int            `json:"refused"`   // definite refusals (doublons included)
	Errors     int            `json:"errors"`    // sends without an answer
	Lost       int            `json:"lost"`
	Duplicated int            `json:"duplicated"`
	Faults     map[string]int `json:"faults"`
	// LongestUnavailable is the longest time during which every send
	// failed (from the first failure after a receipt to the next receipt).
	LongestUnavailable time.Duration `json:"longest_unavailable"`
	// Drain is from the last heal to the moment the client saw the last
	// receipted sheet final.
	Drain time.Duration `json:"drain"`
	// NoticesOutOfOrder counts notices stored after a notice of a later
	// state of the same sheet and insurer (accepted after paid).
	NoticesOutOfOrder int `json:"notices_out_of_order"`
	// HistoryOutOfOrder counts status histories where accepted follows
	// paid at one destination (the same cause).
	HistoryOutOfOrder int         `json:"history_out_of_order"`
	Violations        []Violation `json:"violations,omitempty"`
	Stories           []string    `json:"stories,omitempty"`
}

// OK reports whether every rule held.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// Summary is one line of figures.
func (r *Report) Summary() string {
	return fmt.Sprintf("sent %d, receipted %d, refused %d, unanswered %d, lost %d, duplicated %d, longest unavailability %s, drain %s, notices out of order %d, histories out of order %d, violations %d",
		r.Sent, r.Receipted, r.Refused, r.Errors, r.Lost, r.Duplicated, r.LongestUnavailable.Round(100*time.Millisecond), r.Drain.Round(100*time.Millisecond), r.NoticesOutOfOrder, r.HistoryOutOfOrder, len(r.Violations))
}

// maxStories bounds the stories printed (the first sheets that failed).
const maxStories = 10

// Check compares a campaign's history with what the cluster holds at the
// end, and returns every violation with the whole story of the first
// sheets concerned. It is pure: it reads only its arguments.
func Check(ops []Op, snap *Snapshot) *Report {
	c := &checker{ops: ops, snap: snap, rep: &Report{Faults: map[string]int{}}}
	if snap.Sheets == nil {
		snap.Sheets = map[string]*Sheet{}
	}
	c.sends()
	c.sheets()
	c.forward()
	c.notices()
	c.audit()
	c.figures()
	c.stories()
	return c.rep
}

type checker struct {
	ops  []Op
	snap *Snapshot
	rep  *Report
	// receipted: key → the digest of its first receipt; accepted: key →
	// every digest receipted under it, in order.
	receipted map[string]string
	accepted  map[string][]string
	// refused: key → digests of sheets refused for good.
	refused map[string][]string
	bad     []string // keys with a violation, in order
	badSeen map[string]bool
}

func (c *checker) fail(rule, key, format string, args ...any) {
	c.rep.Violations = append(c.rep.Violations, Violation{Rule: rule, Key: key, Detail: fmt.Sprintf(format, args...)})
	if key != "" && !c.badSeen[key] {
		if c.badSeen == nil {
			c.badSeen = map[string]bool{}
		}
		c.badSeen[key] = true
		c.bad = append(c.bad, key)
	}
}

// sends: same sheet, same receipt; another sheet under a receipted key
// only as the correction of a rejected one.
func (c *checker) sends() {
	c.receipted, c.accepted, c.refused = map[string]string{}, map[string][]string{}, map[string][]string{}
	sent := map[string]bool{}
	for _, op := range c.ops {
		if op.Kind != OpSend {
			continue
		}
		if op.Variant == Original {
			sent[op.Key] = true
		}
		switch op.Result {
		case Receipted:
			first, ok := c.receipted[op.Key]
			if op.Sent != "" && op.Digest != op.Sent {
				c.fail(RuleSameReceipt, op.Key, "sent digest %s, receipt for %s (%s at %s)", short(op.Sent), short(op.Digest), op.Variant, op.End.Format(timeFmt))
			}
			switch {
			case !ok:
				c.receipted[op.Key] = op.Digest
				c.accepted[op.Key] = append(c.accepted[op.Key], op.Digest)
			case op.Digest == first || contains(c.accepted[op.Key], op.Digest):
			case op.Corrects != "" && contains(c.accepted[op.Key], op.Corrects):
				// A correction: legal only if what it corrects was rejected.
				c.accepted[op.Key] = append(c.accepted[op.Key], op.Digest)
				if !c.wasRejected(op.Key, op.Corrects) {
					c.fail(RuleDoublon, op.Key, "sheet %s accepted as the correction of %s, which was never rejected", short(op.Digest), short(op.Corrects))
				}
			default:
				c.accepted[op.Key] = append(c.accepted[op.Key], op.Digest)
				c.fail(RuleDoublon, op.Key, "sheet %s receipted under a key already receipted for %s", short(op.Digest), short(first))
			}
		case Refused:
			c.rep.Refused++
			if op.HTTP < 500 && op.Sent != "" {
				c.refused[op.Key] = append(c.refused[op.Key], op.Sent)
			}
		case Failed:
			c.rep.Errors++
		}
	}
	c.rep.Sent = len(sent)
	c.rep.Receipted = len(c.receipted)
	if c.rep.Sent > 0 && c.rep.Receipted == 0 {
		c.fail(RuleLost, "", "%d sheets sent, none receipted: the campaign proves nothing", c.rep.Sent)
	}
}

func (c *checker) wasRejected(key, digest string) bool {
	st := c.snap.Sheets[key]
	if st == nil {
		return false
	}
	for _, e := range st.History {
		if e.State == "rejected" {
			return true
		}
	}
	return false
}

// sheets: every receipted sheet known, final once per destination, in
// exactly one lot of that destination; nothing refused queued.
func (c *checker) sheets() {
	lotsOf := map[string][]Lot{} // insurer/key → lots holding it
	lotDigest := map[string]string{}
	for _, l := range c.snap.Lots {
		for _, s := range l.Sheets {
			k := l.Insurer + "/" + s.Key
			lotsOf[k] = append(lotsOf[k], l)
			lotDigest[l.ID+"/"+s.Key] = s.Digest
		}
	}
	keys := sortedKeys(c.receipted)
	for _, key := range keys {
		st := c.snap.Sheets[key]
		if st == nil {
			c.rep.Lost++
			c.fail(RuleLost, key, "receipted, but the cluster has no status record")
			continue
		}
		if !contains(c.accepted[key], st.Digest) {
			c.fail(RuleDoublon, key, "the status holds sheet %s, never receipted (receipted: %s)", short(st.Digest), shortAll(c.accepted[key]))
		}
		lost, dup := false, false
		finals := map[string]int{}
		paid := map[string]int{}
		for _, e := range st.History {
			if e.Insurer == "" {
				continue
			}
			if finalEvent(e.State) {
				finals[e.Insurer]++
			}
			if e.State == "paid" {
				paid[e.Insurer]++
			}
		}
		for _, d := range st.Dests {
			if !d.final() {
				lost = true
				c.fail(RuleLost, key, "at %s: state %s, not final", d.Insurer, d.State)
			}
			if finals[d.Insurer] > 1 {
				dup = true
				c.fail(RuleDuplicated, key, "at %s: %d final states in its history", d.Insurer, finals[d.Insurer])
			}
			if paid[d.Insurer] > 1 {
				c.fail(RulePaidTwice, key, "at %s: paid %d times in its history", d.Insurer, paid[d.Insurer])
			}
			ls := lotsOf[d.Insurer+"/"+key]
			switch {
			case len(ls) == 0:
				lost = true
				c.fail(RuleLost, key, "at %s: in no lot", d.Insurer)
			case len(ls) > 1:
				dup = true
				c.fail(RuleDuplicated, key, "at %s: in %d lots %s", d.Insurer, len(ls), lotIDs(ls))
			default:
				l := ls[0]
				ended := l.State == "done" || (l.State == "dead" && (d.State == "delivery_failed" || d.State == "returns_overdue"))
				if !ended {
					lost = true
					c.fail(RuleLost, key, "at %s: its lot %s is %s (attempt %d)", d.Insurer, l.ID, l.State, l.Attempt)
				}
				if d.Lot != "" && d.Lot != l.ID {
					c.fail(RuleDuplicated, key, "at %s: the status names lot %s, the sheet is in lot %s", d.Insurer, d.Lot, l.ID)
				}
				if dg := lotDigest[l.ID+"/"+key]; dg != st.Digest {
					c.fail(RuleDoublon, key, "at %s: lot %s carries sheet %s, the status %s", d.Insurer, l.ID, short(dg), short(st.Digest))
				}
			}
		}
		if len(st.Dests) == 0 {
			lost = true
			c.fail(RuleLost, key, "status record without destinations")
		}
		if lost {
			c.rep.Lost++
		}
		if dup {
			c.rep.Duplicated++
		}
	}
	// Nothing refused was queued: a sheet refused for good is neither the
	// status's sheet nor in a lot.
	for _, key := range sortedKeys(c.refused) {
		for _, dg := range c.refused[key] {
			if contains(c.accepted[key], dg) {
				continue // refused once (say, while the first was in flight), receipted later
			}
			if st := c.snap.Sheets[key]; st != nil && st.Digest == dg {
				c.fail(RuleRefusedQueued, key, "sheet %s was refused, yet the status holds it", short(dg))
			}
			for _, l := range c.snap.Lots {
				for _, s := range l.Sheets {
					if s.Key == key && s.Digest == dg {
						c.fail(RuleRefusedQueued, key, "sheet %s was refused, yet lot %s carries it", short(dg), l.ID)
					}
				}
			}
		}
	}
	// The cluster knows no sheet that was never receipted... unless its
	// answer was lost (a send without an answer, or refused 5xx): those may
	// or may not be queued, and are not counted.
}

// forward: states only move forward, in the records, in the notices and
// in what clients read (a read that ended before another began).
func (c *checker) forward() {
	for _, key := range sortedKeys(c.snap.Sheets) {
		st := c.snap.Sheets[key]
		top := map[string]int{}
		for _, e := range st.History {
			if e.Insurer == "" || lotStep(e.State) {
				continue
			}
			r := rank(e.State)
			switch {
			case e.State == "accepted" && top[e.Insurer] == 6:
				// The returns of one acknowledgement are applied in
				// parallel: accepted may be written after paid. Counted:
				// the destination's state stays paid (checked above).
				c.rep.HistoryOutOfOrder++
			case r < top[e.Insurer] || (r == 6 && top[e.Insurer] == 6):
				c.fail(RuleBackwards, key, "history at %s: %s after rank %d", e.Insurer, e.State, top[e.Insurer])
			}
			top[e.Insurer] = max(top[e.Insurer], r)
		}
	}
	type seen struct {
		rank int
		end  time.Time
		st   string
	}
	reads := map[string][]seen{}
	for _, op := range c.ops {
		if op.Kind != OpStatus || op.Result != "" {
			continue
		}
		for _, d := range op.Dests {
			k := op.Key + "/" + d.Insurer
			r := rank(d.State)
			for _, p := range reads[k] {
				if p.end.Before(op.T) && p.rank > r {
					c.fail(RuleBackwards, op.Key, "at %s: read %s at %s after %s read at %s", d.Insurer, d.State, op.T.Format(timeFmt), p.st, p.end.Format(timeFmt))
					break
				}
			}
			reads[k] = append(reads[k], seen{rank: r, end: op.End, st: d.State})
		}
	}
	// Stored notices of one sheet at one insurer, in stream order.
	top := map[string]int{}
	ns := append([]Notice(nil), c.snap.Notices...)
	sort.Slice(ns, func(i, j int) bool { return ns[i].Seq < ns[j].Seq })
	for _, n := range ns {
		if n.Number == "" {
			continue
		}
		k := n.Billing + "." + n.Number + "/" + n.Insurer
		r := rank(n.Event)
		if r < 0 {
			continue // signalement and the like
		}
		if r < top[k] {
			// Notices are events, each naming its own: the returns of one
			// acknowledgement are applied in parallel and their notices
			// may be stored out of order (accepted after paid). Counted,
			// not a violation: the status record is the judge of states.
			c.rep.NoticesOutOfOrder++
		}
		top[k] = max(top[k], r)
	}
}

// notices: every stored notice delivered at least once and confirmed;
// every final state told by a notice; no final event told twice; nothing
// delivered that is not stored.
func (c *checker) notices() {
	stored := map[string]map[uint64]Notice{} // billing → seq → notice
	for _, n := range c.snap.Notices {
		if stored[n.Billing] == nil {
			stored[n.Billing] = map[uint64]Notice{}
		}
		stored[n.Billing][n.Seq] = n
	}
	delivered := map[string]map[uint64]bool{}
	confirmed := map[string]uint64{}
	reads := 0
	for _, op := range c.ops {
		switch {
		case op.Kind == OpNotices && op.Result == "":
			reads++
			if delivered[op.Billing] == nil {
				delivered[op.Billing] = map[uint64]bool{}
			}
			for _, n := range op.Notices {
				delivered[op.Billing][n.Seq] = true
				s, ok := stored[op.Billing][n.Seq]
				if !ok || s.ID != n.ID {
					key := ""
					if n.Number != "" {
						key = op.Billing + "." + n.Number
					}
					c.fail(RuleNotice, key, "notice %d (%s %s) delivered to %s but not stored as such", n.Seq, n.Event, n.ID, op.Billing)
				}
			}
		case op.Kind == OpConfirm && op.Result == "":
			confirmed[op.Billing] = max(confirmed[op.Billing], op.Seq)
		}
	}
	if reads == 0 {
		return // this history does not follow notices
	}
	finals := map[string]map[string]bool{} // key/insurer → final notice ids
	told := map[string]bool{}              // key/insurer/event delivered
	for _, billing := range sortedKeys(stored) {
		cur := c.snap.Cursors[billing]
		for _, seq := range sortedKeys(stored[billing]) {
			n := stored[billing][seq]
			key := ""
			if n.Number != "" {
				key = billing + "." + n.Number
			}
			if !delivered[billing][seq] {
				c.fail(RuleNotice, key, "notice %d (%s from %s) of %s never delivered", seq, n.Event, n.Insurer, billing)
			}
			if seq > cur || seq > confirmed[billing] {
				c.fail(RuleNotice, key, "notice %d of %s not confirmed (cursor %d, confirmed %d)", seq, billing, cur, confirmed[billing])
			}
			if key == "" {
				continue
			}
			k := key + "/" + n.Insurer
			if delivered[billing][seq] {
				told[k+"/"+n.Event] = true
			}
			if finalEvent(n.Event) {
				if finals[k] == nil {
					finals[k] = map[string]bool{}
				}
				finals[k][n.ID] = true
			}
		}
	}
	for k, ids := range finals {
		if len(ids) > 1 {
			key, ins, _ := strings.Cut(k, "/")
			c.fail(RuleDuplicated, key, "at %s: %d final notices %v", ins, len(ids), sortedKeys(ids))
		}
	}
	for _, key := range sortedKeys(c.receipted) {
		st := c.snap.Sheets[key]
		if st == nil {
			continue
		}
		for _, d := range st.Dests {
			if d.final() && !told[key+"/"+d.Insurer+"/"+d.State] {
				c.fail(RuleNotice, key, "at %s: final state %s never told by a delivered notice", d.Insurer, d.State)
			}
		}
	}
}

// audit: the chain verifies, never forks, and every length read during the
// campaign is a prefix of the final chain.
func (c *checker) audit() {
	a := c.snap.Audit
	if !c.snap.AuditVerify.OK {
		c.fail(RuleAudit, "", "gateway audit verify failed: %s", strings.TrimSpace(c.snap.AuditVerify.Output))
	}
	prevs := map[string]uint64{}
	for i, e := range a {
		if !e.Valid {
			c.fail(RuleAudit, "", "entry %d: hash does not match its content", e.Seq)
		}
		if i > 0 && e.Prev != a[i-1].Hash {
			c.fail(RuleAudit, "", "entry %d: previous hash %s, entry %d's is %s", e.Seq, short(e.Prev), a[i-1].Seq, short(a[i-1].Hash))
		}
		if s, ok := prevs[e.Prev]; ok {
			c.fail(RuleAudit, "", "fork: entries %d and %d follow the same entry", s, e.Seq)
		}
		prevs[e.Prev] = e.Seq
	}
	bySeq := map[uint64]string{}
	for _, e := range a {
		bySeq[e.Seq] = e.Hash
	}
	for _, op := range c.ops {
		if op.Kind != OpAudit || op.Result != "" || op.Seq == 0 {
			continue
		}
		switch h, ok := bySeq[op.Seq]; {
		case !ok:
			c.fail(RuleAudit, "", "at %s the chain ended at entry %d, which is gone at the end", op.T.Format(timeFmt), op.Seq)
		case h != op.Detail:
			c.fail(RuleAudit, "", "at %s entry %d was %s, at the end it is %s: the chain was rewritten", op.T.Format(timeFmt), op.Seq, short(op.Detail), short(h))
		}
	}
}

// lotStep reports whether a state is a step of the sheet's lot (batched,
// delivered, ARL): recorded once per lot and shown in each of its sheets'
// histories by the gateway, in the lot's order, so a late ARL (applied
// after the returns, two ack routers) may show after accepted. The sheet's
// own states are held to moving forward.
func lotStep(state string) bool {
	r := rank(state)
	return r >= 2 && r <= 4
}

// figures: faults, the longest unavailability, the drain.
func (c *checker) figures() {
	var lastHeal time.Time
	for _, op := range c.ops {
		switch op.Kind {
		case OpFault:
			c.rep.Faults[op.Fault]++
		case OpHeal:
			lastHeal = maxTime(lastHeal, op.T)
		}
	}
	sends := []Op{}
	for _, op := range c.ops {
		if op.Kind == OpSend && op.Variant != Doublon {
			sends = append(sends, op)
		}
	}
	sort.SliceStable(sends, func(i, j int) bool { return sends[i].End.Before(sends[j].End) })
	var downSince time.Time
	for _, op := range sends {
		ok := op.Result == Receipted
		switch {
		case ok && !downSince.IsZero():
			if d := op.End.Sub(downSince); d > c.rep.LongestUnavailable {
				c.rep.LongestUnavailable = d
			}
			downSince = time.Time{}
		case !ok && downSince.IsZero() && (op.Result == Failed || op.HTTP >= 500):
			downSince = op.T
		}
	}
	// When the client first saw each receipted sheet final.
	finalAt := map[string]time.Time{}
	seenFinal := func(key string, at time.Time) {
		if t, ok := finalAt[key]; !ok || at.Before(t) {
			finalAt[key] = at
		}
	}
	for _, op := range c.ops {
		if op.Kind == OpStatus && op.Result == "" && len(op.Dests) > 0 {
			all := true
			for _, d := range op.Dests {
				all = all && d.final()
			}
			if all {
				seenFinal(op.Key, op.End)
			}
		}
	}
	// Notices say a final state per destination; a sheet is final when
	// its last destination is.
	perDest := map[string]time.Time{}
	for _, op := range c.ops {
		if op.Kind != OpNotices {
			continue
		}
		for _, n := range op.Notices {
			if n.Number == "" {
				continue
			}
			key := op.Billing + "." + n.Number
			st := c.snap.Sheets[key]
			if st == nil {
				continue
			}
			for _, d := range st.Dests {
				if d.Insurer == n.Insurer && d.State == n.Event && d.final() {
					k := key + "/" + d.Insurer
					if _, ok := perDest[k]; !ok {
						perDest[k] = op.End
					}
				}
			}
		}
	}
	for _, key := range sortedKeys(c.receipted) {
		st := c.snap.Sheets[key]
		if st == nil {
			continue
		}
		var last time.Time
		all := len(st.Dests) > 0
		for _, d := range st.Dests {
			t, ok := perDest[key+"/"+d.Insurer]
			all = all && ok
			last = maxTime(last, t)
		}
		if all {
			seenFinal(key, last)
		}
	}
	var lastFinal time.Time
	for _, t := range finalAt {
		lastFinal = maxTime(lastFinal, t)
	}
	if !lastHeal.IsZero() && lastFinal.After(lastHeal) {
		c.rep.Drain = lastFinal.Sub(lastHeal)
	}
}

// stories: the whole story of the first sheets that failed.
func (c *checker) stories() {
	for i, key := range c.bad {
		if i == maxStories {
			c.rep.Stories = append(c.rep.Stories, fmt.Sprintf("… and %d more sheets", len(c.bad)-maxStories))
			break
		}
		c.rep.Stories = append(c.rep.Stories, Story(c.ops, c.snap, key))
	}
}

// Story tells everything the history and the snapshot hold about one
// sheet: what the clients did and read, its status record, its lots and
// their attempts, its stored notices.
func Story(ops []Op, snap *Snapshot, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "== sheet %s\n-- history\n", key)
	billing, number, _ := strings.Cut(key, ".")
	for _, op := range ops {
		switch {
		case op.Key == key:
			fmt.Fprintf(&b, "  %s\n", describe(op))
		case op.Kind == OpNotices && op.Billing == billing:
			for _, n := range op.Notices {
				if n.Number == number {
					fmt.Fprintf(&b, "  %s notices via %s: #%d %s from %s lot %s %s\n", op.End.Format(timeFmt), op.Proc, n.Seq, n.Event, n.Insurer, n.Lot, n.Code)
				}
			}
		case op.Kind == OpFault || op.Kind == OpHeal:
			fmt.Fprintf(&b, "  %s\n", describe(op))
		}
	}
	b.WriteString("-- status record\n")
	if st := snap.Sheets[key]; st != nil {
		j, _ := json.MarshalIndent(st, "  ", "  ")
		fmt.Fprintf(&b, "  %s\n", j)
	} else {
		b.WriteString("  (none)\n")
	}
	b.WriteString("-- lots\n")
	for _, l := range snap.Lots {
		for _, s := range l.Sheets {
			if s.Key == key {
				fmt.Fprintf(&b, "  %s at %s: %s, attempt %d of %d, sheet %s\n", l.ID, l.Insurer, l.State, l.Attempt, l.Attempts, short(s.Digest))
			}
		}
	}
	b.WriteString("-- stored notices\n")
	for _, n := range snap.Notices {
		if n.Billing == billing && n.Number == number {
			fmt.Fprintf(&b, "  #%d %s %s from %s lot %s %s\n", n.Seq, n.ID, n.Event, n.Insurer, n.Lot, n.Code)
		}
	}
	return b.String()
}

const timeFmt = "15:04:05.000"

func describe(op Op) string {
	at := op.T.Format(timeFmt)
	switch op.Kind {
	case OpSend:
		s := fmt.Sprintf("%s–%s send %s via %s (sheet %s): %s", at, op.End.Format(timeFmt), op.Variant, op.Proc, short(op.Sent), op.Result)
		switch op.Result {
		case Receipted:
			s += fmt.Sprintf(" %s", short(op.Digest))
			if op.Again {
				s += " again"
			}
			if op.Corrects != "" {
				s += " corrects " + short(op.Corrects)
			}
		case Refused:
			s += fmt.Sprintf(" %d %v", op.HTTP, op.Codes)
		case Failed:
			s += " " + op.Detail
		}
		return s
	case OpStatus:
		var ds []string
		for _, d := range op.Dests {
			ds = append(ds, d.Insurer+"="+d.State)
		}
		if op.Result != "" {
			ds = append(ds, op.Result+" "+op.Detail)
		}
		return fmt.Sprintf("%s–%s status via %s: %s", at, op.End.Format(timeFmt), op.Proc, strings.Join(ds, " "))
	case OpFault, OpHeal:
		return fmt.Sprintf("%s %s %s %s %s", at, op.Kind, op.Fault, op.Proc, op.Detail)
	}
	b, _ := json.Marshal(op)
	return string(b)
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func shortAll(ds []string) string {
	var out []string
	for _, d := range ds {
		out = append(out, short(d))
	}
	return strings.Join(out, ",")
}

func lotIDs(ls []Lot) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.ID+"("+l.State+")")
	}
	return strings.Join(out, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func sortedKeys[K interface{ ~string | ~uint64 }, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
