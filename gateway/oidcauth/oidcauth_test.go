package oidcauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/psc"
)

type env struct {
	t   *testing.T
	p   *psc.Provider
	rp  *RP
	app *httptest.Server
	now time.Time
}

// devUsers are the mock provider's users in development: the fixtures'
// cards.
func devUsers(t *testing.T) []psc.User {
	t.Helper()
	us, err := dev.PSCUsers()
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// newEnv runs the mock provider and an app with the relying party's
// routes and a page that says who is signed in.
func newEnv(t *testing.T) *env {
	return newEnvWith(t, psc.Config{}, nil)
}

// newEnvWith is newEnv with the provider's configuration (its users: the
// fixtures' cards) and a change to the relying party's.
func newEnvWith(t *testing.T, pcfg psc.Config, rpcfg func(*Config)) *env {
	pcfg.Users = devUsers(t)
	p, err := psc.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	idp := httptest.NewServer(p.Handler())
	t.Cleanup(idp.Close)
	p.SetIssuer(idp.URL)
	e := &env{t: t, p: p, now: time.Now()}
	mux := http.NewServeMux()
	e.app = httptest.NewServer(mux)
	t.Cleanup(e.app.Close)
	cfg := Config{Issuer: idp.URL, ClientID: psc.DevClient.ID, ClientSecret: psc.DevClient.Secret,
		RedirectURL: e.app.URL + "/auth/callback", SessionTTL: 10 * time.Minute, Now: func() time.Time { return e.now }}
	if rpcfg != nil {
		rpcfg(&cfg)
	}
	e.rp, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.rp.Routes(mux, "/auth")
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		id, ok := e.rp.Session(r)
		if !ok {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, id)
	})
	return e
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string, cookies ...*http.Cookie) *http.Response {
	req, _ := http.NewRequest("GET", u, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// toProvider starts a sign-in and returns the flow cookie and the
// provider's callback URL after the e-CPS step.
func (e *env) signIn(id, code string) (*http.Cookie, string) {
	t := e.t
	resp := get(t, e.app.URL+"/auth/login?return=/whoami")
	flowC := cookie(resp, flowCookie)
	if resp.StatusCode != http.StatusFound || flowC == nil {
		t.Fatalf("login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if !flowC.Secure || !flowC.HttpOnly || flowC.SameSite != http.SameSiteLaxMode {
		t.Errorf("flow cookie attributes: %+v", flowC)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request without PKCE, state or nonce: %s", auth)
	}
	page, err := http.Get(auth.String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no e-CPS page: %s", b)
	}
	r, err := noRedirect.PostForm(e.p.Issuer()+"/auth/ecps", url.Values{"request": {string(m[1])}, "national_id": {id}, "code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return flowC, r.Header.Get("Location")
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	flowC, cb := e.signIn("899700218896", "1234")
	resp := get(t, cb, flowC)
	sess := cookie(resp, SessionCookie)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/whoami" || sess == nil {
		t.Fatalf("callback: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	if !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.MaxAge != 600 {
		t.Errorf("session cookie attributes: %+v", sess)
	}
	if fc := cookie(resp, flowCookie); fc == nil || fc.MaxAge >= 0 {
		t.Errorf("the flow cookie is not cleared: %+v", fc)
	}
	who, _ := http.NewRequest("GET", e.app.URL+"/whoami", nil)
	who.AddCookie(sess)
	wr, err := http.DefaultClient.Do(who)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(wr.Body)
	wr.Body.Close()
	if string(b) != "899700218896" {
		t.Errorf("whoami: %d %q", wr.StatusCode, b)
	}
	// The same callback again (code used, flow cookie replayed): refused.
	if resp := get(t, cb, flowC); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("callback replayed: %d", resp.StatusCode)
	}
}

func TestCallbackRefusals(t *testing.T) {
	e := newEnv(t)
	flowC, cb := e.signIn("899700218896", "1234")
	u, _ := url.Parse(cb)
	wrongState := *u
	q := wrongState.Query()
	q.Set("state", "forged")
	wrongState.RawQuery = q.Encode()
	tampered := *flowC
	tampered.Value = strings.Replace(flowC.Value, ".", "x.", 1)
	// A flow whose nonce differs from the id token's (state right).
	var f flow
	b, _ := e.rp.open("flow", flowC.Value)
	_ = json.Unmarshal(b, &f)
	f.Nonce = "another"
	nb, _ := json.Marshal(f)
	otherNonce := &http.Cookie{Name: flowCookie, Value: e.rp.seal("flow", nb)}
	// A session cookie is not a flow cookie (MACs are bound to their use).
	asFlow := &http.Cookie{Name: flowCookie, Value: e.rp.NewSession("899700218896").Value}
	for name, c := range map[string]struct {
		url    string
		cookie *http.Cookie
	}{
		"no flow cookie":       {cb, nil},
		"wrong state":          {wrongState.String(), flowC},
		"tampered flow cookie": {cb, &tampered},
		"session as flow":      {cb, asFlow},
		"nonce mismatch":       {cb, otherNonce},
	} {
		var cs []*http.Cookie
		if c.cookie != nil {
			cs = append(cs, c.cookie)
		}
		resp := get(t, c.url, cs...)
		if resp.StatusCode != http.StatusUnauthorized || cookie(resp, SessionCookie) != nil {
			t.Errorf("%s: %d, session %v; want 401 and no session", name, resp.StatusCode, cookie(resp, SessionCookie))
		}
	}
}

func TestSessionCookie(t *testing.T) {
	e := newEnv(t)
	c := e.rp.NewSession("0012800736")
	req := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(c)
		return r
	}
	if id, ok := e.rp.Session(req(c)); !ok || id != "0012800736" {
		t.Fatalf("session: %q %v", id, ok)
	}
	forged := *c
	_, mac, _ := strings.Cut(c.Value, ".")
	forged.Value = b64(fmt.Appendf(nil, "899700218896|%d", e.now.Add(time.Hour).Unix())) + "." + mac
	if _, ok := e.rp.Session(req(&forged)); ok {
		t.Error("a forged session cookie was taken")
	}
	e.now = e.now.Add(11 * time.Minute)
	if _, ok := e.rp.Session(req(c)); ok {
		t.Error("an expired session was taken")
	}
	other, err := New(Config{Issuer: "http://x", ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Session(req(other.NewSession("1"))); !ok {
		t.Error("own session refused")
	}
	if _, ok := other.Session(req(e.rp.NewSession("1"))); ok {
		t.Error("a session of another key was taken")
	}
}

// TestLogoutEndsSession: signing out ends the session in the gateway: a
// copy of the cookie kept before (another tab, a stolen one) is refused
// afterwards, though its seal and expiry still hold; another session of
// the same person is not touched.
func TestLogoutEndsSession(t *testing.T) {
	e := newEnv(t)
	c := e.rp.NewSession("0012800736")
	other := e.rp.NewSession("0012800736")
	req := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest("POST", "/auth/logout", nil)
		r.AddCookie(c)
		return r
	}
	if _, ok := e.rp.Session(req(c)); !ok {
		t.Fatal("session refused before the sign-out")
	}
	w := httptest.NewRecorder()
	e.rp.Logout(w, req(c))
	if w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if _, ok := e.rp.Session(req(c)); ok {
		t.Fatal("a signed-out session was taken again (a kept copy of its cookie)")
	}
	if _, ok := e.rp.Session(req(other)); !ok {
		t.Fatal("another session was ended by this sign-out")
	}
}

// TestLocalPath: the return path after sign-in stays on this site
// whatever a browser makes of it (it drops tabs and newlines, reads "\\"
// as "/"): only a path starting with one "/", printable ASCII, no space,
// no backslash, no scheme or host once parsed.
func TestLocalPath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"dashboard", "/dashboard/", "/dashboard/"},
		{"with a query", "/dashboard/practices/751000019/rejects?format=csv", "/dashboard/practices/751000019/rejects?format=csv"},
		{"encoded characters", "/dashboard/sheets/751000019/0%2F1", "/dashboard/sheets/751000019/0%2F1"},
		{"root", "/", "/"},
		{"empty", "", "/"},
		{"relative", "dashboard/", "/"},
		{"scheme-relative", "//attacker.example", "/"},
		{"absolute https", "https://attacker.example", "/"},
		{"absolute http", "http://attacker.example/", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"tab after the slash", "/\t/attacker.example", "/"},
		{"newline after the slash", "/\n/attacker.example", "/"},
		{"carriage return", "/\r/attacker.example", "/"},
		{"NUL", "/\x00/attacker.example", "/"},
		{"DEL", "/\x7f/attacker.example", "/"},
		{"space", "/ /attacker.example", "/"},
		{"backslash after the slash", "/\\attacker.example", "/"},
		{"backslash later", "/dashboard\\..\\\\attacker.example", "/"},
		{"two backslashes", "\\\\attacker.example", "/"},
		{"encoded slash second", "/%2F/attacker.example", "/"},
		{"encoded slash first", "%2F%2Fattacker.example", "/"},
		{"non-ASCII", "/\u3000/attacker.example", "/"},
		{"fullwidth solidus", "/\uff0fattacker.example", "/"},
		{"user info", "/@attacker.example", "/@attacker.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := localPath(tc.in); got != tc.want {
				t.Errorf("localPath(%q): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestBearer(t *testing.T) {
	e := newEnv(t)
	tok, err := e.p.Token("899700218896", psc.DevClient.ID, "Bearer")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	if _, err := e.rp.Bearer(r); err != ErrNoToken {
		t.Errorf("no header: %v", err)
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	if id, err := e.rp.Bearer(r); err != nil || id != "899700218896" {
		t.Errorf("good token: %q %v", id, err)
	}
	r.Header.Set("Authorization", "Basic "+tok)
	if _, err := e.rp.Bearer(r); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("basic scheme: %v", err)
	}
	// Rotation: a token of a new key is taken after the JWKS is fetched again.
	if err := e.p.Rotate(); err != nil {
		t.Fatal(err)
	}
	tok2, _ := e.p.Token("899700218896", psc.DevClient.ID, "Bearer")
	if _, err := e.rp.VerifyAccessToken(t.Context(), tok2); err != nil {
		t.Errorf("token of the rotated key: %v", err)
	}
	// Expiry follows the RP's clock.
	e.now = e.now.Add(time.Hour)
	if _, err := e.rp.VerifyAccessToken(t.Context(), tok2); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
}
