package signature

import (
	"crypto/x509"

	"github.com/fsegate/fsegate/signature/internal/certid"
)

// OIDNationalID is the IGC-Santé extension carrying the professional's
// national id (IDNPS: "8"+RPPS, "0"+ADELI) as a UTF8String.
var OIDNationalID = certid.OIDNationalID

// Identity is who signed, as the card certificate says: NationalID (IDNPS
// from the extension, else the subject CN), CardType (subject OU), Surname,
// GivenName, Profession (subject title) and its G15 ProfessionCode.
type Identity = certid.Identity

// IdentityOf reads the identity fields of a card certificate.
func IdentityOf(cert *x509.Certificate) Identity { return certid.Of(cert) }

// BillingCardTypes are the card types allowed to sign care sheets for
// billing: a CPF (student) or a CPE (establishment staff) may not.
var BillingCardTypes = []string{"CPS"}

// CheckSigner compares a verified signer with what the document claims: the
// national id of the professional it names and, when billing is true, that
// the card type may bill. It returns nil or a *VerifyError holding
// SIGNER_ID_MISSING (a certificate naming nobody is refused, whatever the
// document claims), SIGNER_MISMATCH and/or CARD_TYPE_FORBIDDEN.
func CheckSigner(id Identity, claimedNationalID string, billing bool) error {
	var ps []Problem
	if id.NationalID == "" {
		return &VerifyError{Problems: []Problem{newProblem(CodeSignerIDMissing, "Signature/KeyInfo", "the signer's certificate carries no national id")}}
	}
	if claimedNationalID != id.NationalID {
		ps = append(ps, newProblem(CodeSignerMismatch, "", "the document names another professional than the signer"))
	}
	if billing {
		ok := false
		for _, t := range BillingCardTypes {
			if id.CardType == t {
				ok = true
			}
		}
		if !ok {
			ps = append(ps, newProblem(CodeCardTypeForbidden, "", "a %s card may not sign for billing", cardTypeLabel(id.CardType)))
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &VerifyError{Problems: ps}
}

func cardTypeLabel(t string) string {
	if t == "" {
		return "card without type"
	}
	return t
}
