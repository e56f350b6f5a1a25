package insurers

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFixtureDirectory(t *testing.T) {
	d := fixtureDirectory(t)
	tests := []struct {
		dest Destination
		want string
	}{
		{Destination{Kind: "AMO", Regime: "01", Caisse: "751", Centre: "0001"}, "cpam751"},
		{Destination{Kind: "AMO", Regime: "01", Caisse: "931", Centre: "0000"}, "cpam931"},
		{Destination{Kind: "AMO", Regime: "01", Caisse: "131", Centre: "0420"}, "cpam131"},
		{Destination{Kind: "AMO", Regime: "02", Caisse: "751", Centre: "0001"}, "msa751"},
		{Destination{Kind: "AMC", Regime: "01", Caisse: "751", AMC: "123456789"}, "amc1"},
		{Destination{Kind: "AMO", Regime: "03", Caisse: "751", Centre: "0001"}, ""},
		{Destination{Kind: "AMO", Regime: "01", Caisse: "752", Centre: "0001"}, ""},
		{Destination{Kind: "AMC", AMC: "987654321"}, ""},
		{Destination{Kind: "AMX", Regime: "01", Caisse: "751"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.dest.String(), func(t *testing.T) {
			in, err := d.Route(tt.dest)
			if tt.want == "" {
				var ue *UnknownError
				if !errors.Is(err, ErrUnknown) || !errors.As(err, &ue) || ue.ErrorCode() != CodeUnknown {
					t.Fatalf("got %v, %v; want ErrUnknown", in, err)
				}
				return
			}
			if err != nil || in.ID != tt.want {
				t.Fatalf("got %v, %v; want %s", in, err, tt.want)
			}
		})
	}
	c, _ := d.Insurer("cpam131")
	if c.Lots.MaxSheets != 200 || c.Lots.MaxAge != 10*time.Second || c.Retry.Attempts != 5 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if m, _ := d.Insurer("msa751"); m.Deadlines.Returns != 120*time.Hour || m.Deadlines.ARL != 30*time.Minute || m.Deadlines.ReturnsWorkingDays != 0 {
		t.Fatalf("an insurer's own returns duration is kept: %+v", m.Deadlines)
	}
	if c, _ := d.Insurer("cpam751"); c.Deadlines.ReturnsWorkingDays != 7 {
		t.Fatalf("returns deadline: %+v, want 7 working days", c.Deadlines)
	}
	for _, in := range d.Insurers {
		if pub, _ := PublicKey(fixtureSeed(t, in.ID)); pub != in.NKey {
			t.Errorf("%s: fixtures/nkeys/%s.nk is not the key of the directory", in.ID, in.ID)
		}
	}
}

func TestRouteMostSpecificCentre(t *testing.T) {
	d, err := Load([]byte(`
insurers:
  - {id: any, name: A, kind: AMO, serves: [{regime: "01", caisse: "751"}], nkey: ` + key + `}
  - {id: pre, name: P, kind: AMO, serves: [{regime: "01", caisse: "751", centre: "00*"}], nkey: ` + key + `}
  - {id: one, name: O, kind: AMO, serves: [{regime: "01", caisse: "751", centre: "0001"}], nkey: ` + key + `}
`))
	if err != nil {
		t.Fatal(err)
	}
	for centre, want := range map[string]string{"0001": "one", "0002": "pre", "0100": "any"} {
		in, err := d.AMO("01", "751", centre)
		if err != nil || in.ID != want {
			t.Errorf("centre %s: got %v %v, want %s", centre, in, err, want)
		}
	}
}

const key = "UBR7YMJNW2G252LSW3RV3LZQPHM53ZDZUG3MSIWQXCEO5LZSHSEUI6JN"

func TestLoadRefuses(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown field", `insurers: [{id: a, name: A, kind: AMO, serves: [{regime: "01", caisse: "751"}], nkey: ` + key + `, colour: red}]`, "colour"},
		{"bad id", `insurers: [{id: "A.B", name: A, kind: AMO, serves: [{regime: "01", caisse: "751"}], nkey: ` + key + `}]`, "subject token"},
		{"duplicate id", `insurers: [{id: a, name: A, kind: AMO, serves: [{regime: "01", caisse: "751"}], nkey: ` + key + `}, {id: a, name: A, kind: AMO, serves: [{regime: "01", caisse: "752"}], nkey: ` + key + `}]`, "twice"},
		{"same pattern", `insurers: [{id: a, name: A, kind: AMO, serves: [{regime: "01", caisse: "751"}], nkey: ` + key + `}, {id: b, name: A, kind: AMO, serves: [{regime: "01", caisse: "751", centre: "*"}], nkey: ` + key + `}]`, "same destinations"},
		{"bad kind", `insurers: [{id: a, name: A, kind: XX, serves: [{regime: "01", caisse: "751"}], nkey: ` + key + `}]`, "kind"},
		{"bad caisse", `insurers: [{id: a, name: A, kind: AMO, serves: [{regime: "01", caisse: "75"}], nkey: ` + key + `}]`, "pattern"},
		{"amc on amo", `insurers: [{id: a, name: A, kind: AMO, serves: [{amc: "123456789"}], nkey: ` + key + `}]`, "pattern"},
		{"bad nkey", `insurers: [{id: a, name: A, kind: AMO, serves: [{regime: "01", caisse: "751"}], nkey: SUXX}]`, "nkey"},
		{"bad duration", `insurers: [{id: a, name: A, kind: AMO, serves: [{regime: "01", caisse: "751"}], lots: {max_age: soon}, nkey: ` + key + `}]`, "soon"},
		{"none", `insurers: []`, "no insurers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}
