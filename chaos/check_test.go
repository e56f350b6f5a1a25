package chaos

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// good is the history and snapshot of one sheet sent, receipted, batched
// into one lot, paid, its notices read and confirmed, the audit chain
// sampled: every rule holds.
func good() ([]Op, *Snapshot) {
	const key = "751000017.000000001"
	ops := []Op{
		{T: at(0), End: at(0.1), Kind: OpSend, Proc: "g1", Key: key, Variant: Original, Sent: "d1", Result: Failed, Detail: "timeout"},
		{T: at(1), End: at(1.1), Kind: OpSend, Proc: "g2", Key: key, Variant: Original, Sent: "d1", Result: Receipted, Digest: "d1"},
		{T: at(2), End: at(2.1), Kind: OpSend, Proc: "g1", Key: key, Variant: Doublon, Sent: "d2", Result: Refused, HTTP: 409, Codes: []string{"DUPLICATE_SHEET"}},
		{T: at(2.5), End: at(2.6), Kind: OpSend, Proc: "g1", Key: key, Variant: Resend, Sent: "d1", Result: Receipted, Digest: "d1", Again: true},
		{T: at(3), End: at(3.1), Kind: OpStatus, Proc: "g1", Key: key, Dests: []Dest{{Insurer: "cpam751", State: "queued", ExpectPayment: true}}},
		{T: at(3.5), Kind: OpFault, Fault: "kill-node", Proc: "n1"},
		{T: at(4), Kind: OpHeal, Fault: "kill-node", Proc: "n1"},
		{T: at(5), End: at(5.1), Kind: OpStatus, Proc: "g2", Key: key, Dests: []Dest{{Insurer: "cpam751", State: "paid", ExpectPayment: true, Lot: "L1"}}},
		{T: at(5), End: at(6), Kind: OpNotices, Proc: "g3", Billing: "751000017", Notices: []Notice{
			{Seq: 10, ID: "n10", Number: "000000001", Insurer: "cpam751", Event: "accepted"},
			{Seq: 11, ID: "n11", Number: "000000001", Insurer: "cpam751", Event: "paid", Amount: 2500},
		}},
		{T: at(6), End: at(6.1), Kind: OpConfirm, Proc: "g3", Billing: "751000017", Seq: 11},
		{T: at(6), End: at(6.1), Kind: OpAudit, Seq: 1, Detail: "h1"},
	}
	snap := &Snapshot{
		Sheets: map[string]*Sheet{key: {
			Key: key, Digest: "d1", State: "paid",
			Dests: []Dest{{Insurer: "cpam751", State: "paid", ExpectPayment: true, Lot: "L1", Amount: 2500}},
			History: []Event{{State: "received"}, {State: "queued"}, {State: "accepted", Insurer: "cpam751", Lot: "L1"},
				{State: "paid", Insurer: "cpam751", Lot: "L1", Amount: 2500}},
		}},
		Lots: []Lot{{ID: "L1", Insurer: "cpam751", State: "done", Attempt: 1, Attempts: 1, Sheets: []LotSheet{{Key: key, Digest: "d1"}}}},
		Notices: []Notice{
			{Seq: 10, ID: "n10", Billing: "751000017", Number: "000000001", Insurer: "cpam751", Event: "accepted"},
			{Seq: 11, ID: "n11", Billing: "751000017", Number: "000000001", Insurer: "cpam751", Event: "paid", Amount: 2500},
		},
		Cursors:     map[string]uint64{"751000017": 11},
		Audit:       []AuditEntry{{Seq: 1, Hash: "h1", Kind: "lot", Valid: true}, {Seq: 2, Prev: "h1", Hash: "h2", Kind: "ack", Valid: true}},
		AuditVerify: AuditVerify{OK: true, Output: "audit chain holds: 2 entries"},
	}
	return ops, snap
}

func TestCheckHolds(t *testing.T) {
	ops, snap := good()
	rep := Check(ops, snap)
	if !rep.OK() {
		t.Fatalf("violations on a good history: %v", rep.Violations)
	}
	if rep.Sent != 1 || rep.Receipted != 1 || rep.Lost != 0 || rep.Duplicated != 0 || rep.Refused != 1 || rep.Errors != 1 {
		t.Errorf("got %s; want 1 sent, 1 receipted, 1 refused, 1 unanswered", rep.Summary())
	}
	if rep.Faults["kill-node"] != 1 {
		t.Errorf("faults %v, want kill-node 1", rep.Faults)
	}
	if rep.LongestUnavailable != time.Second+100*time.Millisecond {
		t.Errorf("longest unavailability %v, want 1.1s (from the failed send to the receipt)", rep.LongestUnavailable)
	}
	if rep.Drain != 1100*time.Millisecond {
		t.Errorf("drain %v, want 1.1s (last heal at 4s, the sheet read paid at 5.1s)", rep.Drain)
	}
}

// TestCheckFails breaks one rule at a time: each must be found, and the
// story of the sheet told.
func TestCheckFails(t *testing.T) {
	const key = "751000017.000000001"
	tests := []struct {
		name   string
		break_ func(ops []Op, s *Snapshot) []Op
		rule   string
	}{
		{"status lost", func(ops []Op, s *Snapshot) []Op { delete(s.Sheets, key); return ops }, RuleLost},
		{"not final", func(ops []Op, s *Snapshot) []Op { s.Sheets[key].Dests[0].State = "accepted"; return ops }, RuleLost},
		{"in no lot", func(ops []Op, s *Snapshot) []Op { s.Lots = nil; return ops }, RuleLost},
		{"lot not done", func(ops []Op, s *Snapshot) []Op { s.Lots[0].State = "published"; return ops }, RuleLost},
		{"in two lots", func(ops []Op, s *Snapshot) []Op {
			s.Lots = append(s.Lots, Lot{ID: "L2", Insurer: "cpam751", State: "done", Sheets: []LotSheet{{Key: key, Digest: "d1"}}})
			return ops
		}, RuleDuplicated},
		{"final twice", func(ops []Op, s *Snapshot) []Op {
			st := s.Sheets[key]
			st.History = append(st.History, Event{State: "rejected", Insurer: "cpam751"})
			return ops
		}, RuleDuplicated},
		{"paid twice", func(ops []Op, s *Snapshot) []Op {
			st := s.Sheets[key]
			st.History = append(st.History, Event{State: "paid", Insurer: "cpam751", Amount: 2500})
			return ops
		}, RulePaidTwice},
		{"doublon receipted", func(ops []Op, s *Snapshot) []Op {
			ops[2].Result, ops[2].Digest, ops[2].HTTP, ops[2].Codes = Receipted, "d2", 0, nil
			return ops
		}, RuleDoublon},
		{"doublon in the status", func(ops []Op, s *Snapshot) []Op { s.Sheets[key].Digest = "d2"; return ops }, RuleDoublon},
		{"refused yet queued", func(ops []Op, s *Snapshot) []Op {
			s.Lots = append(s.Lots, Lot{ID: "L9", Insurer: "cpam131", State: "done", Sheets: []LotSheet{{Key: key, Digest: "d2"}}})
			return ops
		}, RuleRefusedQueued},
		{"another receipt for the same sheet", func(ops []Op, s *Snapshot) []Op { ops[3].Digest = "d3"; return ops }, RuleSameReceipt},
		{"state read backwards", func(ops []Op, s *Snapshot) []Op {
			return append(ops, Op{T: at(7), End: at(7.1), Kind: OpStatus, Proc: "g3", Key: key, Dests: []Dest{{Insurer: "cpam751", State: "batched"}}})
		}, RuleBackwards},
		{"history backwards", func(ops []Op, s *Snapshot) []Op {
			st := s.Sheets[key]
			st.History = append(st.History, Event{State: "queued", Insurer: "cpam751"})
			return ops
		}, RuleBackwards},
		{"notice never delivered", func(ops []Op, s *Snapshot) []Op {
			s.Notices = append(s.Notices, Notice{Seq: 12, ID: "n12", Billing: "751000017", Number: "000000001", Insurer: "cpam751", Event: "signalement"})
			s.Cursors["751000017"] = 12
			return ops
		}, RuleNotice},
		{"notice not confirmed", func(ops []Op, s *Snapshot) []Op { s.Cursors["751000017"] = 10; ops[9].Seq = 10; return ops }, RuleNotice},
		{"final state without its notice", func(ops []Op, s *Snapshot) []Op {
			s.Notices = s.Notices[:1]
			ops[8].Notices = ops[8].Notices[:1]
			return ops
		}, RuleNotice},
		{"notice delivered, not stored", func(ops []Op, s *Snapshot) []Op { ops[8].Notices[1].ID = "forged"; return ops }, RuleNotice},
		{"audit verify fails", func(ops []Op, s *Snapshot) []Op {
			s.AuditVerify = AuditVerify{Output: "audit chain broken at FSE_AUDIT sequence 2"}
			return ops
		}, RuleAudit},
		{"audit fork", func(ops []Op, s *Snapshot) []Op {
			s.Audit = append(s.Audit, AuditEntry{Seq: 3, Prev: "h1", Hash: "h3", Valid: true})
			return ops
		}, RuleAudit},
		{"audit rewritten", func(ops []Op, s *Snapshot) []Op { ops[10].Detail = "h0"; return ops }, RuleAudit},
		{"nothing receipted", func(ops []Op, s *Snapshot) []Op {
			return []Op{{T: at(0), End: at(1), Kind: OpSend, Key: key, Variant: Original, Result: Failed}}
		}, RuleLost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, snap := good()
			ops = tt.break_(ops, snap)
			rep := Check(ops, snap)
			found := false
			for _, v := range rep.Violations {
				found = found || v.Rule == tt.rule
			}
			if !found {
				t.Fatalf("violations %v; want one of rule %s", rep.Violations, tt.rule)
			}
			if v := rep.Violations[0]; v.Key != "" && (len(rep.Stories) == 0 || !strings.Contains(rep.Stories[0], "== sheet "+v.Key)) {
				t.Errorf("no story for %s: %q", v.Key, rep.Stories)
			}
		})
	}
}

// TestStoryTellsAll: the story names the sends, the reads, the faults, the
// status record, the lots with their attempts and the stored notices.
func TestStoryTellsAll(t *testing.T) {
	ops, snap := good()
	s := Story(ops, snap, "751000017.000000001")
	for _, want := range []string{"send original via g2", "receipt d1", "refused 409 [DUPLICATE_SHEET]", "status via g2: cpam751=paid",
		"fault kill-node n1", "#11 paid from cpam751", `"digest": "d1"`, "L1 at cpam751: done, attempt 1 of 1", "#10 n10 accepted"} {
		if !strings.Contains(s, want) {
			t.Errorf("story lacks %q:\n%s", want, s)
		}
	}
}
