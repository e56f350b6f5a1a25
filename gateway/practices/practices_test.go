package practices

import (
	"slices"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/problem"
)

var day = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// fixture is fixtures/practices.yaml, the development directory
// (fixtures/dev.Practices).
func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := fixtures.ReadFile("practices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFixtureDirectory(t *testing.T) {
	d, err := Parse(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed("899700218896", "751000019", day) || !d.Allowed("810107592585", "751000019", day) {
		t.Fatal("doctor and remplaçant may not act for the doctor's practice")
	}
	if d.Allowed("810107592585", "751000019", time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatal("the remplaçant acts for the practice after the replacement")
	}
	if d.Allowed("899700075122", "751000019", day) {
		t.Fatal("the pharmacist may sign for the doctor's practice")
	}
	if got := d.Billings("899700075122", day); len(got) != 1 || got[0] != "751000027" {
		t.Fatalf("pharmacist billings: got %v, want [751000027]", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"short billing":      "practices:\n  - billing: \"123\"\n    profession: \"10\"\n",
		"duplicate":          "practices:\n  - billing: \"751000019\"\n    profession: \"10\"\n  - billing: \"751000019\"\n    profession: \"10\"\n",
		"unknown field":      "practices:\n  - billing: \"751000019\"\n    profession: \"10\"\n    color: red\n",
		"no profession":      "practices:\n  - billing: \"751000019\"\n",
		"unknown profession": "practices:\n  - billing: \"751000019\"\n    profession: \"99\"\n",
		"specialty":          "practices:\n  - billing: \"751000019\"\n    profession: \"10\"\n    specialty: \"1\"\n",
		"dates reversed":     "practices:\n  - billing: \"751000019\"\n    profession: \"10\"\n    remplacants: [{national_id: \"810107592585\", from: \"2026-02-01\", to: \"2026-01-01\"}]\n",
		"date format":        "practices:\n  - billing: \"751000019\"\n    profession: \"10\"\n    remplacants: [{national_id: \"810107592585\", from: \"01/02/2026\", to: \"2026-03-01\"}]\n",
		"signer replaces":    "practices:\n  - billing: \"751000019\"\n    profession: \"10\"\n    signers: [\"810107592585\"]\n    remplacants: [{national_id: \"810107592585\", from: \"2026-01-01\", to: \"2026-03-01\"}]\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCheck: the directory and the certificate decide who bills, never the
// sheet (docs/who-may-bill.md).
func TestCheck(t *testing.T) {
	d, err := Parse([]byte(`practices:
  - billing: "751000019"
    profession: "10"
    specialty: "01"
    signers: ["899700218896"]
    remplacants:
      - {national_id: "810107592585", from: "2026-11-01", to: "2026-11-30"}
  - billing: "751000035"
    profession: "60"
    signers: ["0012800736"]
`))
	if err != nil {
		t.Fatal(err)
	}
	doctor := Claim{Billing: "751000019", Profession: "10", Specialty: "01", Practitioner: "899700218896", CareDate: day, SignerProfession: "10", Sender: "899700218896"}
	with := func(f func(*Claim)) Claim { c := doctor; f(&c); return c }
	for _, tc := range []struct {
		name  string
		claim Claim
		want  []problem.Code
	}{
		{"doctor", doctor, nil},
		{"unknown billing", with(func(c *Claim) { c.Billing = "751000999" }), []problem.Code{CodeSignerNotAllowed}},
		{"nurse bills G as a doctor under her own number", Claim{Billing: "751000035", Profession: "10", Specialty: "00", Practitioner: "0012800736", CareDate: day, SignerProfession: "60", Sender: "0012800736"},
			[]problem.Code{CodeProfessionMismatch, CodeProfessionMismatch}},
		{"certificate of another profession", with(func(c *Claim) { c.SignerProfession = "21" }), []problem.Code{CodeProfessionMismatch}},
		{"certificate without profession", with(func(c *Claim) { c.SignerProfession = "" }), nil},
		{"specialty", with(func(c *Claim) { c.Specialty = "02" }), []problem.Code{CodeSpecialtyMismatch}},
		{"practitioner not listed", with(func(c *Claim) { c.Practitioner = "810107592544"; c.Sender = "810107592544" }), []problem.Code{CodeSignerNotAllowed, CodeSenderMismatch}},
		{"remplaçant inside dates", with(func(c *Claim) { c.Remplacant = "810107592585"; c.Sender = "810107592585" }), nil},
		{"remplaçant on the last day", with(func(c *Claim) {
			c.Remplacant, c.Sender, c.CareDate = "810107592585", "810107592585", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		}), nil},
		{"remplaçant after the dates", with(func(c *Claim) {
			c.Remplacant, c.Sender, c.CareDate = "810107592585", "810107592585", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		}), []problem.Code{CodeRemplacantNotAllowed}},
		{"remplaçant unlisted", with(func(c *Claim) { c.Remplacant = "810107592544"; c.Sender = "810107592544" }), []problem.Code{CodeRemplacantNotAllowed}},
		{"remplaçant as the practitioner", with(func(c *Claim) { c.Practitioner = "810107592585"; c.Sender = "810107592585" }), []problem.Code{CodeSignerNotAllowed, CodeSenderMismatch}},
		{"another card sends", with(func(c *Claim) { c.Sender = "899700075122" }), []problem.Code{CodeSenderMismatch}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []problem.Code
			for _, p := range d.Check(tc.claim) {
				got = append(got, p.Code)
				if p.Message == "" || p.Path == "" {
					t.Errorf("problem without message or path: %+v", p)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSheetPractitioner(t *testing.T) {
	d, err := Parse(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := d.SheetPractitioner("810107592585", day)
	if err != nil {
		t.Fatal(err)
	}
	if pr.NationalID != "899700218896" || pr.ID != "99700218896" || pr.Billing != "751000019" || pr.Specialty != "01" ||
		pr.Remplacant == nil || pr.Remplacant.NationalID != "810107592585" || pr.Remplacant.ID != "10107592585" || pr.Remplacant.IDType != "RPPS" {
		t.Fatalf("remplaçant: got %+v %+v", pr, pr.Remplacant)
	}
	nurse, err := d.SheetPractitioner("0012800736", day)
	if err != nil || nurse.IDType != "ADELI" || nurse.ID != "012800736" || nurse.Profession != "60" || nurse.Remplacant != nil {
		t.Fatalf("nurse: got %+v, %v", nurse, err)
	}
	if _, err := d.SheetPractitioner("810107592585", time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("a remplaçant after the replacement makes sheets")
	}
}
