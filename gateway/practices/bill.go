package practices

import (
	"fmt"
	"slices"
	"time"
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

// Problem is one reason a claim is refused, with a code of docs/errors.md.
type Problem struct {
	Code, Path, Message, Hint string
}

// The codes Check returns.
const (
	CodeSignerNotAllowed     = "SIGNER_NOT_ALLOWED"
	CodeSenderMismatch       = "SENDER_MISMATCH"
	CodeProfessionMismatch   = "PROFESSION_MISMATCH"
	CodeSpecialtyMismatch    = "SPECIALTY_MISMATCH"
	CodeRemplacantNotAllowed = "REMPLACANT_NOT_ALLOWED"
)

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
		return []Problem{{CodeSignerNotAllowed, "practitioner/billing", fmt.Sprintf("billing number %s is not in the practices directory", c.Billing), "check the billing number, or ask the gateway's operator to add the practice"}}
	}
	var out []Problem
	if c.Profession != p.Profession {
		out = append(out, Problem{CodeProfessionMismatch, "practitioner/profession", fmt.Sprintf("billing number %s is a profession %s practice, the sheet says %s", c.Billing, p.Profession, c.Profession), "bill under the billing number of your own profession"})
	}
	if c.SignerProfession != "" && c.SignerProfession != c.Profession {
		out = append(out, Problem{CodeProfessionMismatch, "practitioner/profession", fmt.Sprintf("the signer's certificate says profession %s, the sheet says %s", c.SignerProfession, c.Profession), "a professional bills the acts of their own profession"})
	}
	if p.Specialty != "" && c.Specialty != p.Specialty {
		out = append(out, Problem{CodeSpecialtyMismatch, "practitioner/specialty", fmt.Sprintf("billing number %s has specialty %s, the sheet says %s", c.Billing, p.Specialty, c.Specialty), "use the specialty of the billing situation"})
	}
	if !slices.Contains(p.Signers, c.Practitioner) {
		out = append(out, Problem{CodeSignerNotAllowed, "practitioner/national_id", fmt.Sprintf("%s may not bill under billing number %s", c.Practitioner, c.Billing), "sign with a card listed for this billing number"})
	}
	if c.Remplacant != "" && p.remplacant(c.Remplacant, c.CareDate) == nil {
		msg := fmt.Sprintf("%s is not a remplaçant of billing number %s", c.Remplacant, c.Billing)
		if slices.ContainsFunc(p.Remplacants, func(r Remplacant) bool { return r.NationalID == c.Remplacant }) {
			msg = fmt.Sprintf("%s replaces on billing number %s, but not on %s", c.Remplacant, c.Billing, c.CareDate.Format(time.DateOnly))
		}
		out = append(out, Problem{CodeRemplacantNotAllowed, "practitioner/remplacant", msg, "ask the practice to declare the replacement and its dates to the gateway's operator"})
	}
	if c.Sender != c.Remplacant && !slices.Contains(p.Signers, c.Sender) {
		out = append(out, Problem{CodeSenderMismatch, "practitioner/billing", fmt.Sprintf("%s may not send for billing number %s", c.Sender, c.Billing), "send with the card of a professional of this practice"})
	}
	return out
}
