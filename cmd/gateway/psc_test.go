package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/loadgen"
	"github.com/fsegate/fsegate/gateway/psc"
	"github.com/fsegate/fsegate/internal/cli"
)

const (
	doctorID  = "899700218896"
	doctorBil = "751000019"
	nurseID   = "0012800736"
	nurseBil  = "751000035"
)

// sendDoctorAndNurse sends n sheets signed by the doctor and the nurse
// (loadgen's pre-signed sheets over their card's mTLS) and follows them
// to their final states, so both billing numbers have sheets and notices.
func sendDoctorAndNurse(t *testing.T, ctx context.Context, m *Main, n int, follow bool) *loadgen.Corpus {
	t.Helper()
	all, err := dev.Practitioners(2)
	if err != nil {
		t.Fatal(err)
	}
	if all[0].Profile != "doctor" || all[1].Profile != "nurse" {
		t.Fatalf("loadgen profiles %s, %s: want doctor and nurse first", all[0].Profile, all[1].Profile)
	}
	corpus, err := loadgen.Prepare(ctx, all, devTariffs(t), n, 12, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadgen.Run(ctx, loadgen.Config{URL: "https://" + m.APIAddr(), Roots: fixtureRoots(t), Follow: follow, FollowFor: 2 * time.Minute}, all, corpus)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Receipted != n || (follow && rep.Final != n) {
		t.Fatalf("load: %d receipted, %d final; want %d and %d\n%s", rep.Receipted, rep.Final, n, n, rep)
	}
	return corpus
}

// ecpsToken signs in at the mock provider as an HTTP client would after
// the browser step: authorize (PKCE S256), the e-CPS page with the code,
// then the token endpoint. It returns the access token.
func ecpsToken(t *testing.T, issuer, nationalID, code string) string {
	t.Helper()
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	redirect := "http://127.0.0.1:9/callback"
	q := url.Values{"response_type": {"code"}, "client_id": {psc.DevClient.ID}, "redirect_uri": {redirect},
		"scope": {"openid scope_all"}, "state": {"st"}, "nonce": {"nn"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	loc := ecpsStep(t, issuer, issuer+"/auth?"+q.Encode(), nationalID, code)
	if loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("e-CPS step: Location %s", loc)
	}
	tr, err := http.PostForm(issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {redirect}, "client_id": {psc.DevClient.ID}, "client_secret": {psc.DevClient.Secret}, "code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := json.NewDecoder(tr.Body).Decode(&tok); err != nil || tr.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.IDToken == "" {
		t.Fatalf("token endpoint: %d %v", tr.StatusCode, err)
	}
	return tok.AccessToken
}

// ecpsStep opens the mock provider's authorization page at authURL, types
// the national id and the e-CPS code, and returns where the provider sends
// the browser back (the callback, with the code).
func ecpsStep(t *testing.T, issuer, authURL, nationalID, code string) *url.URL {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mreq := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || mreq == nil {
		t.Fatalf("authorize: %d %s", resp.StatusCode, page)
	}
	resp, err = noRedirect.PostForm(issuer+"/auth/ecps", url.Values{"request": {string(mreq[1])}, "national_id": {nationalID}, "code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("e-CPS step: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc
}

// bearerDo calls the intake API over TLS without a client certificate,
// with the token (if any), and returns the status and body.
func bearerDo(t *testing.T, m *Main, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: fixtureRoots(t)}}, Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://"+m.APIAddr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func problemCode(b []byte) string {
	var p struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &p) != nil || len(p.Errors) == 0 {
		return ""
	}
	return p.Errors[0].Code
}

// TestECPSBearerAPI: the read and notice endpoints accept a Pro Santé
// Connect access token (its national id is the caller, with the same
// billing numbers as the card); forged, expired, wrong-audience,
// wrong-issuer and id tokens are refused with a plain 401, the reason in
// the log only; writing needs the card.
func TestECPSBearerAPI(t *testing.T) {
	logs := &logBuffer{}
	m := startGatewayWith(t, func(m *Main) { m.Logger = slog.New(slog.NewTextHandler(logs, nil)) }, "--mock-insurers", "--lot-max-age", "1s")
	mock := m.PSC.Mock()
	if mock == nil || m.PSC.RP() == nil {
		t.Fatal("--dev did not start the mock Pro Santé Connect")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Not followed: the notices stay for the bearer to read.
	corpus := sendDoctorAndNurse(t, ctx, m, 6, false)

	tok := ecpsToken(t, mock.Issuer(), doctorID, "1234")
	status, body := bearerDo(t, m, "GET", "/v1/notices?billing="+doctorBil+"&wait=60s", tok, nil)
	var notices struct {
		Billing string `json:"billing"`
		Notices []struct {
			Seq uint64 `json:"seq"`
		} `json:"notices"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &notices) != nil || notices.Billing != doctorBil || len(notices.Notices) == 0 {
		t.Fatalf("notices with a bearer token: %d %s", status, body)
	}
	// One billing number: ?billing= may be left out, as with the card.
	if status, body := bearerDo(t, m, "GET", "/v1/notices", tok, nil); status != http.StatusOK {
		t.Errorf("notices without ?billing=: %d %s", status, body)
	}
	// The nurse's notices are not the doctor's.
	if status, body := bearerDo(t, m, "GET", "/v1/notices?billing="+nurseBil, tok, nil); status != http.StatusForbidden || problemCode(body) != "SENDER_MISMATCH" {
		t.Errorf("the nurse's notices with the doctor's token: %d %s, want 403 SENDER_MISMATCH", status, body)
	}
	// The practice's payments, the same way.
	if status, body := bearerDo(t, m, "GET", "/v1/payments", tok, nil); status != http.StatusOK || !strings.Contains(string(body), `"transfers":`) {
		t.Errorf("payments with a bearer token: %d %s", status, body)
	}
	if status, body := bearerDo(t, m, "GET", "/v1/payments?billing="+nurseBil, tok, nil); status != http.StatusForbidden || problemCode(body) != "SENDER_MISMATCH" {
		t.Errorf("the nurse's payments with the doctor's token: %d %s, want 403 SENDER_MISMATCH", status, body)
	}
	// A sheet's state: the doctor's yes, the nurse's no.
	for _, s := range corpus.Sheets {
		status, body := bearerDo(t, m, "GET", "/v1/sheets/"+s.Number+"?billing="+s.Billing, tok, nil)
		switch s.Billing {
		case doctorBil:
			if status != http.StatusOK {
				t.Errorf("doctor's sheet %s with the doctor's token: %d %s", s.Number, status, body)
			}
		default:
			if status != http.StatusForbidden {
				t.Errorf("%s's sheet %s with the doctor's token: %d %s, want 403", s.Billing, s.Number, status, body)
			}
		}
	}
	// Confirming notices.
	last := notices.Notices[len(notices.Notices)-1].Seq
	ack, _ := json.Marshal(map[string]any{"billing": doctorBil, "seq": last})
	if status, body := bearerDo(t, m, "POST", "/v1/notices/ack", tok, ack); status != http.StatusOK || !strings.Contains(string(body), fmt.Sprintf(`"cursor":%d`, last)) {
		t.Errorf("ack with a bearer token: %d %s", status, body)
	}

	// Tokens of the shape Pro Santé Connect issues (docs/ecps.md): no
	// aud, azp the gateway's client, sub "f:<uuid>:<national id>", acr
	// eidas1, no SubjectNameID (userinfo has it).
	claims := func(mod func(map[string]any)) map[string]any {
		now := time.Now()
		c := map[string]any{"iss": mock.Issuer(), "sub": mock.Subject(doctorID), "azp": psc.DevClient.ID, "typ": "Bearer",
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "acr": "eidas1", "preferred_username": doctorID}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(c map[string]any) string {
		s, err := mock.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if !strings.HasPrefix(mock.Subject(doctorID), "f:") || !strings.HasSuffix(mock.Subject(doctorID), ":"+doctorID) {
		t.Fatalf("the mock's subject %q is not f:<uuid>:<national id>", mock.Subject(doctorID))
	}
	for _, tc := range []struct{ name, token string }{
		{"as Pro Santé Connect issues it", sign(claims(nil))},
		{"acr eidas3, as in the sample", sign(claims(func(c map[string]any) { c["acr"] = "eidas3" }))},
		{"aud the client and SubjectNameID", sign(claims(func(c map[string]any) {
			c["aud"] = psc.DevClient.ID
			c["sub"] = "opaque"
			c[psc.NationalIDClaim] = doctorID
		}))},
	} {
		if status, body := bearerDo(t, m, "GET", "/v1/notices?billing="+doctorBil, tc.token, nil); status != http.StatusOK {
			t.Errorf("token %s: %d %s, want 200", tc.name, status, body)
		}
	}

	// Refused tokens: 401 BEARER_INVALID, the code and the reason in the log only.
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := psc.SignJWT(otherKey, mock.KeyID(), claims(nil))
	if err != nil {
		t.Fatal(err)
	}
	idToken, err := mock.Token(doctorID, psc.DevClient.ID, "ID")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sign(claims(nil)), ".")
	tamperedClaims, _ := json.Marshal(claims(func(c map[string]any) { c["sub"] = mock.Subject(nurseID) }))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedClaims) + "." + parts[2]
	refused := []struct {
		name, token, code, reason string
	}{
		{"forged (another key, same kid)", forged, "ECPS_SIGNATURE", "signature"},
		{"tampered claims", tampered, "ECPS_SIGNATURE", "signature"},
		{"expired", sign(claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), "ECPS_EXPIRED", "expired"},
		{"wrong audience", sign(claims(func(c map[string]any) { c["aud"] = "another-app" })), "ECPS_AUDIENCE", "audience"},
		{"no aud, azp another client", sign(claims(func(c map[string]any) { c["azp"] = "another-app" })), "ECPS_AUDIENCE", "azp"},
		{"no aud, no azp", sign(claims(func(c map[string]any) { delete(c, "azp") })), "ECPS_AUDIENCE", "azp"},
		{"wrong issuer", sign(claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), "ECPS_ISSUER", "different provider"},
		{"id token as bearer", idToken, "ECPS_TOKEN_TYPE", "token type"},
		{"no acr", sign(claims(func(c map[string]any) { delete(c, "acr") })), "ECPS_ACR", "acr"},
		{"acr below eidas1", sign(claims(func(c map[string]any) { c["acr"] = "eidas0" })), "ECPS_ACR", "eidas0"},
		{"no national id", sign(claims(func(c map[string]any) { c["sub"] = "opaque" })), "ECPS_NATIONAL_ID", "SubjectNameID"},
		{"sub and SubjectNameID disagree", sign(claims(func(c map[string]any) { c[psc.NationalIDClaim] = nurseID })), "ECPS_NATIONAL_ID", "differ"},
		{"not a JWT", "abc.def", "ECPS_SIGNATURE", "malformed"},
	}
	for _, tc := range refused {
		before := len(logs.String())
		status, body := bearerDo(t, m, "GET", "/v1/notices?billing="+doctorBil, tc.token, nil)
		if status != http.StatusUnauthorized || problemCode(body) != "BEARER_INVALID" {
			t.Errorf("%s: %d %s, want 401 BEARER_INVALID", tc.name, status, body)
		}
		if strings.Contains(strings.ToLower(string(body)), strings.ToLower(tc.reason)) || strings.Contains(string(body), tc.code) {
			t.Errorf("%s: the answer tells the reason (%q, %s): %s", tc.name, tc.reason, tc.code, body)
		}
		logged := logs.String()[before:]
		if !strings.Contains(logged, "bearer token refused") || !strings.Contains(logged, "code="+tc.code) || !strings.Contains(strings.ToLower(logged), strings.ToLower(tc.reason)) {
			t.Errorf("%s: the log does not say why (want code=%s and %q): %s", tc.name, tc.code, tc.reason, logged)
		}
	}

	// Writing needs the card: a token alone is refused, 401 CLIENT_CERT_REQUIRED.
	for _, path := range []string{"/v1/sheets", "/v1/batches", "/v1/prescriptions"} {
		status, body := bearerDo(t, m, "POST", path, tok, corpus.Sheets[0].Signed)
		if status != http.StatusUnauthorized || problemCode(body) != "CLIENT_CERT_REQUIRED" {
			t.Errorf("POST %s with only a token: %d %s, want 401 CLIENT_CERT_REQUIRED", path, status, body)
		}
	}
	// And nothing at all on a read endpoint is still CLIENT_CERT_REQUIRED.
	if status, body := bearerDo(t, m, "GET", "/v1/notices", "", nil); status != http.StatusUnauthorized || problemCode(body) != "CLIENT_CERT_REQUIRED" {
		t.Errorf("notices with nothing: %d %s", status, body)
	}
	// The card path is as before.
	if _, err := newClient(t, m, "doctor").Notices(ctx, doctorBil, 0); err != nil {
		t.Errorf("notices with the card: %v", err)
	}

	// Key rotation: a token signed with the new key is taken (the gateway
	// fetches the JWKS again on an unknown kid), the old one still too.
	if err := mock.Rotate(); err != nil {
		t.Fatal(err)
	}
	tok2 := ecpsToken(t, mock.Issuer(), doctorID, "1234")
	for name, tk := range map[string]string{"after rotation": tok2, "issued before rotation": tok} {
		if status, body := bearerDo(t, m, "GET", "/v1/notices", tk, nil); status != http.StatusOK {
			t.Errorf("token %s: %d %s", name, status, body)
		}
	}
}

// TestECPSBrowserSignIn: in headless Chromium, the dashboard's "Sign in
// with e-CPS" goes through the mock Pro Santé Connect, the e-CPS code is
// typed, and the browser lands back signed in as the doctor, who sees
// their own sheets and not the nurse's.
func TestECPSBrowserSignIn(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("no Chromium at %s (%v): 'make deps' installs it (Debian package chromium)", chromiumPath, err)
	}
	m := startGateway(t, "--mock-insurers", "--lot-max-age", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	corpus := sendDoctorAndNurse(t, ctx, m, 6, true)
	var doctorSheet, nurseSheet string
	for _, s := range corpus.Sheets {
		switch {
		case s.Billing == doctorBil && doctorSheet == "":
			doctorSheet = s.Number
		case s.Billing == nurseBil && nurseSheet == "":
			nurseSheet = s.Number
		}
	}
	if doctorSheet == "" || nurseSheet == "" {
		t.Fatal("the corpus has no sheet of the doctor or of the nurse")
	}
	admin := "http://" + m.AdminAddr()

	bctx := browser(t)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		actx, acancel := context.WithTimeout(bctx, 30*time.Second)
		defer acancel()
		if err := chromedp.Do(actx, steps...); err != nil {
			loc, _ := chromedp.Run(bctx, chromedp.Location())
			body, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v (at %s: %.300q)", what, err, loc, body)
		}
	}
	do("open the dashboard and follow 'Sign in with e-CPS'",
		chromedp.Navigate(admin+"/"),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#code")),
	)
	if loc := cdpGet(t, bctx, chromedp.Location()); !strings.HasPrefix(loc, m.PSC.Mock().Issuer()+"/auth?") {
		t.Fatalf("sign-in went to %s, want the mock provider's authorization endpoint", loc)
	}
	do("a wrong code first",
		chromedp.SendKeys(chromedp.CSS("#national_id"), doctorID),
		chromedp.SendKeys(chromedp.CSS("#code"), "9999"),
		chromedp.Click(chromedp.CSS("#ecps-submit")),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	)
	do("type the e-CPS code",
		chromedp.SendKeys(chromedp.CSS("#code"), "1234"),
		chromedp.Click(chromedp.CSS("#ecps-submit")),
		chromedp.WaitVisible(chromedp.CSS("#signout")),
	)
	who := cdpGet(t, bctx, chromedp.Text(chromedp.CSS("#who")))
	if !strings.Contains(who, doctorID) || !strings.Contains(who, "e-CPS") {
		t.Errorf("signed in as %q, want the doctor %s (e-CPS)", who, doctorID)
	}
	// A practitioner lands on their own rejects page, not the pipeline.
	if loc := cdpGet(t, bctx, chromedp.Location()); !strings.HasPrefix(loc, admin+"/dashboard/practices/"+doctorBil+"/rejects") {
		t.Errorf("landed on %s, want the doctor's rejects page", loc)
	}
	if nav := cdpGet(t, bctx, chromedp.Text(chromedp.CSS("header nav"))); !strings.Contains(nav, doctorBil) || strings.Contains(nav, nurseBil) || strings.Contains(nav, "Pipeline") {
		t.Errorf("navigation %q: want only the doctor's billing number", nav)
	}
	// The session cookie is HttpOnly: not readable by scripts.
	if c := cdpGet(t, bctx, chromedp.Evaluate[string](`document.cookie`)); strings.Contains(c, "fsegate_session") {
		t.Errorf("the session cookie is readable from JavaScript: %q", c)
	}

	// The doctor's sheet: shown. The nurse's sheet and rejects, the
	// insurers' lots and the pipeline snapshot: refused.
	do("the doctor's sheet", chromedp.Navigate(fmt.Sprintf("%s/dashboard/sheets/%s/%s", admin, doctorBil, doctorSheet)))
	state := cdpGet(t, bctx, chromedp.AttributeValue(chromedp.CSS("#sheet-state"), "data-state"))
	st, err := m.Queue().Status(ctx, doctorBil, doctorSheet)
	if err != nil {
		t.Fatal(err)
	}
	if state.Value != string(st.State) {
		t.Errorf("doctor's sheet: shown %q, queue says %q", state.Value, st.State)
	}
	for _, path := range []string{
		fmt.Sprintf("/dashboard/sheets/%s/%s", nurseBil, nurseSheet),
		"/dashboard/practices/" + nurseBil + "/rejects",
		"/dashboard/practices/" + nurseBil + "/rejects?format=csv",
		"/dashboard/snapshot",
	} {
		resp := cdpGet(t, bctx, chromedp.NavigateResponse(admin+path))
		body := cdpGet(t, bctx, chromedp.Evaluate[string](`document.body.innerText`))
		if resp.Status != http.StatusForbidden || strings.Contains(body, nurseSheet) {
			t.Errorf("%s as the doctor: status %d, page %q; want 403 and nothing of the nurse", path, resp.Status, body)
		}
	}

	// The pages of operators send a practitioner to their own rejects.
	do("an insurer's lots", chromedp.Navigate(admin+"/dashboard/insurers/cpam751"))
	if loc := cdpGet(t, bctx, chromedp.Location()); !strings.HasPrefix(loc, admin+"/dashboard/practices/"+doctorBil+"/rejects") {
		t.Errorf("an insurer's lots as the doctor: at %s, want the doctor's rejects page", loc)
	}

	// Sign out: back to the sign-in page (being on loopback is no
	// credential), the session gone.
	do("sign out",
		chromedp.Navigate(admin+"/dashboard/practices/"+doctorBil+"/rejects"),
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#signin-panel")),
	)
	if who := cdpGet(t, bctx, chromedp.Text(chromedp.CSS("#who"))); strings.Contains(who, doctorID) || !strings.Contains(who, "not signed in") {
		t.Errorf("after sign-out: %q, want not signed in", who)
	}
}

// cdpGet runs one browser action that gives a value.
func cdpGet[T any](t *testing.T, bctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// TestECPSSignInReturnStaysLocal: after an e-CPS sign-in whose ?return=
// names another site in a form the browser reads as one ("/\t/host",
// "//host", "/\host", "https://host"), headless Chromium stays on the
// gateway's origin. attacker.example is a test server of its own
// (host-resolver-rules), which must see no request.
func TestECPSSignInReturnStaysLocal(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("no Chromium at %s (%v): 'make deps' installs it (Debian package chromium)", chromiumPath, err)
	}
	var hits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/favicon.ico" { // fetched after a page, at its own pace
			hits.Add(1)
		}
		io.WriteString(w, `<!doctype html><h1 id="attacker">attacker.example</h1>`)
	}))
	t.Cleanup(attacker.Close)
	m := startGateway(t)
	admin := "http://" + m.AdminAddr()
	bctx := browserWith(t, chromedp.Flag("host-resolver-rules", "MAP attacker.example "+attacker.Listener.Addr().String()))

	// The browser reaches the test server by that name (the check below
	// would prove nothing otherwise).
	if _, err := chromedp.Run(bctx, chromedp.NavigateResponse("http://attacker.example/probe")); err != nil || hits.Load() != 1 {
		t.Fatalf("the browser does not reach attacker.example: %v, %d hits", err, hits.Load())
	}
	hits.Store(0)

	signIn := func(t *testing.T, query string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		err := chromedp.Do(ctx,
			chromedp.Navigate(admin+"/auth/login?return="+query),
			chromedp.WaitVisible(chromedp.CSS("#code")),
			chromedp.SendKeys(chromedp.CSS("#national_id"), doctorID),
			chromedp.SendKeys(chromedp.CSS("#code"), "1234"),
			chromedp.Click(chromedp.CSS("#ecps-submit")),
		)
		// The browser leaves the provider and the callback for where the
		// callback sends it; evaluations during a navigation fail and are
		// tried again.
		landed := fmt.Sprintf(`document.readyState === "complete" && location.host !== %q && location.pathname !== "/auth/callback"`, m.PSC.Mock().Addr())
		for err == nil {
			done, perr := chromedp.Run(ctx, chromedp.Evaluate[bool](landed))
			if perr == nil && done {
				break
			}
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			t.Fatalf("sign-in with return=%s: %v (at %s)", query, err, loc)
		}
		return loc
	}
	for _, query := range []string{
		"/%09/attacker.example",
		"/%0A/attacker.example",
		"/%0D%0A/attacker.example",
		"//attacker.example",
		"/%5Cattacker.example",
		`/\attacker.example`,
		"https://attacker.example",
		"http://attacker.example/",
		"/%2F/attacker.example",
	} {
		t.Run(query, func(t *testing.T) {
			loc := signIn(t, query)
			u, err := url.Parse(loc)
			if err != nil || u.Scheme != "http" || u.Host != m.AdminAddr() {
				t.Errorf("after sign-in with return=%s the browser is at %s, want the gateway's origin %s", query, loc, admin)
			}
			if n := hits.Swap(0); n != 0 {
				t.Errorf("return=%s: attacker.example was reached %d times", query, n)
			}
		})
	}
	// A path of the gateway is where the browser lands.
	own := "/dashboard/practices/" + doctorBil + "/rejects?format=html"
	if loc := signIn(t, url.QueryEscape(own)); loc != admin+own {
		t.Errorf("return=%s: landed at %s, want %s", own, loc, admin+own)
	}
}

// TestPSCTokenCommand: 'gateway psc-token' gets a development bearer token
// from the --dev gateway's mock provider, and the intake API takes it
// (#22: how to get one was only in the source).
func TestPSCTokenCommand(t *testing.T) {
	m := startGateway(t)
	mock := m.PSC.Mock()
	if mock == nil {
		t.Fatal("--dev did not start the mock Pro Santé Connect")
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := program.Main(context.Background(), args, &cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		return code, out.String(), errb.String()
	}
	code, out, stderr := run("psc-token", "--issuer", mock.Issuer())
	tok := strings.TrimSpace(out)
	if code != 0 || tok == "" {
		t.Fatalf("psc-token: exit %d: %s%s", code, out, stderr)
	}
	if status, body := bearerDo(t, m, "GET", "/v1/notices", tok, nil); status != http.StatusOK {
		t.Errorf("notices with the token of psc-token: %d %s", status, body)
	}
	// A wrong e-CPS code: refused, said so.
	codeFile := filepath.Join(t.TempDir(), "code")
	if err := os.WriteFile(codeFile, []byte("0000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run("psc-token", "--issuer", mock.Issuer(), "--code-file", codeFile)
	if code != 1 || out != "" || !strings.Contains(stderr, "e-CPS step refused 899700218896") {
		t.Errorf("a wrong code: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if code, _, stderr := run("psc-token"); code != 2 || !strings.Contains(stderr, "needs --issuer") {
		t.Errorf("no issuer: exit %d %q", code, stderr)
	}
}
