package practices

import "testing"

func TestFixtureDirectory(t *testing.T) {
	d, err := Load("", true)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed("899700218896", "751000017") || !d.Allowed("810107592585", "751000017") {
		t.Fatal("doctor and remplaçant may not sign for the doctor's practice")
	}
	if d.Allowed("899700075122", "751000017") {
		t.Fatal("the pharmacist may sign for the doctor's practice")
	}
	if got := d.Billings("899700075122"); len(got) != 1 || got[0] != "751000025" {
		t.Fatalf("pharmacist billings: got %v, want [751000025]", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"short billing": "practices:\n  - billing: \"123\"\n",
		"duplicate":     "practices:\n  - billing: \"751000017\"\n  - billing: \"751000017\"\n",
		"unknown field": "practices:\n  - billing: \"751000017\"\n    color: red\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
