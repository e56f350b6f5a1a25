package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv/testpki"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/insurers/mock"
	"github.com/fsegate/fsegate/signature"
)

// Who may bill (docs/who-may-bill.md), through the HTTPS API with the
// cards' software keys, as a modified workstation or a raw TLS client
// would: the sheet's claims about its practitioner are believed only where
// the certificate and the practices directory agree.

// cardSheets signs sheets for pr with card's signature key.
func cardSheets(t testing.TB, card string, pr fse.Practitioner) *mock.Sheets {
	t.Helper()
	s, err := dev.Sheets(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, chain := cardKey(t, "pki/cards/"+card+"-sig.key"), []*x509.Certificate{readCert(t, "pki/cards/"+card+"-sig.crt"), readCert(t, "pki/persons-ca.crt")}
	s.Signer, s.Chain, s.Practitioner = signature.MessageSigner{Signer: key}, chain, pr
	return s
}

func cardKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	return testpki.Key(t, name)
}

func readCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := fixtures.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := signature.ParseCertificates(b)
	if err != nil || len(cs) == 0 {
		t.Fatalf("%s: %v", name, err)
	}
	return cs[0]
}

func makeSigned(t testing.TB, sm *mock.Sheets, number int) []byte {
	t.Helper()
	d, err := dev.Insurers()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := d.Insurer("cpam751")
	made, err := sm.Make(t.Context(), in, number, "", uint64(number))
	if err != nil {
		t.Fatal(err)
	}
	return made.Signed
}

func wantRefused(t testing.TB, err error, status int, codes ...string) {
	t.Helper()
	p := problemOf(t, err)
	for _, c := range codes {
		if !p.Has(c) {
			t.Fatalf("got %v %+v, want %s", p, p.Errors, c)
		}
	}
	if p.Status != status {
		t.Fatalf("got status %d, want %d", p.Status, status)
	}
}

var (
	doctorPr  = fse.Practitioner{IDType: fse.IDTypeRPPS, ID: "99700218896", NationalID: "899700218896", Billing: "751000019", Profession: fse.ProfessionDoctor, Specialty: "01"}
	remplPr   = &fse.Remplacant{IDType: fse.IDTypeRPPS, ID: "10107592585", NationalID: "810107592585"}
	nurseAsGP = fse.Practitioner{IDType: fse.IDTypeADELI, ID: "012800736", NationalID: "0012800736", Billing: "751000035", Profession: fse.ProfessionDoctor, Specialty: "01"}
	pharmAsGP = fse.Practitioner{IDType: fse.IDTypeRPPS, ID: "99700075122", NationalID: "899700075122", Billing: "751000027", Profession: fse.ProfessionDoctor, Specialty: "01"}
)

func TestWhoMayBill(t *testing.T) {
	m := startGateway(t)
	t.Run("nurse bills a G as a doctor", func(t *testing.T) {
		_, err := newClient(t, m, "nurse").SendSheet(t.Context(), makeSigned(t, cardSheets(t, "nurse", nurseAsGP), 5001))
		wantRefused(t, err, http.StatusForbidden, "PROFESSION_MISMATCH")
	})
	t.Run("pharmacist bills a G as a doctor", func(t *testing.T) {
		_, err := newClient(t, m, "pharmacist").SendSheet(t.Context(), makeSigned(t, cardSheets(t, "pharmacist", pharmAsGP), 5002))
		wantRefused(t, err, http.StatusForbidden, "PROFESSION_MISMATCH")
	})
	t.Run("doctor with another specialty", func(t *testing.T) {
		pr := doctorPr
		pr.Specialty = "03"
		_, err := newClient(t, m, "doctor").SendSheet(t.Context(), makeSigned(t, cardSheets(t, "doctor", pr), 5003))
		wantRefused(t, err, http.StatusForbidden, "SPECIALTY_MISMATCH")
	})
	t.Run("remplaçant inside the dates", func(t *testing.T) {
		pr := doctorPr
		pr.Remplacant = remplPr
		r, err := newClient(t, m, "remplacant").SendSheet(t.Context(), makeSigned(t, cardSheets(t, "remplacant", pr), 5004))
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		// The receipt and the sheet belong to the billing number: the
		// titulaire reads it.
		if _, err := newClient(t, m, "doctor").Sheet(t.Context(), "751000019", r.Number); err != nil {
			t.Fatalf("the titulaire cannot read the remplaçant's sheet: %v", err)
		}
	})
	t.Run("remplaçant signs as the practitioner", func(t *testing.T) {
		pr := doctorPr
		_, err := newClient(t, m, "remplacant").SendSheet(t.Context(), makeSigned(t, cardSheets(t, "remplacant", pr), 5005))
		wantRefused(t, err, http.StatusForbidden, "SIGNER_MISMATCH")
	})
	t.Run("remplaçant unlisted", func(t *testing.T) {
		pr := doctorPr
		pr.Remplacant = &fse.Remplacant{IDType: fse.IDTypeRPPS, ID: "10107592544", NationalID: "810107592544"}
		_, err := newClient(t, m, "cps4").SendSheet(t.Context(), makeSigned(t, cardSheets(t, "cps4", pr), 5006))
		wantRefused(t, err, http.StatusForbidden, "REMPLACANT_NOT_ALLOWED")
	})
	t.Run("certificate without national id signs", func(t *testing.T) {
		key, cert := noIDCert(t, false)
		s := cardSheets(t, "doctor", doctorPr)
		s.Signer, s.Chain = signature.MessageSigner{Signer: key}, []*x509.Certificate{cert, readCert(t, "pki/persons-ca.crt")}
		_, err := newClient(t, m, "doctor").SendSheet(t.Context(), makeSigned(t, s, 5007))
		wantRefused(t, err, http.StatusForbidden, "SIGNER_ID_MISSING")
	})
	t.Run("certificate without national id connects", func(t *testing.T) {
		key, cert := noIDCert(t, true)
		c, err := client.New(client.Config{URL: "https://" + m.APIAddr(), Roots: fixtureRoots(t), Certificate: &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		_, err = c.SendSheet(t.Context(), makeSigned(t, cardSheets(t, "doctor", doctorPr), 5008))
		wantRefused(t, err, http.StatusUnauthorized, "SIGNER_ID_MISSING")
	})
}

// TestRemplacantOutsideDates: the same remplaçant, on a gateway whose
// directory ends the replacement before the day of care.
func TestRemplacantOutsideDates(t *testing.T) {
	file := filepath.Join(t.TempDir(), "practices.yaml")
	doc := `practices:
  - billing: "751000019"
    profession: "10"
    specialty: "01"
    signers: ["899700218896"]
    remplacants:
      - {national_id: "810107592585", from: "2020-01-01", to: "2020-12-31"}
`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startGateway(t, "--practices", file)
	pr := doctorPr
	pr.Remplacant = remplPr
	_, err := newClient(t, m, "remplacant").SendSheet(t.Context(), makeSigned(t, cardSheets(t, "remplacant", pr), 5101))
	wantRefused(t, err, http.StatusForbidden, "REMPLACANT_NOT_ALLOWED")
}

// noIDCert is a certificate of the persons CA naming nobody: no national id
// extension, no CN. auth makes it a TLS client certificate, else a
// signature (nonRepudiation) one.
func noIDCert(t testing.TB, auth bool) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	ca, caKey := readCert(t, "pki/persons-ca.crt"), cardKey(t, "pki/persons-ca.key")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject: pkix.Name{Country: []string{"FR"}, OrganizationalUnit: []string{"CPS"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 12}, Value: "Médecin"}}},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageContentCommitment,
	}
	if auth {
		tmpl.KeyUsage, tmpl.ExtKeyUsage = x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
