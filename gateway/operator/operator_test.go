package operator

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHostAllowed(t *testing.T) {
	g := &Guard{Hosts: []string{"localhost", "127.0.0.1", "::1", "gw.example:8080", "[fd00::5]:9090"}}
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1", true},
		{"localhost:1234", true},
		{"LocalHost.:1234", true},
		{"[::1]:8080", true},
		{"[::1]", true},
		{"gw.example:8080", true},
		{"gw.example:8081", false},
		{"gw.example", false},
		{"[fd00::5]:9090", true},
		{"[fd00::5]:9091", false},
		{"attacker.example:8080", false},
		{"127.0.0.1.attacker.example:8080", false},
		{"localhost.attacker.example", false},
		{"127.0.0.2:8080", false},
		{"", false},
		{":8080", false},
	}
	for _, tc := range tests {
		if got := g.HostAllowed(tc.host); got != tc.want {
			t.Errorf("HostAllowed(%q): got %v, want %v", tc.host, got, tc.want)
		}
	}
	if (&Guard{}).HostAllowed("127.0.0.1:8080") {
		t.Error("the zero Guard allows a host")
	}
}

// TestHandler: the Host check comes first, then the origin of
// state-changing requests; requests without Origin nor Sec-Fetch-Site
// (commands, curl) pass.
func TestHandler(t *testing.T) {
	var refused *Error
	g := &Guard{Hosts: []string{"127.0.0.1"}, Refuse: func(w http.ResponseWriter, r *http.Request, err *Error) {
		refused = err
		w.WriteHeader(http.StatusTeapot)
	}}
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	tests := []struct {
		name, method, host string
		headers            map[string]string
		want               *Error
	}{
		{"GET, right host", "GET", "127.0.0.1:8080", nil, nil},
		{"GET, rebinding host", "GET", "attacker.example:8080", nil, ErrHostRefused},
		{"POST from a command", "POST", "127.0.0.1:8080", nil, nil},
		{"POST same origin", "POST", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8080"}, nil},
		{"POST typed by the user", "POST", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "none"}, nil},
		{"POST cross-site", "POST", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"}, ErrCrossOrigin},
		{"POST same-site", "POST", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:9999"}, ErrCrossOrigin},
		{"POST, an old browser's Origin", "POST", "127.0.0.1:8080", map[string]string{"Origin": "http://attacker.example"}, ErrCrossOrigin},
		{"POST, Origin null", "POST", "127.0.0.1:8080", map[string]string{"Origin": "null"}, ErrCrossOrigin},
		{"POST, an old browser same origin", "POST", "127.0.0.1:8080", map[string]string{"Origin": "http://127.0.0.1:8080"}, nil},
		{"DELETE cross-site", "DELETE", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, ErrCrossOrigin},
		{"GET cross-site (a link)", "GET", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site"}, nil},
		{"cross-site POST to a rebinding host", "POST", "attacker.example", map[string]string{"Sec-Fetch-Site": "same-origin"}, ErrHostRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refused = nil
			r := httptest.NewRequest(tc.method, "/admin/resubmit", nil)
			r.Host = tc.host
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if refused != tc.want {
				t.Fatalf("got refusal %v, want %v", refused, tc.want)
			}
			if tc.want == nil && w.Code != http.StatusNoContent {
				t.Errorf("got status %d, want the handler's", w.Code)
			}
		})
	}
}

func TestOperator(t *testing.T) {
	now := time.Now()
	g := &Guard{Hosts: []string{"127.0.0.1"}, Token: "0123456789abcdef0123", SessionTTL: time.Hour, Now: func() time.Time { return now }}
	req := func(auth string, c *http.Cookie) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if c != nil {
			r.AddCookie(c)
		}
		return r
	}
	// Sign in with the form.
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/auth/operator", strings.NewReader(url.Values{"token": {g.Token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	g.SignIn(w, r)
	var sess *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			sess = c
		}
	}
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" || sess == nil {
		t.Fatalf("sign-in: %d %q %v", w.Code, w.Header().Get("Location"), w.Result().Cookies())
	}
	if !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteStrictMode || sess.MaxAge != 3600 || strings.Contains(sess.Value, g.Token) {
		t.Errorf("cookie %+v", sess)
	}
	forged := *sess
	forged.Value = strings.Replace(sess.Value, ".", "9.", 1) // a later expiry
	other := &Guard{Token: "another-token-0123456789"}
	otherCookie := *sess
	otherCookie.Value = other.cookieValue(now.Add(time.Hour).Unix())
	tests := []struct {
		name    string
		r       *http.Request
		want    bool
		wantErr error
	}{
		{"nothing", req("", nil), false, nil},
		{"bearer token", req("Bearer "+g.Token, nil), true, nil},
		{"wrong bearer token", req("Bearer nope", nil), false, ErrTokenInvalid},
		{"basic scheme", req("Basic "+g.Token, nil), false, ErrTokenInvalid},
		{"sign-in cookie", req("", sess), true, nil},
		{"forged cookie", req("", &forged), false, nil},
		{"cookie of another token", req("", &otherCookie), false, nil},
	}
	for _, tc := range tests {
		got, err := g.Operator(tc.r)
		if got != tc.want || err != tc.wantErr {
			t.Errorf("%s: got %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
	now = now.Add(time.Hour)
	if ok, _ := g.Operator(req("", sess)); ok {
		t.Error("an expired cookie was taken")
	}
	if ok, err := (&Guard{}).Operator(req("Bearer ", nil)); ok || err != ErrTokenInvalid {
		t.Errorf("no token configured, empty bearer: %v %v", ok, err)
	}
	if ok, _ := (&Guard{}).Operator(req("", sess)); ok {
		t.Error("no token configured: a cookie was taken")
	}

	// A wrong token in the form is refused, no cookie.
	var refused *Error
	g.Refuse = func(w http.ResponseWriter, r *http.Request, err *Error) {
		refused = err
		w.WriteHeader(http.StatusUnauthorized)
	}
	w = httptest.NewRecorder()
	r = httptest.NewRequest("POST", "/auth/operator", strings.NewReader("token=nope"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	g.SignIn(w, r)
	if refused != ErrTokenInvalid || len(w.Result().Cookies()) != 0 {
		t.Errorf("wrong token in the form: %v, cookies %v", refused, w.Result().Cookies())
	}
	// Sign-out clears the cookie and ends its session in the gateway: a
	// copy kept elsewhere is refused; another sign-in still works.
	now = now.Add(-time.Hour)
	keep := signIn(t, g)
	second := signIn(t, g)
	w = httptest.NewRecorder()
	out := httptest.NewRequest("POST", "/auth/operator/logout", nil)
	out.AddCookie(keep)
	g.SignOut(w, out)
	if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].Name != CookieName || cs[0].MaxAge >= 0 {
		t.Errorf("sign-out cookies %v", cs)
	}
	if ok, _ := g.Operator(req("", keep)); ok {
		t.Error("a signed-out cookie is still taken")
	}
	if ok, _ := g.Operator(req("", second)); !ok {
		t.Error("another session ended with the sign-out")
	}
	// A restart (a new Guard, the same token) ends every session.
	again := &Guard{Token: g.Token, Now: g.Now}
	if ok, _ := again.Operator(req("", second)); ok {
		t.Error("a cookie of the previous process is taken")
	}
}

func signIn(t *testing.T, g *Guard) *http.Cookie {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/auth/operator", strings.NewReader(url.Values{"token": {g.Token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	g.SignIn(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("sign-in: %d, no cookie", w.Code)
	return nil
}
