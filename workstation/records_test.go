package workstation

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// testEntries puts a signed doctor's sheet under each number of states
// and moves it to its state: pending, receipted, refused (external or
// not), final.
func testEntries(t *testing.T, ob *outbox.Outbox, states map[string]string) {
	t.Helper()
	signed := signedBy(t, "doctor", "doctor.xml")
	for number, state := range states {
		e, err := ob.Put("751000019", number, signed)
		if err != nil {
			t.Fatal(err)
		}
		switch state {
		case "pending":
		case "receipted":
			err = ob.Receipted(e.Key, []byte(`{}`))
		case "refused":
			err = ob.Refused(e.Key, []string{"NIR_KEY"})
		case "refused-external":
			err = ob.Refused(e.Key, []string{"PRESCRIPTION_UNKNOWN"})
		case "final":
			if err = ob.Receipted(e.Key, []byte(`{}`)); err == nil {
				err = ob.Finalize(e.Key, "paid")
			}
		default:
			t.Fatalf("state %q", state)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecords(t *testing.T) {
	ob := testOutbox(t)
	testEntries(t, ob, map[string]string{
		"000100001": "pending", "000100002": "receipted", "000100003": "refused",
		"000100004": "refused-external", "000100005": "final", "000100006": "receipted",
	})
	if _, err := ob.Put("751000027", "000100006", signedBy(t, "pharmacist", "pharmacist.xml")); err != nil {
		t.Fatal(err)
	}

	t.Run("KeyFor", func(t *testing.T) {
		for _, tc := range []struct {
			billing, number, want string
			ok                    bool
		}{
			{"", "000100002", "751000019-000100002", true},
			{"751000027", "000100006", "751000027-000100006", true},
			{"", "000100006", "", false}, // two billing numbers hold it
			{"", "000199999", "", false},
			{"751000019", "000199999", "751000019-000199999", true}, // named: not looked up
		} {
			if got, ok := KeyFor(ob, tc.billing, tc.number); got != tc.want || ok != tc.ok {
				t.Errorf("KeyFor(%q, %q): got %q %v, want %q %v", tc.billing, tc.number, got, ok, tc.want, tc.ok)
			}
		}
	})
	t.Run("Waiting", func(t *testing.T) {
		if w, f, err := Waiting(ob, "751000019"); err != nil || w != 2 || f != 1 {
			t.Errorf("got %d waiting, %d final, %v; want 2, 1", w, f, err)
		}
		if w, f, err := Waiting(ob, "751000027"); err != nil || w != 0 || f != 0 {
			t.Errorf("another billing number: got %d waiting, %d final, %v; want 0, 0", w, f, err)
		}
	})
	t.Run("Pending", func(t *testing.T) {
		got, err := Pending(ob, []string{"751000027-000100006"})
		if want := []string{"751000019-000100001"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("got %v %v, want %v", got, err, want)
		}
	})
	t.Run("Due", func(t *testing.T) {
		got, err := Due(ob)
		slices.Sort(got)
		if want := []string{"751000019-000100001", "751000019-000100004", "751000027-000100006"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("got %v %v, want %v (pending, and refused for an external cause)", got, err, want)
		}
	})
	t.Run("Forgotten", func(t *testing.T) {
		for _, tc := range []struct {
			key       string
			again     bool
			wantState outbox.State
		}{
			{"751000019-000100002", true, outbox.Pending},
			{"751000019-000100003", false, outbox.Refused},
			{"751000019-000100005", false, outbox.Final},
			{"751000019-000199999", false, ""},
		} {
			again, err := Forgotten(ob, tc.key)
			if err != nil || again != tc.again {
				t.Errorf("%s: got %v %v, want %v", tc.key, again, err, tc.again)
			}
			e, err := ob.Get(tc.key)
			if tc.wantState == "" {
				if !errors.Is(err, outbox.ErrNotFound) {
					t.Errorf("%s: got %v, want no entry", tc.key, err)
				}
				continue
			}
			if err != nil || e.State != tc.wantState {
				t.Errorf("%s: got %v %v, want %s", tc.key, e, err, tc.wantState)
			}
		}
	})
	t.Run("MayWait", func(t *testing.T) {
		s, _ := testSession(t, "doctor")
		ok, others, err := MayWait(&Sender{Outbox: ob, Session: s}, []string{"751000019-000100001", "751000027-000100006"})
		if err != nil || others != 1 || !slices.Equal(ok, []string{"751000019-000100001"}) {
			t.Errorf("got %v, %d others, %v; want the doctor's sheet, 1 other", ok, others, err)
		}
	})
}

func TestKeepSigned(t *testing.T) {
	ob := testOutbox(t)
	signed := signedBy(t, "doctor", "doctor.xml")
	sh, err := Decode("signed.xml", signed)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the same sheet twice: one entry
		if e, send, err := KeepSigned(ob, sh, signed); err != nil || e.Key != "751000019-000100001" || e.State != outbox.Pending || !send {
			t.Fatalf("got %+v %v %v, want the pending entry, to send", e, send, err)
		}
	}
	if all, err := ob.List(); err != nil || len(all) != 1 {
		t.Errorf("got %d entries %v, want 1", len(all), err)
	}
	if err := ob.Receipted("751000019-000100001", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Finalize("751000019-000100001", "paid"); err != nil {
		t.Fatal(err)
	}
	if e, send, err := KeepSigned(ob, sh, signed); err != nil || e.State != outbox.Final || send {
		t.Errorf("a final sheet given again: got %+v %v %v, want it final, not to send", e, send, err)
	}
	if IsPrescription(signed) || !IsPrescription([]byte("%PDF-1.7\n")) {
		t.Error("IsPrescription: a sheet taken for a PDF, or a PDF not")
	}
}

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.xml", "b.json", "c.txt", "RX-2.rx.pdf", "RX-1.rx.pdf", "a.scor.jpg", "b.scor.pdf"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.xml"), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := SheetFiles([]string{dir, "other.xml"})
	if want := []string{filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.json"), "other.xml"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("SheetFiles: got %v %v, want %v", got, err, want)
	}
	if got, want := PrescriptionFiles(dir), []string{filepath.Join(dir, "RX-1.rx.pdf"), filepath.Join(dir, "RX-2.rx.pdf")}; !slices.Equal(got, want) {
		t.Errorf("PrescriptionFiles: got %v, want %v", got, want)
	}
	for _, tc := range []struct{ sheet, want string }{
		{"a.xml", "a.scor.jpg"}, {"b.json", "b.scor.pdf"}, {"c.xml", ""},
	} {
		got, ok := SCORFile(filepath.Join(dir, tc.sheet))
		if want := filepath.Join(dir, tc.want); (tc.want == "") == ok || (ok && got != want) {
			t.Errorf("SCORFile(%s): got %q %v, want %q", tc.sheet, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		res  SendResult
		want bool
	}{
		{SendResult{Outcome: Receipted, Receipt: &client.Receipt{SCOR: "awaiting"}}, true},
		{SendResult{Outcome: Receipted, Receipt: &client.Receipt{SCOR: "acknowledged"}}, false},
		{SendResult{Outcome: Receipted, Receipt: &client.Receipt{}}, false},
		{SendResult{Outcome: Offline}, false},
	} {
		if got := tc.res.AwaitsSCOR(); got != tc.want {
			t.Errorf("AwaitsSCOR(%+v): got %v, want %v", tc.res, got, tc.want)
		}
	}
}

// TestPlanFiles: a folder planned against the outbox: to sign, to send,
// already sent, refused before, invalid; then the card holder and the
// send results tallied.
func TestPlanFiles(t *testing.T) {
	ob := testOutbox(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	doctor := testSheet(t, "doctor.xml").Sheet
	numbered := func(n string) []byte { s := *doctor; s.Number = n; return s.Encode() }
	files := []string{
		write("sign.xml", numbered("000100011")),
		write("send.xml", numbered("000100012")),
		write("done.xml", numbered("000100013")),
		write("refused.xml", numbered("000100014")),
		write("invalid.xml", []byte("<a/>")),
		write("pharmacist.xml", mustRead(t, "testdata/pharmacist.xml")),
	}
	flow := &Flow{Rules: testRules(t), AcceptSigned: true, Outbox: ob}
	for n, state := range map[string]string{"000100012": "send", "000100013": "receipted", "000100014": "refused"} {
		sh, err := Decode(n, numbered(n))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := flow.Plan(sh); err != nil {
			t.Fatal(err)
		}
		e, err := flow.Put(sh, numbered(n))
		if err != nil {
			t.Fatal(err)
		}
		switch state {
		case "receipted":
			err = ob.Receipted(e.Key, []byte(`{}`))
		case "refused":
			err = ob.Refused(e.Key, []string{"NIR_KEY"})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var tally Tally
	sign, send, err := flow.PlanFiles(files, &tally)
	if err != nil {
		t.Fatal(err)
	}
	names := func(shs []*Sheet) []string {
		var out []string
		for _, sh := range shs {
			out = append(out, filepath.Base(sh.Name))
		}
		return out
	}
	if got, want := names(sign), []string{"sign.xml", "pharmacist.xml"}; !slices.Equal(got, want) {
		t.Errorf("to sign: got %v, want %v", got, want)
	}
	if got, want := names(send), []string{"send.xml"}; !slices.Equal(got, want) {
		t.Errorf("to send: got %v, want %v", got, want)
	}
	if tally.AlreadySent != 1 || tally.Refused != 1 || tally.Invalid != 1 || len(tally.Rejects) != 2 {
		t.Errorf("got %+v, want 1 already sent, 1 refused, 1 invalid", tally)
	}
	s, _ := testSession(t, "doctor")
	if got := names(tally.Holder(s, sign)); !slices.Equal(got, []string{"sign.xml"}) || tally.Invalid != 2 {
		t.Errorf("the doctor's card: got %v and %d invalid, want sign.xml and the pharmacist's sheet invalid", got, tally.Invalid)
	}
	for _, res := range []SendResult{
		{Key: "a", Outcome: Receipted, Receipt: &client.Receipt{Again: true}},
		{Key: "b", Outcome: Refused, Problem: &client.Problem{Errors: []client.ProblemItem{{Code: "PRESCRIPTION_UNKNOWN"}}}},
		{Key: "c", Outcome: Offline},
	} {
		tally.Count(res)
	}
	if tally.Sent != 1 || tally.Again != 1 || tally.Refused != 2 || tally.External != 1 || tally.Offline != 1 || tally.Bad() != 4 || tally.OnlyExternal() {
		t.Errorf("got %+v after the send results", tally)
	}
	external := Tally{}
	external.Count(SendResult{Key: "b", Outcome: Refused, Problem: &client.Problem{Errors: []client.ProblemItem{{Code: "INSURER_UNKNOWN"}}}})
	if !external.OnlyExternal() || len(external.Rejects) != 1 || len(external.Rejects[0].Reasons) != 2 {
		t.Errorf("an external refusal: got %+v, want only external, its reason and hint", external)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
