package psc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures"
)

// fixtureUsers are the professionals of the fixtures' cards
// (fixtures/dev.PSCUsers, which this package's tests cannot import).
func fixtureUsers(t *testing.T) []User {
	t.Helper()
	cards, err := fs.Sub(fixtures.FS(), "cards")
	if err != nil {
		t.Fatal(err)
	}
	us, err := ProfileUsers(cards)
	if err != nil {
		t.Fatal(err)
	}
	return us
}

func TestProfileUsers(t *testing.T) {
	us := fixtureUsers(t)
	byID := map[string]User{}
	for _, u := range us {
		byID[u.NationalID] = u
	}
	if d, ok := byID["899700218896"]; !ok || d.Code != "1234" || d.FamilyName != "MARTIN" {
		t.Errorf("doctor: %+v", d)
	}
	if _, ok := byID["0012800736"]; !ok {
		t.Error("no nurse (ADELI)")
	}
	for _, u := range us {
		if !strings.ContainsAny(u.NationalID[:1], "803") || u.Code == "" {
			t.Errorf("user %s: not an RPPS, ADELI or staff national id, or no code", u.NationalID)
		}
	}
}

type flowEnv struct {
	t      *testing.T
	p      *Provider
	srv    *httptest.Server
	client *http.Client
}

func newFlowEnv(t *testing.T) *flowEnv {
	p, err := New(Config{MaxTries: 3, Users: fixtureUsers(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	p.SetIssuer(srv.URL)
	return &flowEnv{t: t, p: p, srv: srv, client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

const verifier = "0123456789012345678901234567890123456789abc"

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// authorize opens the e-CPS page and returns its request id (or the
// response when there is none).
func (e *flowEnv) authorize(q url.Values) (string, *http.Response) {
	resp, err := e.client.Get(e.srv.URL + "/auth?" + q.Encode())
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		return "", resp
	}
	return string(m[1]), resp
}

func goodQuery() url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {DevClient.ID}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"scope": {"openid"}, "state": {"s1"}, "nonce": {"n1"}, "code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}}
}

func (e *flowEnv) ecps(req, id, code string) *http.Response {
	resp, err := e.client.PostForm(e.srv.URL+"/auth/ecps", url.Values{"request": {req}, "national_id": {id}, "code": {code}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (e *flowEnv) token(form url.Values) (int, map[string]any) {
	resp, err := e.client.PostForm(e.srv.URL+"/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func claimsOf(t *testing.T, jwt string) map[string]any {
	parts := strings.Split(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodeFlow(t *testing.T) {
	e := newFlowEnv(t)
	req, resp := e.authorize(goodQuery())
	if req == "" {
		t.Fatalf("authorize: %d", resp.StatusCode)
	}
	r := e.ecps(req, "899700218896", "1234")
	loc, _ := url.Parse(r.Header.Get("Location"))
	code := loc.Query().Get("code")
	if r.StatusCode != http.StatusFound || code == "" || loc.Query().Get("state") != "s1" || loc.Query().Get("iss") != e.srv.URL {
		t.Fatalf("e-CPS: %d %s", r.StatusCode, loc)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"client_id": {DevClient.ID}, "client_secret": {DevClient.Secret}, "code_verifier": {verifier}}
	status, tok := e.token(form)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	// The shape of Pro Santé Connect's tokens (docs/ecps.md): sub
	// "f:<uuid>:<national id>", azp, acr eidas1, no SubjectNameID; the ID
	// token has aud, the access token none.
	idc := claimsOf(t, tok["id_token"].(string))
	ac := claimsOf(t, tok["access_token"].(string))
	sub := regexp.MustCompile(`^f:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:899700218896$`)
	if idc["nonce"] != "n1" || idc["typ"] != "ID" || idc["aud"] != DevClient.ID || idc["azp"] != DevClient.ID || idc["iss"] != e.srv.URL ||
		idc["acr"] != "eidas1" || !sub.MatchString(idc["sub"].(string)) || idc[NationalIDClaim] != nil {
		t.Errorf("id token claims: %v", idc)
	}
	if _, hasAud := ac["aud"]; ac["typ"] != "Bearer" || hasAud || ac["azp"] != DevClient.ID || ac["acr"] != "eidas1" ||
		ac["sub"] != idc["sub"] || ac["preferred_username"] != "899700218896" || ac[NationalIDClaim] != nil {
		t.Errorf("access token claims: %v", ac)
	}
	// The code is single use.
	if status, _ := e.token(form); status != http.StatusBadRequest {
		t.Errorf("code used twice: %d", status)
	}
	// userinfo with the access token.
	if status, ui := userinfo(t, e.srv.URL, tok["access_token"].(string)); status != http.StatusOK || ui[NationalIDClaim] != "899700218896" || ui["sub"] != ac["sub"] {
		t.Errorf("userinfo: %d %v", status, ui)
	}
}

// TestDiscovery: the document is at Pro Santé Connect's path (and the
// standard one) and names the issuer and its endpoints.
func TestDiscovery(t *testing.T) {
	e := newFlowEnv(t)
	for _, path := range []string{DiscoveryPath, "/.well-known/openid-configuration"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || d["issuer"] != e.srv.URL || d["userinfo_endpoint"] != e.srv.URL+"/userinfo" || d["jwks_uri"] != e.srv.URL+"/jwks" {
			t.Errorf("GET %s: %d %v", path, resp.StatusCode, d)
		}
	}
}

// TestOpaqueSubjects: with OpaqueSubjects the sub holds no national id
// (a UUID of its own per user) and userinfo gives it.
func TestOpaqueSubjects(t *testing.T) {
	p, err := New(Config{OpaqueSubjects: true, Users: fixtureUsers(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	p.SetIssuer(srv.URL)
	doctor, nurse := p.Subject("899700218896"), p.Subject("0012800736")
	if strings.Contains(doctor, "899700218896") || doctor == nurse || len(doctor) != 36 {
		t.Fatalf("subjects %q, %q: want UUIDs of their own", doctor, nurse)
	}
	tok, err := p.Token("899700218896", DevClient.ID, "Bearer")
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, tok); c["sub"] != doctor {
		t.Errorf("token sub %v, want %s", c["sub"], doctor)
	}
	if status, ui := userinfo(t, srv.URL, tok); status != http.StatusOK || ui["sub"] != doctor || ui[NationalIDClaim] != "899700218896" {
		t.Errorf("userinfo: %d %v", status, ui)
	}
}

// userinfo calls the provider's userinfo with an access token.
func userinfo(t *testing.T, base, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ui map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ui)
	return resp.StatusCode, ui
}

func TestTokenRefusals(t *testing.T) {
	e := newFlowEnv(t)
	newCode := func() string {
		req, _ := e.authorize(goodQuery())
		r := e.ecps(req, "899700218896", "1234")
		loc, _ := url.Parse(r.Header.Get("Location"))
		return loc.Query().Get("code")
	}
	base := func(mod func(url.Values)) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {newCode()}, "redirect_uri": {"http://127.0.0.1:1/cb"},
			"client_id": {DevClient.ID}, "client_secret": {DevClient.Secret}, "code_verifier": {verifier}}
		mod(f)
		return f
	}
	cases := []struct {
		name   string
		form   url.Values
		status int
		err    string
	}{
		{"wrong PKCE verifier", base(func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 43)) }), 400, "invalid_grant"},
		{"no verifier", base(func(f url.Values) { f.Del("code_verifier") }), 400, "invalid_grant"},
		{"other redirect", base(func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:2/cb") }), 400, "invalid_grant"},
		{"wrong secret", base(func(f url.Values) { f.Set("client_secret", "nope") }), 401, "invalid_client"},
		{"unknown code", base(func(f url.Values) { f.Set("code", "nope") }), 400, "invalid_grant"},
		{"other grant", base(func(f url.Values) { f.Set("grant_type", "password") }), 400, "unsupported_grant_type"},
	}
	for _, tc := range cases {
		status, out := e.token(tc.form)
		if status != tc.status || out["error"] != tc.err {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, out, tc.status, tc.err)
		}
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	e := newFlowEnv(t)
	for name, mod := range map[string]func(url.Values){
		"unknown client":        func(q url.Values) { q.Set("client_id", "evil") },
		"non-loopback redirect": func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
	} {
		q := goodQuery()
		mod(q)
		req, resp := e.authorize(q)
		if req != "" || resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d, Location %q; want 400 and no redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for name, mod := range map[string]func(url.Values){
		"no PKCE":       func(q url.Values) { q.Del("code_challenge") },
		"plain PKCE":    func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no openid":     func(q url.Values) { q.Set("scope", "profile") },
		"implicit flow": func(q url.Values) { q.Set("response_type", "token") },
	} {
		q := goodQuery()
		mod(q)
		_, resp := e.authorize(q)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("error") == "" || loc.Query().Get("state") != "s1" {
			t.Errorf("%s: %d %s; want an error redirect", name, resp.StatusCode, loc)
		}
	}
}

func TestWrongCodesBlock(t *testing.T) {
	e := newFlowEnv(t)
	req, _ := e.authorize(goodQuery())
	for i, want := range []int{401, 401, 401, 403} {
		if r := e.ecps(req, "0012800736", "0000"); r.StatusCode != want {
			t.Errorf("wrong code %d: %d, want %d", i+1, r.StatusCode, want)
		}
	}
	if r := e.ecps(req, "0012800736", "1234"); r.StatusCode != http.StatusForbidden {
		t.Errorf("right code once blocked: %d, want 403", r.StatusCode)
	}
	if r := e.ecps(req, "899999999999", "1234"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown user: %d", r.StatusCode)
	}
}

func TestRotationKeepsOldKeys(t *testing.T) {
	e := newFlowEnv(t)
	kids := []string{e.p.KeyID()}
	for range 3 {
		if err := e.p.Rotate(); err != nil {
			t.Fatal(err)
		}
		kids = append(kids, e.p.KeyID())
	}
	resp, err := http.Get(e.srv.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	var got []string
	for _, k := range set.Keys {
		got = append(got, k["kid"])
	}
	want := []string{kids[3], kids[2], kids[1]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("JWKS kids %v, want the current and two previous %v", got, want)
	}
}

func TestNewWantsUsers(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("a provider without users: want an error")
	}
}
