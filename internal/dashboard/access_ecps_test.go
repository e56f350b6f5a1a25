package dashboard

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestAccessSession: an e-CPS session (Access.Session) makes its holder a
// practitioner limited to their billing numbers, even on loopback and
// with RequireClientCert; a client certificate still comes first.
func TestAccessSession(t *testing.T) {
	base := fixtureAccess(t)
	sessionOf := func(id string) func(*http.Request) (string, bool) {
		return func(*http.Request) (string, bool) { return id, id != "" }
	}
	req := func(remote string, card string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if card != "" {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cardCert(t, card)}}
		}
		return r
	}
	cases := []struct {
		name      string
		session   string
		require   bool
		remote    string
		card      string
		wantID    string
		wantBill  []string
		wantECPS  bool
		wantError error
	}{
		{"doctor on loopback", "899700218896", false, "127.0.0.1:5000", "", "899700218896", []string{"751000017"}, true, nil},
		{"nurse from another host", "0012800736", false, "192.0.2.7:5000", "", "0012800736", []string{"751000033"}, true, nil},
		{"session with RequireClientCert", "899700218896", true, "127.0.0.1:5000", "", "899700218896", []string{"751000017"}, true, nil},
		{"certificate before session", "0012800736", false, "192.0.2.7:5000", "doctor", "899700218896", []string{"751000017"}, false, nil},
		{"no session on loopback: operator", "", false, "127.0.0.1:5000", "", "", nil, false, nil},
		{"no session from another host", "", false, "192.0.2.7:5000", "", "", nil, false, ErrNotLoopback},
		{"session of nobody's practice", "810000000000", false, "127.0.0.1:5000", "", "", nil, false, ErrNoBillings},
	}
	for _, tc := range cases {
		a := base
		a.Session = sessionOf(tc.session)
		a.RequireClientCert = tc.require
		v, err := a.Viewer(req(tc.remote, tc.card))
		if tc.wantError != nil {
			if !errors.Is(err, tc.wantError) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.wantError)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if v.NationalID != tc.wantID || !slices.Equal(v.Billings, tc.wantBill) || v.ECPS != tc.wantECPS || (tc.wantID != "" && v.Operator) {
			t.Errorf("%s: viewer %+v", tc.name, v)
		}
	}
}
