package mock

import (
	"bytes"
	"crypto/x509"
	"io/fs"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/testenv/testpki"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/fse/tables"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/signature"
)

// The fixtures as fixtures/dev loads them for the commands (dev imports
// this package, so its tests read the fixtures themselves).

// fixture reads one fixture file.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := fixtures.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureDirectory is fixtures/insurers.yaml.
func fixtureDirectory(t testing.TB) *insurers.Directory {
	t.Helper()
	d, err := insurers.Load(fixture(t, "insurers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fixtureSeed is the test nkey seed of a fixture NATS user.
func fixtureSeed(t testing.TB, id string) []byte {
	t.Helper()
	return bytes.TrimSpace(fixture(t, "nkeys/"+id+".nk"))
}

// devOptions are the rules' options with the fixtures' tables.
func devOptions(t testing.TB, now func() time.Time) fse.Options {
	t.Helper()
	sub, err := fs.Sub(fixtures.FS(), "tariffs")
	if err != nil {
		t.Fatal(err)
	}
	set, err := tables.Load(sub)
	if err != nil {
		t.Fatal(err)
	}
	hol, err := fse.ParseHolidays(bytes.NewReader(fixture(t, "holidays.csv")))
	if err != nil {
		t.Fatal(err)
	}
	o := fse.Options{Now: now, Holidays: hol}
	set.Apply(&o)
	return o
}

// devChecker trusts the fixtures' test PKI, with the fixtures' tables.
func devChecker(t testing.TB, kind insurers.Kind, now func() time.Time) *FSEChecker {
	t.Helper()
	trust, err := signature.LoadFS(fixtures.FS(), "pki", "root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl")
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		trust.Now = now
	}
	return &FSEChecker{Verifier: &signature.Verifier{Trust: trust, Now: now}, Options: devOptions(t, now), Kind: kind}
}

// fixtureSheets signs as the fixtures' doctor card (billing 751000019).
func fixtureSheets(t testing.TB, now time.Time) *Sheets {
	t.Helper()
	return &Sheets{
		Signer:  signature.MessageSigner{Signer: testpki.Key(t, "pki/cards/doctor-sig.key")},
		Chain:   []*x509.Certificate{testpki.Cert(t, "pki/cards/doctor-sig.crt"), testpki.Cert(t, "pki/persons-ca.crt")},
		Options: devOptions(t, func() time.Time { return now }), Now: now,
		Practitioner: fse.Practitioner{IDType: fse.IDTypeRPPS, ID: "99700218896", NationalID: "899700218896", Billing: "751000019", Profession: fse.ProfessionDoctor, Specialty: "01"},
	}
}
