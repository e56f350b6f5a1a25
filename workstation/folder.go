package workstation

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The conventions of a folder of care sheets ('workstation check', 'send'
// and 'batch'; docs/workstation.md): every .xml and .json file is a care
// sheet; NAME.rx.pdf is a signed prescription, sent before the sheets (a
// carried prescription must be at the gateway before the sheets that
// claim against it); SHEET.scor.pdf, SHEET.scor.jpg or SHEET.scor.jpeg
// beside SHEET.xml (or .json) is the SCOR piece of that sheet (its
// scanned paper prescription), sent once the sheet is receipted.

// SheetFiles replaces each directory of args by the .xml and .json files
// in it; the other arguments are kept as they are.
func SheetFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && (filepath.Ext(n) == ".xml" || filepath.Ext(n) == ".json") {
				out = append(out, filepath.Join(a, n))
			}
		}
	}
	return out, nil
}

// PrescriptionFiles lists the signed prescriptions of dir (*.rx.pdf),
// sorted.
func PrescriptionFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*.rx.pdf"))
	sort.Strings(m)
	return m
}

// SCORFile is the SCOR piece beside a sheet's file, if there is one.
func SCORFile(sheetFile string) (string, bool) {
	base := strings.TrimSuffix(sheetFile, filepath.Ext(sheetFile))
	for _, ext := range []string{".scor.pdf", ".scor.jpg", ".scor.jpeg"} {
		if st, err := os.Stat(base + ext); err == nil && st.Mode().IsRegular() {
			return base + ext, true
		}
	}
	return "", false
}

// AwaitsSCOR reports whether r is a receipt of a sheet on a paper
// prescription whose SCOR piece the gateway still waits for.
func (r SendResult) AwaitsSCOR() bool {
	return r.Outcome == Receipted && r.Receipt != nil && r.Receipt.SCOR != "" && r.Receipt.SCOR != "acknowledged"
}

// Reject is a sheet a batch did not sign or send, with every reason, one
// a line (to correct, and run again).
type Reject struct {
	File    string // the sheet's file, when it came from one
	Key     string // the outbox key, when it came from the outbox
	Reasons []string
}

// Tally counts what a batch did with the sheets of a folder: PlanFiles
// counts what is not to be signed or sent, Holder those the card may not
// sign, Count each send result.
type Tally struct {
	Files, Signed, Sent, Again, AlreadySent, Refused, Invalid, Offline int
	// External counts the sheets refused for a cause outside the sheet
	// (External): the next run sends them again as they are.
	External int
	Rejects  []Reject
}

// Reasons are the problems of err (ProblemsOf), one a line: CODE at path:
// message.
func Reasons(err error) []string {
	var out []string
	for _, p := range ProblemsOf(err) {
		out = append(out, p.Error())
	}
	return out
}

// reject counts file invalid with the problems of err.
func (t *Tally) reject(file string, err error) {
	t.Invalid++
	t.Rejects = append(t.Rejects, Reject{File: file, Reasons: Reasons(err)})
}

// PlanFiles reads each file and plans what a batch does with it (Plan,
// then Check for a sheet to sign): the sheets to sign, and those the
// outbox holds signed and not sent yet; the others are counted in t: read
// or checked invalid, already sent, refused before and not corrected
// since. The error is the outbox's.
func (f *Flow) PlanFiles(files []string, t *Tally) (sign, send []*Sheet, err error) {
	for _, file := range files {
		sh, err := ReadFile(file)
		if err != nil {
			t.reject(file, err)
			continue
		}
		step, e, err := f.Plan(sh)
		var se *SheetError
		switch {
		case errors.As(err, &se):
			t.reject(file, err)
			continue
		case err != nil:
			return nil, nil, err
		}
		switch step {
		case StepDone:
			t.AlreadySent++
		case StepRefused:
			t.Refused++
			it := Reject{File: file}
			for _, code := range e.Codes {
				it.Reasons = append(it.Reasons, code+" (refused before; correct the sheet and run again)")
			}
			if len(it.Reasons) == 0 {
				it.Reasons = []string{e.FinalState + " (correct the sheet and run again)"}
			}
			t.Rejects = append(t.Rejects, it)
		case StepSign:
			if err := f.Check(sh); err != nil {
				t.reject(file, err)
				continue
			}
			sign = append(sign, sh)
		case StepSend:
			send = append(send, sh)
		}
	}
	return sign, send, nil
}

// Holder keeps the sheets whose practitioner holds the card of sess
// (Session.Check); the others are counted invalid, with the reason.
func (t *Tally) Holder(sess *Session, sheets []*Sheet) []*Sheet {
	var ok []*Sheet
	for _, sh := range sheets {
		if err := sess.Check(sh); err != nil {
			t.reject(sh.Name, err)
			continue
		}
		ok = append(ok, sh)
	}
	return ok
}

// Count counts one send result: receipted (again when the gateway had it
// before), refused with every reason (and what to do about an external
// cause), held (invalid for this card), offline.
func (t *Tally) Count(res SendResult) {
	switch res.Outcome {
	case Receipted:
		t.Sent++
		if res.Receipt.Again {
			t.Again++
		}
	case Refused:
		t.Refused++
		it := Reject{Key: res.Key}
		if External(res.Problem.Codes()) {
			t.External++
		}
		for _, e := range res.Problem.Errors {
			at := ""
			if e.Path != "" {
				at = " at " + e.Path
			}
			it.Reasons = append(it.Reasons, string(e.Code)+at+": "+e.Message)
			if h := ExternalHint(e.Code); h != "" {
				it.Reasons = append(it.Reasons, "  "+h)
			}
		}
		if len(it.Reasons) == 0 {
			it.Reasons = []string{res.Problem.Title}
		}
		t.Rejects = append(t.Rejects, it)
	case Held:
		t.Invalid++
		t.Rejects = append(t.Rejects, Reject{Key: res.Key, Reasons: Reasons(res.Held)})
	case Offline:
		t.Offline++
	}
}

// Bad counts the sheets refused or invalid.
func (t *Tally) Bad() int { return t.Refused + t.Invalid }

// OnlyExternal reports whether every sheet refused or invalid was refused
// for a cause outside the sheets: run again once the cause is gone, they
// are sent again as they are.
func (t *Tally) OnlyExternal() bool { return t.Bad() > 0 && t.Bad() == t.External }
