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
// practitioner limited to their billing numbers, with RequireClientCert
// too, or an operator when listed in Operators; a client certificate still
// comes first; without any, loopback or not, sign in.
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
		operators []string
		wantID    string
		wantBill  []string
		wantECPS  bool
		wantOp    bool
		wantError error
	}{
		{name: "doctor on loopback", session: "899700218896", remote: "127.0.0.1:5000", wantID: "899700218896", wantBill: []string{"751000019"}, wantECPS: true},
		{name: "nurse from another host", session: "0012800736", remote: "192.0.2.7:5000", wantID: "0012800736", wantBill: []string{"751000035"}, wantECPS: true},
		{name: "session with RequireClientCert", session: "899700218896", require: true, remote: "127.0.0.1:5000", wantID: "899700218896", wantBill: []string{"751000019"}, wantECPS: true},
		{name: "certificate before session", session: "0012800736", remote: "192.0.2.7:5000", card: "doctor", wantID: "899700218896", wantBill: []string{"751000019"}},
		{name: "no session on loopback", remote: "127.0.0.1:5000", wantError: ErrSignInRequired},
		{name: "no session from another host", remote: "192.0.2.7:5000", wantError: ErrSignInRequired},
		{name: "session of nobody's practice", session: "810000000000", remote: "127.0.0.1:5000", wantError: ErrNoBillings},
		{name: "session of a listed operator", session: "0012800736", operators: []string{"0012800736"}, remote: "127.0.0.1:5000", wantID: "0012800736", wantECPS: true, wantOp: true},
		{name: "an operator list without them", session: "899700218896", operators: []string{"0012800736"}, remote: "127.0.0.1:5000", wantID: "899700218896", wantBill: []string{"751000019"}, wantECPS: true},
	}
	for _, tc := range cases {
		a := base
		a.Session = sessionOf(tc.session)
		a.RequireClientCert = tc.require
		a.Operators = tc.operators
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
		if v.NationalID != tc.wantID || !slices.Equal(v.Billings, tc.wantBill) || v.ECPS != tc.wantECPS || v.Operator != tc.wantOp {
			t.Errorf("%s: viewer %+v", tc.name, v)
		}
	}
}
