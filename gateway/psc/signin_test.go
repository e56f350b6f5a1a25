package psc

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSignIn: the development sign-in gets an access token for the right
// code, and is refused with a wrong one or an unknown national id.
func TestSignIn(t *testing.T) {
	users := []User{{NationalID: "899700218896", GivenName: "Jean", FamilyName: "MARTIN", Profession: "10", Code: "1234"}}
	p, err := New(Config{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	p.SetIssuer(srv.URL)

	tok, err := SignIn(t.Context(), srv.URL, DevClient, "899700218896", "1234")
	if err != nil || strings.Count(tok, ".") != 2 {
		t.Fatalf("got %q, %v, want a JWT access token", tok, err)
	}
	for _, tc := range []struct{ id, code string }{{"899700218896", "0000"}, {"899999999999", "1234"}} {
		if tok, err := SignIn(t.Context(), srv.URL, DevClient, tc.id, tc.code); err == nil {
			t.Errorf("%s with code %s: got a token %q, want a refusal", tc.id, tc.code, tok)
		}
	}
	if _, err := SignIn(t.Context(), srv.URL, Client{ID: DevClient.ID, Secret: "wrong"}, "899700218896", "1234"); err == nil {
		t.Errorf("a wrong client secret got a token")
	}
}
