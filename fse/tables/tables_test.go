package tables

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fse"
)

// TestFixturesLoadEveryTable reads fixtures/tariffs, the development
// tables (fixtures/dev.Tables).
func TestFixturesLoadEveryTable(t *testing.T) {
	sub, err := fs.Sub(fixtures.FS(), "tariffs")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(sub)
	if err != nil {
		t.Fatal(err)
	}
	if s.NGAP == nil || s.CCAM == nil || s.Drugs == nil {
		t.Fatalf("got %+v, want the three tables", s)
	}
	on := fse.Date{Year: 2024, Month: time.February, Day: 1}
	if v, ok := s.NGAP.Lookup("IFD", fse.ProfessionNurse, on); !ok || v != 275 {
		t.Errorf("nurse IFD on %s: got %s %v, want 2.75", on, v, ok)
	}
	if v, ok := s.NGAP.Lookup("IFD", fse.ProfessionPhysio, on); !ok || v != 250 {
		t.Errorf("physiotherapist IFD on %s: got %s %v, want 2.50", on, v, ok)
	}
}

func TestParseRefuses(t *testing.T) {
	ngap := []byte("key,profession,valid_from,cents,rate,kind\nG,10,2024-12-22,3000,70,act\n")
	for _, tt := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no ngap", map[string][]byte{}, "no ngap.csv"},
		{"modifiers alone", map[string][]byte{"ngap.csv": ngap, "ccam-modifiers.csv": []byte("modifier,valid_from,percent,cents\nF,2005-03-25,0,1906\n")}, "without ccam.csv"},
		{"fees alone", map[string][]byte{"ngap.csv": ngap, "fees.csv": []byte("code,valid_from,cents,rate\nHD,2016-01-01,102,drug\n")}, "without drugs.csv"},
		{"two values the same day", map[string][]byte{"ngap.csv": append(append([]byte{}, ngap...), "G,10,2024-12-22,3100,70,act\n"...)}, "two values from 2024-12-22"},
		{"unknown column", map[string][]byte{"ngap.csv": []byte("key,profession,valid_from,cents,rate,kind,colour\n")}, `unknown column "colour"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tb, _ := Lookup("drugs.csv")
	old := []byte("# version: drugs-1\ncip13,valid_from,cents,rate\n3400930000014,2020-01-01,208,65\n3400930000021,2020-01-01,345,65\n")
	new := []byte("# version: drugs-2\ncip13,valid_from,cents,rate,tfr_cents\n3400930000014,2020-01-01,210,65,\n3400930000038,2020-01-01,290,65,\n")
	changes, ov, nv, err := Diff(tb, old, new)
	if err != nil {
		t.Fatal(err)
	}
	if ov != "drugs-1" || nv != "drugs-2" {
		t.Errorf("versions %q %q", ov, nv)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	want := []string{
		"~ 3400930000014 2020-01-01: cents: 208 → 210",
		"- 3400930000021 2020-01-01: cip13=3400930000021; valid_from=2020-01-01; cents=345; rate=65",
		"+ 3400930000038 2020-01-01: cip13=3400930000038; valid_from=2020-01-01; cents=290; rate=65; tfr_cents=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
