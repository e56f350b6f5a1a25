package fse_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fse"
)

// testNow is the fixed "now" of the conformance cases: a Wednesday.
var testNow = time.Date(2026, time.March, 18, 10, 30, 0, 0, time.UTC)

var testPractitioners = []fse.Practitioner{
	{IDType: fse.IDTypeRPPS, ID: "99700218896", NationalID: "899700218896", Billing: "751000019", Profession: fse.ProfessionDoctor, Specialty: "01"},
	{IDType: fse.IDTypeRPPS, ID: "99700075122", NationalID: "899700075122", Billing: "751000027", Profession: fse.ProfessionPharmacist, Specialty: "00", FINESS: "750712184"},
	{IDType: fse.IDTypeADELI, ID: "012800736", NationalID: "0012800736", Billing: "751000035", Profession: fse.ProfessionNurse, Specialty: "00"},
}

func loadTables(t testing.TB) (*fse.Tariffs, *fse.Holidays) {
	t.Helper()
	f, err := os.Open("../fixtures/tariffs/ngap.csv")
	if err != nil {
		t.Fatalf("open the tariff table: %v (it lives in fixtures/tariffs/ngap.csv)", err)
	}
	defer f.Close()
	tar, err := fse.ParseTariffs(f)
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.Open("../fixtures/holidays.csv")
	if err != nil {
		t.Fatalf("open the holiday table: %v", err)
	}
	defer h.Close()
	hol, err := fse.ParseHolidays(h)
	if err != nil {
		t.Fatal(err)
	}
	return tar, hol
}

// loadPriceTables reads the fixtures' CCAM and drug tables.
func loadPriceTables(t testing.TB) (*fse.CCAMTariffs, *fse.DrugTariffs) {
	t.Helper()
	open := func(name string) *os.File {
		f, err := os.Open("../fixtures/tariffs/" + name)
		if err != nil {
			t.Fatalf("open the table: %v", err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	ccam, err := fse.ParseCCAM(open("ccam.csv"), open("ccam-modifiers.csv"))
	if err != nil {
		t.Fatal(err)
	}
	drugs, err := fse.ParseDrugs(open("drugs.csv"), open("fees.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return ccam, drugs
}

func testOptions(t testing.TB) fse.Options {
	tar, hol := loadTables(t)
	ccam, drugs := loadPriceTables(t)
	return fse.Options{Now: func() time.Time { return testNow }, Tariffs: tar, CCAM: ccam, Drugs: drugs, Holidays: hol}
}

func generate(t testing.TB, seed uint64, profession, brk string) *fse.Sheet {
	t.Helper()
	tar, _ := loadTables(t)
	ccam, drugs := loadPriceTables(t)
	s, err := fse.Generate(rand.New(rand.NewPCG(seed, 1)), fse.GenerateOptions{
		Now: testNow, Practitioners: testPractitioners, Tariffs: tar, CCAM: ccam, Drugs: drugs, Profession: profession, Break: brk, Number: int(seed) + 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
