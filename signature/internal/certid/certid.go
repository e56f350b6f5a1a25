// Package certid reads who a card certificate names (IGC-Santé subject and
// national-id extension). It is the one implementation behind
// signature.IdentityOf, internal so that signature/card can use it without
// importing signature (whose tests use the virtual card).
package certid

import (
	"crypto/x509"
	"encoding/asn1"
	"strings"
)

// OIDNationalID is the IGC-Santé extension carrying the professional's
// national id (IDNPS: "8"+RPPS, "0"+ADELI) as a UTF8String.
var OIDNationalID = asn1.ObjectIdentifier{1, 2, 250, 1, 71, 4, 2, 1}

var (
	oidTitle     = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidSurname   = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName = asn1.ObjectIdentifier{2, 5, 4, 42}
)

// Identity is who signed, as the card certificate says.
type Identity struct {
	NationalID string // IDNPS from OID 1.2.250.1.71.4.2.1, else the subject CN
	CardType   string // subject OU: CPS, CPF, CPE, CPA
	Surname    string
	GivenName  string
	Profession string // subject title, e.g. "Médecin"
	// ProfessionCode is the G15 code of Profession ("10" for "Médecin"),
	// empty when the title names no profession this table knows (a CPE's
	// "Carte de service santé ou social").
	ProfessionCode string
	Certificate    *x509.Certificate
}

// professionCodes maps IGC-Santé subject titles to G15 profession codes
// (nomenclature 1.2.250.1.71.1.2.7: 10 Médecin, 21 Pharmacien, 40
// Chirurgien-dentiste, 50 Sage-femme, 60 Infirmier, 70
// Masseur-kinésithérapeute). The titles are those seen in CPS certificates
// ("title=Médecin", "title=Pharmacien", "OU=Masseur-Kinésithérapeute"):
// docs/who-may-bill.md says what this rests on. Compared case-insensitively.
var professionCodes = map[string]string{
	"médecin":                  "10",
	"pharmacien":               "21",
	"chirurgien-dentiste":      "40",
	"sage-femme":               "50",
	"infirmier":                "60",
	"infirmière":               "60",
	"masseur-kinésithérapeute": "70",
}

// Name is "GivenName Surname".
func (id Identity) Name() string {
	return strings.TrimSpace(id.GivenName + " " + id.Surname)
}

// Of reads the identity fields of a card certificate.
func Of(cert *x509.Certificate) Identity {
	id := Identity{Certificate: cert, NationalID: cert.Subject.CommonName}
	if len(cert.Subject.OrganizationalUnit) > 0 {
		id.CardType = cert.Subject.OrganizationalUnit[0]
	}
	for _, n := range cert.Subject.Names {
		s, _ := n.Value.(string)
		switch {
		case n.Type.Equal(oidTitle):
			id.Profession = s
		case n.Type.Equal(oidSurname):
			id.Surname = s
		case n.Type.Equal(oidGivenName):
			id.GivenName = s
		}
	}
	id.ProfessionCode = professionCodes[strings.ToLower(id.Profession)]
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDNationalID) {
			var s string
			if _, err := asn1.UnmarshalWithParams(e.Value, &s, "utf8"); err == nil && s != "" {
				id.NationalID = s
			}
		}
	}
	return id
}
