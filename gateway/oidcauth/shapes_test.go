package oidcauth

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsegate/fsegate/gateway/psc"
)

const (
	doctorID = "899700218896"
	nurseID  = "0012800736"
	fedUUID  = "5a0e1e6c-3b1c-4a4e-9d0e-2f1a3b4c5d6e"
)

// pscClaims are the claims of a token as Pro Santé Connect issues them
// (docs/ecps.md, from one public sample): sub "f:<uuid>:<national id>",
// azp, acr, no aud on the access token, no SubjectNameID; mod changes
// them.
func (e *env) pscClaims(typ string, mod func(map[string]any)) map[string]any {
	c := map[string]any{"iss": e.p.Issuer(), "sub": "f:" + fedUUID + ":" + doctorID, "azp": psc.DevClient.ID, "typ": typ,
		"iat": e.now.Unix(), "exp": e.now.Add(5 * time.Minute).Unix(), "acr": "eidas1", "preferred_username": doctorID}
	if typ == "ID" {
		c["aud"] = psc.DevClient.ID
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func (e *env) sign(c map[string]any) string {
	e.t.Helper()
	s, err := e.p.Sign(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

type shape struct {
	name    string
	token   string
	wantID  string // the national id taken, when accepted
	wantErr error  // the refusal's code
}

// TestAccessTokenShapes: access tokens as Pro Santé Connect issues them
// are taken (no aud when azp is a client of the gateway, the national id
// from sub "f:<uuid>:<id>" or from SubjectNameID, acr eidas1 and above);
// every other shape is refused with its code.
func TestAccessTokenShapes(t *testing.T) {
	e := newEnvWith(t, psc.Config{}, func(c *Config) { c.AuthorizedParties = []string{psc.DevClient.ID, "practice-app"} })
	acc := func(mod func(map[string]any)) string { return e.sign(e.pscClaims("Bearer", mod)) }
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := psc.SignJWT(otherKey, e.p.KeyID(), e.pscClaims("Bearer", nil))
	if err != nil {
		t.Fatal(err)
	}
	fromEndpoint, err := e.p.Token(doctorID, psc.DevClient.ID, "Bearer")
	if err != nil {
		t.Fatal(err)
	}
	tests := []shape{
		// Accepted.
		{name: "as Pro Santé Connect issues it (no aud, azp the client, sub f:uuid:id)", token: acc(nil), wantID: doctorID},
		{name: "as the mock's token endpoint issues it", token: fromEndpoint, wantID: doctorID},
		{name: "azp another configured client", token: acc(func(c map[string]any) { c["azp"] = "practice-app" }), wantID: doctorID},
		{name: "aud the client", token: acc(func(c map[string]any) { c["aud"] = psc.DevClient.ID; delete(c, "azp") }), wantID: doctorID},
		{name: "aud a list naming the client", token: acc(func(c map[string]any) { c["aud"] = []string{"account", psc.DevClient.ID} }), wantID: doctorID},
		{name: "acr eidas3 (the sample's)", token: acc(func(c map[string]any) { c["acr"] = "eidas3" }), wantID: doctorID},
		{name: "acr eidas2", token: acc(func(c map[string]any) { c["acr"] = "eidas2" }), wantID: doctorID},
		{name: "SubjectNameID and an opaque sub", token: acc(func(c map[string]any) { c["sub"] = "opaque"; c[psc.NationalIDClaim] = nurseID }), wantID: nurseID},
		{name: "SubjectNameID agreeing with sub", token: acc(func(c map[string]any) { c[psc.NationalIDClaim] = doctorID }), wantID: doctorID},
		{name: "ADELI national id in sub", token: acc(func(c map[string]any) { c["sub"] = "f:" + fedUUID + ":" + nurseID }), wantID: nurseID},
		// Audience.
		{name: "no aud, azp another client", token: acc(func(c map[string]any) { c["azp"] = "another-app" }), wantErr: ErrAudience},
		{name: "no aud, no azp", token: acc(func(c map[string]any) { delete(c, "azp") }), wantErr: ErrAudience},
		{name: "no aud, empty azp", token: acc(func(c map[string]any) { c["azp"] = "" }), wantErr: ErrAudience},
		{name: "aud another client, azp the client", token: acc(func(c map[string]any) { c["aud"] = "another-app" }), wantErr: ErrAudience},
		{name: "empty aud list, azp another", token: acc(func(c map[string]any) { c["aud"] = []string{}; c["azp"] = "another-app" }), wantErr: ErrAudience},
		// Level.
		{name: "no acr", token: acc(func(c map[string]any) { delete(c, "acr") }), wantErr: ErrACR},
		{name: "acr eidas0", token: acc(func(c map[string]any) { c["acr"] = "eidas0" }), wantErr: ErrACR},
		{name: "acr 1", token: acc(func(c map[string]any) { c["acr"] = "1" }), wantErr: ErrACR},
		{name: "acr unknown level eidas4", token: acc(func(c map[string]any) { c["acr"] = "eidas4" }), wantErr: ErrACR},
		{name: "acr not a string", token: acc(func(c map[string]any) { c["acr"] = 3 }), wantErr: ErrSignature},
		// Type, time, issuer, signature.
		{name: "an ID token", token: acc(func(c map[string]any) { c["typ"] = "ID"; c["aud"] = psc.DevClient.ID }), wantErr: ErrTokenType},
		{name: "no typ", token: acc(func(c map[string]any) { delete(c, "typ") }), wantErr: ErrTokenType},
		{name: "expired", token: acc(func(c map[string]any) { c["exp"] = e.now.Add(-time.Second).Unix() }), wantErr: ErrExpired},
		{name: "no exp", token: acc(func(c map[string]any) { delete(c, "exp") }), wantErr: ErrExpired},
		{name: "not valid yet", token: acc(func(c map[string]any) { c["nbf"] = e.now.Add(time.Hour).Unix() }), wantErr: ErrExpired},
		{name: "another issuer", token: acc(func(c map[string]any) { c["iss"] = "https://evil.example" }), wantErr: ErrIssuer},
		{name: "another key, same kid", token: forged, wantErr: ErrSignature},
		{name: "not a JWT", token: "abc.def", wantErr: ErrSignature},
		// National id.
		{name: "sub f:uuid:id and SubjectNameID differ", token: acc(func(c map[string]any) { c[psc.NationalIDClaim] = nurseID }), wantErr: ErrNationalID},
		{name: "SubjectNameID not an id", token: acc(func(c map[string]any) { c[psc.NationalIDClaim] = "8997|00218896" }), wantErr: ErrNationalID},
		{name: "sub f: with no uuid, unknown to userinfo", token: acc(func(c map[string]any) { c["sub"] = "f:x:" + doctorID }), wantErr: ErrNationalID},
		{name: "sub f:uuid: with no id", token: acc(func(c map[string]any) { c["sub"] = "f:" + fedUUID + ":" }), wantErr: ErrNationalID},
		{name: "bare national id as sub, unknown to userinfo", token: acc(func(c map[string]any) { c["sub"] = doctorID }), wantErr: ErrNationalID},
		{name: "preferred_username alone is not taken", token: acc(func(c map[string]any) { c["sub"] = "opaque" }), wantErr: ErrNationalID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := e.rp.VerifyAccessToken(t.Context(), tc.token)
			checkShape(t, tc, id, err)
			// Through Bearer: the same code behind ErrTokenInvalid.
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			if _, err := e.rp.Bearer(r); tc.wantErr != nil && (!errors.Is(err, ErrTokenInvalid) || !errors.Is(err, tc.wantErr)) {
				t.Errorf("Bearer: got %v, want %v and %v", err, ErrTokenInvalid, tc.wantErr)
			}
		})
	}
}

func checkShape(t *testing.T, tc shape, id string, err error) {
	t.Helper()
	if tc.wantErr == nil {
		if err != nil || id != tc.wantID {
			t.Fatalf("got %q, %v; want %s", id, err, tc.wantID)
		}
		return
	}
	if !errors.Is(err, tc.wantErr) {
		t.Fatalf("got %q, %v (%s); want %v", id, err, CodeOf(err), tc.wantErr)
	}
	if err.Error() == "" || strings.ContainsAny(err.Error()[:1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t.Errorf("message %q: want a plain lowercase reason", err)
	}
}

// TestUserinfoNationalID: when the token gives no national id (an opaque
// sub, no SubjectNameID), userinfo's SubjectNameID is taken, for the
// subject of the token only.
func TestUserinfoNationalID(t *testing.T) {
	e := newEnvWith(t, psc.Config{OpaqueSubjects: true}, nil)
	tok, err := e.p.Token(nurseID, psc.DevClient.ID, "Bearer")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := e.rp.VerifyAccessToken(t.Context(), tok); err != nil || id != nurseID {
		t.Fatalf("opaque sub: got %q, %v; want %s from userinfo", id, err, nurseID)
	}
	unknown := e.sign(e.pscClaims("Bearer", func(c map[string]any) { c["sub"] = "5a0e1e6c-0000-4a4e-9d0e-2f1a3b4c5d6e" }))
	if _, err := e.rp.VerifyAccessToken(t.Context(), unknown); !errors.Is(err, ErrNationalID) {
		t.Errorf("a sub userinfo does not know: got %v, want %v", err, ErrNationalID)
	}
	// The sign-in takes the national id from userinfo too.
	flowC, cb := e.signIn(doctorID, "1234")
	resp := get(t, cb, flowC)
	if resp.StatusCode != http.StatusSeeOther || cookie(resp, SessionCookie) == nil {
		t.Fatalf("sign-in with an opaque sub: %d", resp.StatusCode)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie(resp, SessionCookie))
	if id, ok := e.rp.Session(r); !ok || id != doctorID {
		t.Errorf("session of %q, want %s", id, doctorID)
	}
}

// TestIDTokenShapes: ID tokens keep the aud check (aud names the client;
// with several audiences azp is the client), want typ ID (or none) and
// acr eidas1 or above.
func TestIDTokenShapes(t *testing.T) {
	e := newEnv(t)
	id := func(mod func(map[string]any)) string { return e.sign(e.pscClaims("ID", mod)) }
	p, err := e.rp.Provider(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tests := []shape{
		{name: "as Pro Santé Connect issues it", token: id(nil)},
		{name: "no typ", token: id(func(c map[string]any) { delete(c, "typ") })},
		{name: "several audiences, azp the client", token: id(func(c map[string]any) { c["aud"] = []string{psc.DevClient.ID, "account"} })},
		{name: "no aud, azp the client", token: id(func(c map[string]any) { delete(c, "aud") }), wantErr: ErrAudience},
		{name: "aud another client", token: id(func(c map[string]any) { c["aud"] = "another-app" }), wantErr: ErrAudience},
		{name: "several audiences, azp another", token: id(func(c map[string]any) { c["aud"] = []string{psc.DevClient.ID, "account"}; c["azp"] = "account" }), wantErr: ErrAudience},
		{name: "an access token", token: id(func(c map[string]any) { c["typ"] = "Bearer" }), wantErr: ErrTokenType},
		{name: "no acr", token: id(func(c map[string]any) { delete(c, "acr") }), wantErr: ErrACR},
		{name: "expired", token: id(func(c map[string]any) { c["exp"] = e.now.Add(-time.Minute).Unix() }), wantErr: ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.rp.verify(t.Context(), p, tc.token, useID)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("got %v, want it taken", err)
			}
			if tc.wantErr != nil {
				checkShape(t, tc, "", err)
			}
		})
	}
}

// TestSignInRefusesShapes: through the whole sign-in, an ID token without
// aud, or below eidas1, is refused with its code (401, the code in the
// answer), and no session is given.
func TestSignInRefusesShapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(typ string, c map[string]any)
		code   Code
	}{
		{"id token without aud", func(typ string, c map[string]any) {
			if typ == "ID" {
				delete(c, "aud")
			}
		}, CodeAudience},
		{"acr below eidas1", func(_ string, c map[string]any) { c["acr"] = "eidas0" }, CodeACR},
		{"no national id anywhere", func(_ string, c map[string]any) { c["sub"] = "opaque" }, CodeNationalID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, psc.Config{Mutate: tc.mutate}, nil)
			flowC, cb := e.signIn(doctorID, "1234")
			req, _ := http.NewRequest("GET", cb, nil)
			req.AddCookie(flowC)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), string(tc.code)) || cookie(resp, SessionCookie) != nil {
				t.Errorf("callback: %d %q, session %v; want 401 with %s and no session", resp.StatusCode, body, cookie(resp, SessionCookie), tc.code)
			}
		})
	}
}

// TestDiscoveryPath: the relying party reads Pro Santé Connect's
// <issuer>/.well-known/wallet-openid-configuration, not the standard
// path; a provider without it is ECPS_PROVIDER_UNAVAILABLE; a document
// naming another issuer is refused.
func TestDiscoveryPath(t *testing.T) {
	p, err := psc.New(psc.Config{Users: devUsers(t)})
	if err != nil {
		t.Fatal(err)
	}
	var wallet, standard atomic.Int64
	serveWallet := true
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			standard.Add(1)
			http.NotFound(w, r)
			return
		case DiscoveryPath:
			wallet.Add(1)
			if !serveWallet {
				http.NotFound(w, r)
				return
			}
		}
		p.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(idp.Close)
	p.SetIssuer(idp.URL)
	rp, err := New(Config{Issuer: idp.URL, ClientID: psc.DevClient.ID})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := p.Token(doctorID, psc.DevClient.ID, "Bearer")
	if id, err := rp.VerifyAccessToken(t.Context(), tok); err != nil || id != doctorID {
		t.Fatalf("with the wallet discovery: %q %v", id, err)
	}
	if wallet.Load() != 1 || standard.Load() != 0 {
		t.Errorf("discovery reads: wallet %d, standard %d; want 1 and 0", wallet.Load(), standard.Load())
	}

	serveWallet = false
	rp2, _ := New(Config{Issuer: idp.URL, ClientID: psc.DevClient.ID})
	if _, err := rp2.VerifyAccessToken(t.Context(), tok); !errors.Is(err, ErrProvider) {
		t.Errorf("no wallet discovery: got %v, want %v", err, ErrProvider)
	}
	rp3, _ := New(Config{Issuer: idp.URL + "/realms/other", ClientID: psc.DevClient.ID})
	if _, err := rp3.Provider(t.Context()); !errors.Is(err, ErrProvider) {
		t.Errorf("discovery of another issuer: got %v, want %v", err, ErrProvider)
	}
}
