package mock

import (
	"errors"
	"strconv"
	"strings"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/signature"
)

// SheetChecker checks one signed care sheet as the insurer receives it.
// Check returns what the insurer learnt; a sheet the insurer refuses comes
// back with Reject set (not as an error: an error means the checker itself
// failed).
type SheetChecker interface {
	Check(signed []byte) (*Checked, error)
}

// Checked is what an insurer knows of one sheet after its checks.
type Checked struct {
	// Reject is why the sheet is refused (signature, format, rules); nil
	// when it passed.
	Reject *lot.Reason
	// TiersPayant: this insurer pays the practitioner; then Pay is due.
	TiersPayant bool
	// Pay is the amount this insurer pays, in cents: for an AMO the sum
	// of the lines' AMO shares (and the C2S share when C2S is managed by
	// the AMO), nothing deducted; for an AMC its share (fse.Compute).
	Pay int64
	// Sheet and Breakdown are the decoded sheet and its shares, for the
	// yearly caps the insurer applies over the sheets it has seen (nil
	// when the sheet is refused).
	Sheet     *fse.Sheet
	Breakdown *fse.Breakdown
	// Money are the rules' participation and franchise amounts and caps.
	Money fse.MoneyRules
	// Lines are the codes of the sheet's lines (NGAP key, CCAM code or
	// CIP13), for reject rules by line code.
	Lines []string
	// Fields are the sheet's values by path, for reject rules by field.
	Fields map[string]string
	// Cause is fsegate's code (docs/errors.md) behind a Reject, when one
	// says more than the lot's reject code: the first signature problem.
	Cause string
}

// FSEChecker is the real check: the XAdES signature and its chain
// (signature.Verifier), the care sheet's format and rules (fse.Decode,
// fse.Validate), and the amount due computed line by line.
type FSEChecker struct {
	// Verifier checks signatures; nil refuses every sheet (an insurer
	// trusts nothing it cannot verify).
	Verifier *signature.Verifier
	// Options are the rules' options (tariffs, clock).
	Options fse.Options
	// Kind is the insurer's kind: which share it pays.
	Kind insurers.Kind
}

// Check implements SheetChecker.
func (c *FSEChecker) Check(signed []byte) (*Checked, error) {
	if c.Verifier == nil {
		return &Checked{Reject: &lot.Reason{Code: lot.CodeSignature, Label: "no trust store to verify the signature"}}, nil
	}
	// One parse for the signature and the care sheet, the gateway's own:
	// what the gateway's intake refuses, the insurer refuses.
	doc, err := signature.ParseDocument(signed)
	if err != nil {
		return sigReject(err), nil
	}
	if _, err := c.Verifier.VerifyDocument(doc); err != nil {
		return sigReject(err), nil
	}
	s, err := fse.DecodeElement(doc.Root())
	if err != nil {
		return &Checked{Reject: &lot.Reason{Code: lot.CodeSheetFormat, Label: label(err)}}, nil
	}
	out := &Checked{Fields: Fields(s)}
	for i := range s.Lines {
		out.Lines = append(out.Lines, LineCode(&s.Lines[i]))
	}
	if _, err := fse.Validate(s, c.Options); err != nil {
		// The label names the broken rules and their paths, never values.
		var ve *fse.ValidationError
		text := "care sheet invalid"
		if errors.As(err, &ve) {
			parts := make([]string, 0, len(ve.Errors))
			for _, fe := range ve.Errors {
				parts = append(parts, string(fe.Code)+" at "+fe.Path)
			}
			text = strings.Join(parts, ", ")
		}
		out.Reject = &lot.Reason{Code: lot.CodeRules, Label: label(errors.New(text))}
		return out, nil
	}
	b := fse.Compute(s, c.Options.Tables())
	out.TiersPayant, out.Pay = dueBy(s, &b, c.Kind)
	out.Sheet, out.Breakdown, out.Money = s, &b, c.Options.Money
	return out, nil
}

// sigReject is the reject of a sheet whose signature or signed bytes fail.
func sigReject(err error) *Checked {
	out := &Checked{Reject: &lot.Reason{Code: lot.CodeSignature, Label: label(err)}}
	var ve *signature.VerifyError
	if errors.As(err, &ve) && len(ve.Problems) > 0 {
		out.Cause = string(ve.Problems[0].Code)
	}
	return out
}

// DueWith is what an insurer of this kind pays for a valid sheet, as the
// rules compute it line by line (fse.Compute): for an AMO, under tiers
// payant AMO, the AMO share (and the C2S share when C2S is managed by the
// AMO), the participation forfaitaire and franchises recorded, never
// deducted; for an AMC, under tiers payant AMC, the complementary share.
func DueWith(s *fse.Sheet, kind insurers.Kind, t fse.Tables) (tiersPayant bool, cents int64) {
	b := fse.Compute(s, t)
	return dueBy(s, &b, kind)
}

func dueBy(s *fse.Sheet, b *fse.Breakdown, kind insurers.Kind) (bool, int64) {
	if kind == insurers.AMC {
		return s.Totals.TiersPayantAMC, int64(b.PaidByAMC(s))
	}
	return s.Totals.TiersPayantAMO, int64(b.PaidByAMO(s))
}

// LineCode is the code reject rules match a line by.
func LineCode(l *fse.Line) string {
	switch l.Kind {
	case fse.KindNGAP:
		return l.Key
	case fse.KindCCAM:
		return l.Code
	}
	return l.CIP13
}

// Fields flattens the sheet's values reject rules can match.
func Fields(s *fse.Sheet) map[string]string {
	return map[string]string{
		"number":                  s.Number,
		"securing":                s.Securing,
		"care_date":               s.CareDate.String(),
		"practitioner/billing":    s.Practitioner.Billing,
		"practitioner/id":         s.Practitioner.ID,
		"practitioner/profession": s.Practitioner.Profession,
		"practitioner/specialty":  s.Practitioner.Specialty,
		"patient/regime":          s.Patient.Regime,
		"patient/caisse":          s.Patient.Caisse,
		"patient/centre":          s.Patient.Centre,
		"patient/amc":             s.Patient.AMC,
		"patient/coverage":        s.Patient.Coverage,
		"patient/rank":            strconv.Itoa(s.Patient.Rank),
		"totals/tiers_payant_amo": strconv.FormatBool(s.Totals.TiersPayantAMO),
		"totals/tiers_payant_amc": strconv.FormatBool(s.Totals.TiersPayantAMC),
	}
}

// label makes an error fit a reason label: one line, bounded, no patient
// data beyond what the error already says (fse and signature errors name
// codes and paths).
func label(err error) string {
	s := []rune(err.Error())
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		out = append(out, r)
	}
	for len(string(out)) > lot.MaxLabel {
		out = out[:len(out)-1]
	}
	return string(out)
}
