package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/gateway/oidcauth"
	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/internal/cli"
)

// adminReq is one request to the admin listener: Host, headers, cookies.
type adminReq struct {
	method, path string
	host         string // "": the listener's address
	token        string // Authorization: Bearer
	headers      map[string]string
	cookies      []*http.Cookie
	form         url.Values
}

type adminResp struct {
	status int
	body   string
	header http.Header
	resp   *http.Response
}

// code is the first error code of a problem+json answer, or of a
// dashboard page (data-code).
func (a adminResp) code() string {
	if c := problemCode([]byte(a.body)); c != "" {
		return c
	}
	if m := regexp.MustCompile(`data-code="([A-Z_]+)"`).FindStringSubmatch(a.body); m != nil {
		return m[1]
	}
	return ""
}

func adminDo(t *testing.T, m *Main, q adminReq) adminResp {
	t.Helper()
	var body io.Reader
	if q.form != nil {
		body = strings.NewReader(q.form.Encode())
	}
	req, err := http.NewRequest(q.method, "http://"+m.AdminAddr()+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if q.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if q.host != "" {
		req.Host = q.host
	}
	if q.token != "" {
		req.Header.Set("Authorization", "Bearer "+q.token)
	}
	for k, v := range q.headers {
		req.Header.Set(k, v)
	}
	for _, c := range q.cookies {
		req.AddCookie(c)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return adminResp{status: resp.StatusCode, body: string(b), header: resp.Header, resp: resp}
}

func cookieNamed(r adminResp, name string) *http.Cookie {
	for _, c := range r.resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// crossSite are the headers a browser sends with a form posted from a
// page of another site.
var crossSite = map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}

// TestAdminListenerGuard: through the gateway's admin listener, a page
// reaching it through DNS rebinding (another Host) is refused on every
// path; a cross-site POST (CSRF) is refused before anything runs;
// /admin/*, and the dashboard need an operator (the operator token, as a
// bearer or signed in with the dashboard's form, or e-CPS for a national
// id of --operators), loopback being no credential; /healthz, /readyz,
// /metrics and /openapi.yaml stay open; pprof is off without --pprof.
func TestAdminListenerGuard(t *testing.T) {
	m := startGateway(t, "--operators", nurseID)
	_, port, _ := strings.Cut(m.AdminAddr(), ":")

	t.Run("DNS rebinding", func(t *testing.T) {
		for _, host := range []string{"attacker.example:" + port, "attacker.example", "127.0.0.1.attacker.example:" + port, "localhost.attacker.example:" + port} {
			for _, q := range []adminReq{
				{method: "GET", path: "/healthz"},
				{method: "GET", path: "/metrics"},
				{method: "GET", path: "/"},
				{method: "GET", path: "/admin/audit/verify"},
				{method: "POST", path: "/admin/resubmit?what=751000019.000000001", headers: map[string]string{"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}},
			} {
				q.host = host
				if r := adminDo(t, m, q); r.status != http.StatusMisdirectedRequest || r.code() != "ADMIN_HOST_REFUSED" {
					t.Errorf("%s %s with Host %s: %d %s, want 421 ADMIN_HOST_REFUSED", q.method, q.path, host, r.status, r.body)
				}
			}
		}
		for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port} {
			if r := adminDo(t, m, adminReq{method: "GET", path: "/healthz", host: host}); r.status != http.StatusOK {
				t.Errorf("/healthz with Host %s: %d %s", host, r.status, r.body)
			}
		}
	})

	t.Run("cross-site POST", func(t *testing.T) {
		tok := operatorToken(t, m)
		for _, q := range []adminReq{
			{method: "POST", path: "/admin/resubmit?what=751000019.000000001", headers: crossSite},
			{method: "POST", path: "/admin/resubmit?what=751000019.000000001", headers: crossSite, token: tok},
			{method: "POST", path: "/admin/resubmit?what=751000019.000000001", headers: map[string]string{"Origin": "http://attacker.example"}, token: tok},
			{method: "POST", path: "/admin/resubmit?what=751000019.000000001", headers: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}, token: tok},
			{method: "POST", path: "/auth/operator", headers: crossSite, form: url.Values{"token": {tok}}},
			{method: "POST", path: "/auth/logout", headers: crossSite},
		} {
			r := adminDo(t, m, q)
			if r.status != http.StatusForbidden || r.code() != "ADMIN_ORIGIN_REFUSED" || cookieNamed(r, operator.CookieName) != nil {
				t.Errorf("%s %s from another site: %d %s, want 403 ADMIN_ORIGIN_REFUSED", q.method, q.path, r.status, r.body)
			}
		}
		// The same request from the dashboard's own page, with the token,
		// reaches the queue (which knows no such sheet).
		r := adminDo(t, m, adminReq{method: "POST", path: "/admin/resubmit?what=751000019.000000001", token: tok,
			headers: map[string]string{"Origin": "http://" + m.AdminAddr(), "Sec-Fetch-Site": "same-origin"}})
		if r.status != http.StatusNotFound || r.code() != "" {
			t.Errorf("resubmit from the same origin with the token: %d %s, want the queue's 404", r.status, r.body)
		}
	})

	t.Run("probes and scrapers", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
			if r := adminDo(t, m, adminReq{method: "GET", path: path}); r.status != http.StatusOK {
				t.Errorf("GET %s without credentials: %d %.200s", path, r.status, r.body)
			}
		}
	})

	t.Run("operators only", func(t *testing.T) {
		tok := operatorToken(t, m)
		for _, q := range []adminReq{
			{method: "GET", path: "/admin/audit/verify"},
			{method: "POST", path: "/admin/resubmit?what=751000019.000000001"},
			{method: "GET", path: "/"},
			{method: "GET", path: "/dashboard/snapshot"},
			{method: "GET", path: "/dashboard/insurers/cpam751"},
			{method: "GET", path: "/dashboard/practices/751000019/rejects?format=csv"},
		} {
			r := adminDo(t, m, q)
			if r.status != http.StatusUnauthorized || r.code() != "OPERATOR_REQUIRED" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s from loopback without credentials: %d %.300s, want 401 OPERATOR_REQUIRED", q.method, q.path, r.status, r.body)
			}
			q.token = "not-the-operator-token"
			if r := adminDo(t, m, q); r.status != http.StatusUnauthorized || r.code() != "OPERATOR_TOKEN_INVALID" {
				t.Errorf("%s %s with a wrong token: %d %.300s, want 401 OPERATOR_TOKEN_INVALID", q.method, q.path, r.status, r.body)
			}
			q.token = tok
			if r := adminDo(t, m, q); r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
				t.Errorf("%s %s with the token: %d %.300s", q.method, q.path, r.status, r.body)
			}
		}
		if r := adminDo(t, m, adminReq{method: "GET", path: "/admin/audit/verify", token: tok}); r.status != http.StatusOK || !strings.Contains(r.body, `"entries"`) {
			t.Errorf("audit verify with the token: %d %s", r.status, r.body)
		}
	})

	t.Run("pprof off", func(t *testing.T) {
		if r := adminDo(t, m, adminReq{method: "GET", path: "/debug/pprof/", token: operatorToken(t, m)}); r.status != http.StatusNotFound {
			t.Errorf("/debug/pprof/ without --pprof: %d, want 404", r.status)
		}
	})

	t.Run("token sign-in", func(t *testing.T) {
		tok := operatorToken(t, m)
		same := map[string]string{"Origin": "http://" + m.AdminAddr(), "Sec-Fetch-Site": "same-origin"}
		if r := adminDo(t, m, adminReq{method: "POST", path: "/auth/operator", headers: same, form: url.Values{"token": {"nope"}}}); r.status != http.StatusUnauthorized || r.code() != "OPERATOR_TOKEN_INVALID" || cookieNamed(r, operator.CookieName) != nil {
			t.Errorf("sign-in with a wrong token: %d %s", r.status, r.body)
		}
		r := adminDo(t, m, adminReq{method: "POST", path: "/auth/operator", headers: same, form: url.Values{"token": {tok}}})
		sess := cookieNamed(r, operator.CookieName)
		if r.status != http.StatusSeeOther || sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode {
			t.Fatalf("sign-in with the token: %d, cookie %+v", r.status, sess)
		}
		if r := adminDo(t, m, adminReq{method: "GET", path: "/", cookies: []*http.Cookie{sess}}); r.status != http.StatusOK || !strings.Contains(r.body, "operator (token)") {
			t.Errorf("the pipeline signed in with the token: %d", r.status)
		}
		if r := adminDo(t, m, adminReq{method: "GET", path: "/admin/audit/verify", cookies: []*http.Cookie{sess}}); r.status != http.StatusOK {
			t.Errorf("audit verify signed in with the token: %d %s", r.status, r.body)
		}
		r = adminDo(t, m, adminReq{method: "POST", path: "/auth/operator/logout", headers: same, cookies: []*http.Cookie{sess}})
		if c := cookieNamed(r, operator.CookieName); r.status != http.StatusSeeOther || c == nil || c.MaxAge >= 0 {
			t.Errorf("sign-out: %d, cookie %+v", r.status, c)
		}
		// The cookie kept after sign-out is worth nothing.
		if r := adminDo(t, m, adminReq{method: "GET", path: "/admin/audit/verify", cookies: []*http.Cookie{sess}}); r.status != http.StatusUnauthorized || r.code() != "OPERATOR_REQUIRED" {
			t.Errorf("audit verify with a signed-out cookie: %d %s, want 401 OPERATOR_REQUIRED", r.status, r.body)
		}
	})

	t.Run("e-CPS operators by national id", func(t *testing.T) {
		nurse := ecpsSession(t, m, nurseID)
		doctor := ecpsSession(t, m, doctorID)
		if r := adminDo(t, m, adminReq{method: "GET", path: "/admin/audit/verify", cookies: []*http.Cookie{nurse}}); r.status != http.StatusOK {
			t.Errorf("audit verify as the nurse, an operator: %d %s", r.status, r.body)
		}
		if r := adminDo(t, m, adminReq{method: "GET", path: "/dashboard/", cookies: []*http.Cookie{nurse}}); r.status != http.StatusOK || !strings.Contains(r.body, `id="received"`) {
			t.Errorf("the pipeline as the nurse, an operator: %d", r.status)
		}
		if r := adminDo(t, m, adminReq{method: "GET", path: "/admin/audit/verify", cookies: []*http.Cookie{doctor}}); r.status != http.StatusForbidden || r.code() != "OPERATOR_ONLY" {
			t.Errorf("audit verify as the doctor, a practitioner: %d %s, want 403 OPERATOR_ONLY", r.status, r.body)
		}
		if r := adminDo(t, m, adminReq{method: "GET", path: "/dashboard/snapshot", cookies: []*http.Cookie{doctor}}); r.status != http.StatusForbidden || r.code() != "OPERATOR_ONLY" {
			t.Errorf("the live figures as the doctor: %d, want 403 OPERATOR_ONLY", r.status)
		}
		if r := adminDo(t, m, adminReq{method: "GET", path: "/dashboard/", cookies: []*http.Cookie{doctor}}); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "/dashboard/practices/"+doctorBil+"/rejects") {
			t.Errorf("the pipeline as the doctor: %d %s, want their rejects", r.status, r.header.Get("Location"))
		}
	})
}

// ecpsSession signs nationalID in on the gateway's dashboard through the
// in-process mock Pro Santé Connect, as a browser would, and returns the
// session cookie.
func ecpsSession(t *testing.T, m *Main, nationalID string) *http.Cookie {
	t.Helper()
	r := adminDo(t, m, adminReq{method: "GET", path: "/auth/login"})
	var flow *http.Cookie
	for _, c := range r.resp.Cookies() {
		if c.Name != oidcauth.SessionCookie {
			flow = c
		}
	}
	if r.status != http.StatusFound || flow == nil {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	cb := ecpsStep(t, m.PSC.Mock().Issuer(), r.header.Get("Location"), nationalID, "1234")
	if cb.Host != m.AdminAddr() {
		t.Fatalf("e-CPS step: back to %s, want the gateway", cb)
	}
	r = adminDo(t, m, adminReq{method: "GET", path: cb.RequestURI(), cookies: []*http.Cookie{flow}})
	sess := cookieNamed(r, oidcauth.SessionCookie)
	if r.status != http.StatusSeeOther || sess == nil {
		t.Fatalf("callback: %d %s", r.status, r.body)
	}
	return sess
}

// TestAdminPProfFlag: with --pprof, profiles are served, to operators
// only.
func TestAdminPProfFlag(t *testing.T) {
	m := startGateway(t, "--pprof")
	if r := adminDo(t, m, adminReq{method: "GET", path: "/debug/pprof/"}); r.status != http.StatusUnauthorized || r.code() != "OPERATOR_REQUIRED" {
		t.Errorf("/debug/pprof/ without credentials: %d %.200s, want 401 OPERATOR_REQUIRED", r.status, r.body)
	}
	if r := adminDo(t, m, adminReq{method: "GET", path: "/debug/pprof/", token: operatorToken(t, m)}); r.status != http.StatusOK || !strings.Contains(r.body, "goroutine") {
		t.Errorf("/debug/pprof/ with the token: %d", r.status)
	}
}

// TestAdminCommandsTokenFile: 'gateway audit verify' and 'gateway
// resubmit' send the token of --token-file, refuse one others may read,
// and say what the gateway refused.
func TestAdminCommandsTokenFile(t *testing.T) {
	m := startGateway(t)
	ctx := context.Background()
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := program.Main(ctx, args, &cli.Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		return code, out.String()
	}
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok := operatorToken(t, m)
	good := operatorTokenPath(m)
	tests := []struct {
		name string
		args []string
		exit int
		want []string
	}{
		{"audit verify with the token", []string{"audit", "verify", "--admin", m.AdminAddr(), "--token-file", good}, 0, []string{"audit chain holds"}},
		{"resubmit with the token reaches the queue", []string{"resubmit", "--admin", m.AdminAddr(), "--token-file", good, "751000019.000000001"}, 1, []string{"resubmit 751000019.000000001"}},
		{"a token file others may read", []string{"audit", "verify", "--admin", m.AdminAddr(), "--token-file", write("open", tok, 0o644)}, 1, []string{"SECRET_FILE_UNSAFE", "hint: chmod 600"}},
		{"a token file the group may read", []string{"resubmit", "--admin", m.AdminAddr(), "--token-file", write("group", tok, 0o640), "751000019.000000001"}, 1, []string{"SECRET_FILE_UNSAFE"}},
		{"no token file", []string{"audit", "verify", "--admin", m.AdminAddr(), "--token-file", filepath.Join(dir, "none")}, 1, []string{"no such file", "hint: give the gateway's operator token file with --token-file"}},
		{"another token", []string{"resubmit", "--admin", m.AdminAddr(), "--token-file", write("other", "0123456789abcdef0123456789abcdef", 0o600), "751000019.000000001"}, 1, []string{"OPERATOR_TOKEN_INVALID", "hint: use the token of the gateway's operator token file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := run(tc.args...)
			if code != tc.exit {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.exit, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, tok) {
				t.Errorf("the token is printed:\n%s", out)
			}
		})
	}
}

// TestServeRefusesUnsafeTokenFile: 'gateway serve' does not start with an
// operator token file others may read.
func TestServeRefusesUnsafeTokenFile(t *testing.T) {
	data := t.TempDir()
	p := filepath.Join(data, operatorTokenFile)
	if err := os.WriteFile(p, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Main{Logger: slog.New(slog.DiscardHandler)}
	env := &cli.Env{Stderr: io.Discard, Stdout: io.Discard, Getenv: func(string) string { return "" }}
	if err := m.ParseFlags(env, []string{"--dev", "--data-dir", data, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close()
	var out bytes.Buffer
	program.Report(&out, err)
	if err == nil || !strings.Contains(out.String(), "SECRET_FILE_UNSAFE") || !strings.Contains(out.String(), "hint: chmod 600 "+p) {
		t.Fatalf("serve with an operator token file of mode 0644: %v\n%s", err, out.String())
	}
}
