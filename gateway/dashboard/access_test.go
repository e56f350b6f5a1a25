package dashboard

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/practices"
)

// fixtureAccess is Access as the gateway wires it in --dev: the fixtures'
// trust store (the intake API's) and practices directory.
func fixtureAccess(t *testing.T) Access {
	t.Helper()
	trust, err := dev.Trust()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := dev.Practices()
	if err != nil {
		t.Fatal(err)
	}
	return Access{
		VerifyClient: func(raw [][]byte) (string, error) {
			id, err := trust.VerifyClient(raw)
			return id.NationalID, err
		},
		Practices: directoryNow{dir},
	}
}

// directoryNow reads the directory at the real clock.
type directoryNow struct{ d *practices.Directory }

func (d directoryNow) Billings(natID string) []string { return d.d.Billings(natID, time.Now()) }

func cardCert(t *testing.T, card string) *x509.Certificate {
	t.Helper()
	b, err := fixtures.ReadFile("pki/cards/" + card + "-auth.crt")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(b)
	if p == nil {
		t.Fatalf("%s: no PEM certificate", card)
	}
	c, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAccessViewer(t *testing.T) {
	base := fixtureAccess(t)
	tests := []struct {
		name      string
		remote    string
		card      string // client certificate, "" for none
		token     string // Authorization header
		require   bool
		operators []string
		directory interface{ Billings(string) []string } // nil: the fixtures'
		wantErr   error
		wantOp    bool
		wantBill  []string
	}{
		{name: "loopback is no credential", remote: "127.0.0.1:5000", wantErr: ErrSignInRequired},
		{name: "loopback ipv6 is no credential", remote: "[::1]:5000", wantErr: ErrSignInRequired},
		{name: "other host without certificate", remote: "10.1.2.3:5000", wantErr: ErrSignInRequired},
		{name: "operator token", remote: "127.0.0.1:5000", token: "Bearer " + testToken, wantOp: true},
		{name: "operator token from another host", remote: "10.1.2.3:5000", token: "Bearer " + testToken, wantOp: true},
		{name: "operator token when a certificate is required", remote: "127.0.0.1:5000", token: "Bearer " + testToken, require: true, wantOp: true},
		{name: "wrong operator token", remote: "127.0.0.1:5000", token: "Bearer nope", wantErr: ErrTokenRefused},
		{name: "loopback when a certificate is required", remote: "127.0.0.1:5000", require: true, wantErr: ErrCertRequired},
		{name: "doctor sees their practice", remote: "10.1.2.3:5000", card: "doctor", wantBill: []string{"751000019"}},
		{name: "remplacant sees the same practice", remote: "10.1.2.3:5000", card: "remplacant", wantBill: []string{"751000019"}},
		{name: "pharmacist sees the pharmacy", remote: "10.1.2.3:5000", card: "pharmacist", require: true, wantBill: []string{"751000027"}},
		{name: "untrusted CA", remote: "10.1.2.3:5000", card: "impostor", wantErr: ErrCertRefused},
		{name: "revoked", remote: "10.1.2.3:5000", card: "revoked", wantErr: ErrCertRefused},
		{name: "expired", remote: "10.1.2.3:5000", card: "expired", wantErr: ErrCertRefused},
		{name: "no billing number", remote: "10.1.2.3:5000", card: "doctor", directory: noBillings{}, wantErr: ErrNoBillings},
		{name: "listed operator", remote: "10.1.2.3:5000", card: "nurse", operators: []string{"0012800736"}, wantOp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			a.Operator = operatorAccess().Operator
			a.RequireClientCert = tc.require
			a.Operators = tc.operators
			if tc.directory != nil {
				a.Practices = tc.directory
			}
			r := httptest.NewRequest("GET", "/dashboard/", nil)
			r.RemoteAddr = tc.remote
			if tc.token != "" {
				r.Header.Set("Authorization", tc.token)
			}
			if tc.card != "" {
				r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cardCert(t, tc.card)}}
			}
			v, err := a.Viewer(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if v.Operator != tc.wantOp {
				t.Errorf("operator: got %v, want %v", v.Operator, tc.wantOp)
			}
			if !slices.Equal(v.Billings, tc.wantBill) {
				t.Errorf("billings: got %v, want %v", v.Billings, tc.wantBill)
			}
		})
	}
}

// testToken is the operator token of operatorAccess.
const testToken = "operator-test-token"

// operatorAccess takes "Authorization: Bearer <testToken>" as the
// operator token, as the gateway's gateway/operator guard does.
func operatorAccess() Access {
	return Access{Operator: func(r *http.Request) (bool, error) {
		switch r.Header.Get("Authorization") {
		case "":
			return false, nil
		case "Bearer " + testToken:
			return true, nil
		}
		return false, errors.New("wrong operator token")
	}}
}

type noBillings struct{}

func (noBillings) Billings(string) []string { return nil }

// TestExposedPractitionerSeesOwnSheets serves the dashboard over TLS with
// client certificates, as an exposed admin listener would, and checks that
// the doctor sees their own practice's pages and nothing else.
func TestExposedPractitionerSeesOwnSheets(t *testing.T) {
	a := fixtureAccess(t)
	a.RequireClientCert = true
	st := newFakeStore()
	st.add("751000019", "000000001", "cpam751", "REJ01")
	st.add("751000027", "000000002", "cpam751", "REJ02")
	d := newTestDashboard(t, Config{Store: st, Access: a})
	srv := httptest.NewUnstartedServer(d)
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	get := func(t *testing.T, card, path string) (int, string) {
		t.Helper()
		c := srv.Client()
		tr := c.Transport.(*http.Transport).Clone()
		if card != "" {
			cert := tlsCert(t, card)
			tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
			tr.TLSClientConfig.MaxVersion = tls.VersionTLS12
		}
		c = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, card, path string
		want             int
		contains         string
	}{
		{"no certificate", "", "/dashboard/", http.StatusUnauthorized, "client certificate required"},
		{"impostor", "impostor", "/dashboard/practices/751000019/rejects", http.StatusUnauthorized, "refused"},
		{"own rejects", "doctor", "/dashboard/practices/751000019/rejects", http.StatusOK, "000000001"},
		{"own rejects as CSV", "doctor", "/dashboard/practices/751000019/rejects?format=csv", http.StatusOK, "751000019,000000001,cpam751,REJ01"},
		{"own sheet", "doctor", "/dashboard/sheets/751000019/000000001", http.StatusOK, "REJ01"},
		{"another practice's rejects", "doctor", "/dashboard/practices/751000027/rejects", http.StatusForbidden, ErrNotYourSheets.Error()},
		{"another practice's sheet", "doctor", "/dashboard/sheets/751000027/000000002", http.StatusForbidden, ErrNotYourSheets.Error()},
		{"pipeline sends the practitioner home", "doctor", "/dashboard/", http.StatusSeeOther, ""},
		{"live figures are for operators", "doctor", "/dashboard/events", http.StatusForbidden, `data-code="OPERATOR_ONLY"`},
		{"insurer lots are for operators", "doctor", "/dashboard/insurers/cpam751", http.StatusSeeOther, ""},
		{"pharmacist sees the pharmacy", "pharmacist", "/dashboard/sheets/751000027/000000002", http.StatusOK, "REJ02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.card, tc.path)
			if code != tc.want {
				t.Fatalf("GET %s as %q: got %d, want %d\n%s", tc.path, tc.card, code, tc.want, body)
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("GET %s as %q: body lacks %q\n%s", tc.path, tc.card, tc.contains, body)
			}
		})
	}
}

func tlsCert(t *testing.T, card string) tls.Certificate {
	t.Helper()
	c, err := fixtures.ReadFile("pki/cards/" + card + "-auth.crt")
	if err != nil {
		t.Fatal(err)
	}
	k, err := fixtures.ReadFile("pki/cards/" + card + "-auth.key")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newTestDashboard(t *testing.T, cfg Config) *Dashboard {
	t.Helper()
	if cfg.Gatherer == nil {
		cfg.Gatherer = testRegistry(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestZeroAccessLetsNoOneIn: with the zero Access every page but the
// static files answers 401, loopback included.
func TestZeroAccessLetsNoOneIn(t *testing.T) {
	st := newFakeStore()
	st.add("751000019", "000000001", "cpam751", "REJ01")
	d := newTestDashboard(t, Config{Store: st})
	for _, path := range []string{"/", "/dashboard/", "/dashboard/snapshot", "/dashboard/events", "/dashboard/insurers/cpam751",
		"/dashboard/sheets/751000019/000000001", "/dashboard/practices/751000019/rejects", "/dashboard/practices/751000019/rejects?format=csv"} {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "127.0.0.1:4000"
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "REJ01") || !strings.Contains(w.Body.String(), `data-code="OPERATOR_REQUIRED"`) {
			t.Errorf("GET %s from loopback without credentials: %d, want 401 OPERATOR_REQUIRED and nothing shown", path, w.Code)
		}
	}
	if w := serve(t, d, "/dashboard/static/dashboard.css"); w.Code != http.StatusOK {
		t.Errorf("static files: %d", w.Code)
	}
}

// TestSignInPage: a request without credentials gets the sign-in page
// (e-CPS and the operator token's form); a wrong token is 401
// OPERATOR_TOKEN_INVALID; the token's operator sees the pipeline, "operator
// (token)" and a sign-out button.
func TestSignInPage(t *testing.T) {
	a := operatorAccess()
	a.SignIn, a.SignOut = "/auth/login", "/auth/logout"
	a.TokenSignIn, a.TokenSignOut = "/auth/operator", "/auth/operator/logout"
	d := newTestDashboard(t, Config{Store: newFakeStore(), Access: a})
	get := func(auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		return w
	}
	w := get("")
	body := w.Body.String()
	if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no credentials: %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	for _, want := range []string{`id="signin-panel"`, `action="/auth/operator" method="post"`, `name="token"`, `id="signin-ecps" href="/auth/login"`,
		`id="signin" href="/auth/login"`, "not signed in", `data-code="OPERATOR_REQUIRED"`} {
		if !strings.Contains(body, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	if w := get("Bearer nope"); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `data-code="OPERATOR_TOKEN_INVALID"`) {
		t.Errorf("wrong token: %d", w.Code)
	}
	w = get("Bearer " + testToken)
	body = w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "operator (token)") || !strings.Contains(body, `action="/auth/operator/logout"`) || strings.Contains(body, `id="signin-panel"`) {
		t.Errorf("the token's operator: %d\n%s", w.Code, body)
	}
}
