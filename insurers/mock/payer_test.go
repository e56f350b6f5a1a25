package mock

import (
	"testing"
	"time"

	"github.com/fsegate/fsegate/insurers/lot"
)

// TestPaymentScenarios: the mock insurer pays in transfers as its scenario
// scripts: grouped across lots, late, partial, reversed; each sheet due is
// paid exactly once, for what it is due less what is withheld.
func TestPaymentScenarios(t *testing.T) {
	due := func(ms ...*made) map[string]int64 {
		out := map[string]int64{}
		for _, m := range ms {
			for i, s := range m.sheets {
				if s.Valid && s.TiersPayant {
					out[m.lot.Sheets[i].Key()] = s.Pay
				}
			}
		}
		return out
	}
	// paidOnce checks every sheet due is paid once, paid + withheld = due.
	paidOnce := func(t *testing.T, ts []*lot.Transfer, want map[string]int64) {
		t.Helper()
		got := map[string]int64{}
		n := map[string]int{}
		for _, tr := range ts {
			if tr.Total != tr.Sum() || tr.Billing != "751000019" || !lot.ValidReference(tr.Reference) {
				t.Errorf("transfer %s: total %d, lines %d, billing %s, reference %q", tr.ID, tr.Total, tr.Sum(), tr.Billing, tr.Reference)
			}
			for _, l := range tr.Lines {
				switch l.Kind {
				case lot.LinePaid:
					n[l.Key()]++
					got[l.Key()] += l.Amount
				case lot.LineWithheld:
					got[l.Key()] += l.Amount
				}
			}
		}
		for k, w := range want {
			if n[k] != 1 || got[k] != w {
				t.Errorf("sheet %s: paid %d times, paid + withheld %d, want once, %d", k, n[k], got[k], w)
			}
		}
		if len(n) != len(want) {
			t.Errorf("%d sheets paid, want %d", len(n), len(want))
		}
	}
	waitTransfers := func(t *testing.T, a *acks, cond func([]*lot.Transfer) bool) []*lot.Transfer {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			a.mu.Lock()
			ts := append([]*lot.Transfer(nil), a.transfers...)
			a.mu.Unlock()
			if cond(ts) {
				return ts
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for transfers: got %d", len(ts))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	lines := func(ts []*lot.Transfer, kind lot.LineKind) int {
		n := 0
		for _, tr := range ts {
			for _, l := range tr.Lines {
				if l.Kind == kind {
					n++
				}
			}
		}
		return n
	}
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, a *acks, want map[string]int64)
	}{
		{"one transfer per lot", `{}`, func(t *testing.T, a *acks, want map[string]int64) {
			ts := waitTransfers(t, a, func(ts []*lot.Transfer) bool { return lines(ts, lot.LinePaid) == len(want) })
			if len(ts) != 2 {
				t.Errorf("%d transfers, want one per lot", len(ts))
			}
			paidOnce(t, ts, want)
		}},
		{"grouped", `{payments: {group: 1s}}`, func(t *testing.T, a *acks, want map[string]int64) {
			ts := waitTransfers(t, a, func(ts []*lot.Transfer) bool { return lines(ts, lot.LinePaid) == len(want) })
			if len(ts) != 1 {
				t.Fatalf("%d transfers, want one for both lots", len(ts))
			}
			lots := map[string]bool{}
			for _, l := range ts[0].Lines {
				lots[l.Lot] = true
			}
			if len(lots) != 2 {
				t.Errorf("the transfer pays sheets of %d lots, want 2", len(lots))
			}
			paidOnce(t, ts, want)
		}},
		{"late", `{seed: 3, payments: {late: {rate: 0.5, delay: 1s}}}`, func(t *testing.T, a *acks, want map[string]int64) {
			ts := waitTransfers(t, a, func(ts []*lot.Transfer) bool { return lines(ts, lot.LinePaid) == len(want) })
			sc := &Scenario{Seed: 3}
			// Which sheets are late is the scenario's seeded choice; when the
			// transfers come depends on the machine. So: a late sheet is never
			// paid in a transfer with a sheet paid on time, and comes after
			// the first transfer (no wall-clock gap asserted).
			first := ts[0].Created
			late := 0
			for _, tr := range ts {
				kinds := map[bool]int{}
				for _, l := range tr.Lines {
					isLate := sc.hit(0.5, "late", l.Key())
					kinds[isLate]++
					if isLate {
						late++
						if !tr.Created.After(first) {
							t.Errorf("late sheet %s paid in the first transfer", l.Key())
						}
					}
				}
				if kinds[true] > 0 && kinds[false] > 0 {
					t.Errorf("transfer %s pays %d late and %d on-time sheets together", tr.Reference, kinds[true], kinds[false])
				}
			}
			if late == 0 || late == len(want) {
				t.Fatalf("%d of %d sheets late: pick a seed that makes some late", late, len(want))
			}
			paidOnce(t, ts, want)
		}},
		{"partial", `{payments: {partial: {rate: 1, withhold: 0.25, code: W_DEPASSEMENT, label: dépassement non remboursable}}}`, func(t *testing.T, a *acks, want map[string]int64) {
			ts := waitTransfers(t, a, func(ts []*lot.Transfer) bool { return lines(ts, lot.LinePaid) == len(want) })
			if lines(ts, lot.LineWithheld) != len(want) {
				t.Errorf("%d withheld lines, want one per sheet", lines(ts, lot.LineWithheld))
			}
			for _, tr := range ts {
				for _, l := range tr.Lines {
					if l.Kind == lot.LineWithheld && (l.Reason.Code != "W_DEPASSEMENT" || l.Amount != (want[l.Key()]*25+50)/100) {
						t.Errorf("withheld %s: %d %v, want a quarter of %d, W_DEPASSEMENT", l.Key(), l.Amount, l.Reason, want[l.Key()])
					}
				}
			}
			paidOnce(t, ts, want)
		}},
		{"reversed", `{payments: {reversed: {rate: 1, delay: 200ms}}}`, func(t *testing.T, a *acks, want map[string]int64) {
			ts := waitTransfers(t, a, func(ts []*lot.Transfer) bool { return lines(ts, lot.LineReversed) == len(want) })
			paid := map[string]int64{}
			for _, tr := range ts {
				for _, l := range tr.Lines {
					switch l.Kind {
					case lot.LinePaid:
						paid[l.Key()] = l.Amount
					case lot.LineReversed:
						if paid[l.Key()] != -l.Amount || l.Reason.Code != lot.CodeReversal {
							t.Errorf("reversal of %s: %d, want minus %d, after its payment", l.Key(), l.Amount, paid[l.Key()])
						}
					}
				}
			}
			paidOnce(t, ts, want)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := LoadScenario([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			e.live("cpam751", 30*time.Second)
			a := e.listen("cpam751")
			e.start("cpam751", sc, lot.Live)
			m1 := e.send("cpam751", 1, "", "", "")
			m2 := e.send("cpam751", 2, "", "")
			want := due(m1, m2)
			if len(want) < 3 {
				t.Fatalf("only %d sheets with a payment due", len(want))
			}
			tt.check(t, a, want)
		})
	}
}
