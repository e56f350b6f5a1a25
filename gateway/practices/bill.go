package practices

import (
	"fmt"
	"slices"
	"time"

	"github.com/fsegate/fsegate/problem"
)

// Claim is what a signed sheet says about who bills, next to what the
// signer's certificate and the connection say. Only the certificate and
// the directory are believed; the sheet's part is what is checked.
type Claim struct {
	Billing      string    // the sheet's billing number
	Profession   string    // the sheet's profession (G15)
	Specialty    string    // the sheet's specialty
	Practitioner string    // the sheet's practitioner, a national id
	Remplacant   string    // the sheet's remplaçant, "" when none
	CareDate     time.Time // the sheet's day of care
	// SignerProfession is the G15 code the signer's certificate carries,
	// "" when it carries none (the check is then the directory's alone).
	SignerProfession string
	// Sender is who authenticated the connection (card or e-CPS).
	Sender string
}

// Problem is problem.Problem: one reason a claim is refused, with a code
// of docs/errors.md.
type Problem = problem.Problem

// The codes Check returns, declared once; Codes lists them.
const (
	CodeSignerNotAllowed     problem.Code = "SIGNER_NOT_ALLOWED"
	CodeSenderMismatch       problem.Code = "SENDER_MISMATCH"
	CodeProfessionMismatch   problem.Code = "PROFESSION_MISMATCH"
	CodeSpecialtyMismatch    problem.Code = "SPECIALTY_MISMATCH"
	CodeRemplacantNotAllowed problem.Code = "REMPLACANT_NOT_ALLOWED"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeSignerNotAllowed, Title: "the signer may not sign for this billing number"},
		{Code: CodeSenderMismatch, Title: "the authenticated sender is not the signer of the sheet"},
		{Code: CodeProfessionMismatch, Title: "the sheet's profession is not its billing number's, or not the signer certificate's"},
		{Code: CodeSpecialtyMismatch, Title: "the sheet's specialty is not its billing number's"},
		{Code: CodeRemplacantNotAllowed, Title: "the remplaçant the sheet names may not replace on this billing number that day"},
	}
}

// Check decides whether a sheet may be billed under its billing number
// (docs/who-may-bill.md gives each rule and what it rests on):
//   - the billing number is in the directory, and the sheet's profession
//     and specialty are the directory's for it;
//   - the signer certificate's profession, where it carries one, is the
//     sheet's (a nurse's card cannot sign a doctor's sheet);
//   - the sheet's practitioner is a titulaire of the billing number; a
//     remplaçant the sheet names is listed on it for the day of care;
//   - the sender is a titulaire, or the sheet's remplaçant.
//
// That the signer is the sheet's practitioner (or its remplaçant) is
// signature.CheckSigner's part.
func (d *Directory) Check(c Claim) []Problem {
	p, ok := d.byBilling[c.Billing]
	if !ok {
		return []Problem{{Code: CodeSignerNotAllowed, Path: "practitioner/billing", Message: fmt.Sprintf("billing number %s is not in the practices directory", c.Billing), Hint: "check the billing number, or ask the gateway's operator to add the practice"}}
	}
	var out []Problem
	if c.Profession != p.Profession {
		out = append(out, Problem{Code: CodeProfessionMismatch, Path: "practitioner/profession", Message: fmt.Sprintf("billing number %s is a profession %s practice, the sheet says %s", c.Billing, p.Profession, c.Profession), Hint: "bill under the billing number of your own profession"})
	}
	if c.SignerProfession != "" && c.SignerProfession != c.Profession {
		out = append(out, Problem{Code: CodeProfessionMismatch, Path: "practitioner/profession", Message: fmt.Sprintf("the signer's certificate says profession %s, the sheet says %s", c.SignerProfession, c.Profession), Hint: "a professional bills the acts of their own profession"})
	}
	if p.Specialty != "" && c.Specialty != p.Specialty {
		out = append(out, Problem{Code: CodeSpecialtyMismatch, Path: "practitioner/specialty", Message: fmt.Sprintf("billing number %s has specialty %s, the sheet says %s", c.Billing, p.Specialty, c.Specialty), Hint: "use the specialty of the billing situation"})
	}
	if !slices.Contains(p.Signers, c.Practitioner) {
		out = append(out, Problem{Code: CodeSignerNotAllowed, Path: "practitioner/national_id", Message: fmt.Sprintf("%s may not bill under billing number %s", c.Practitioner, c.Billing), Hint: "sign with a card listed for this billing number"})
	}
	if c.Remplacant != "" && p.remplacant(c.Remplacant, c.CareDate) == nil {
		msg := fmt.Sprintf("%s is not a remplaçant of billing number %s", c.Remplacant, c.Billing)
		if slices.ContainsFunc(p.Remplacants, func(r Remplacant) bool { return r.NationalID == c.Remplacant }) {
			msg = fmt.Sprintf("%s replaces on billing number %s, but not on %s", c.Remplacant, c.Billing, c.CareDate.Format(time.DateOnly))
		}
		out = append(out, Problem{Code: CodeRemplacantNotAllowed, Path: "practitioner/remplacant", Message: msg, Hint: "ask the practice to declare the replacement and its dates to the gateway's operator"})
	}
	if c.Sender != c.Remplacant && !slices.Contains(p.Signers, c.Sender) {
		out = append(out, Problem{Code: CodeSenderMismatch, Path: "practitioner/billing", Message: fmt.Sprintf("%s may not send for billing number %s", c.Sender, c.Billing), Hint: "send with the card of a professional of this practice"})
	}
	return out
}
