package psc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// SignIn signs nationalID in at the mock provider of issuer as client, the
// way a browser does: the authorization code flow with PKCE S256, the
// mock's e-CPS page filled in with code (the card profile's PIN), the
// token endpoint; it returns the access token ('gateway psc-token'). It
// works with this package's mock only (the real Pro Santé Connect needs a
// browser and a real e-CPS).
func SignIn(ctx context.Context, issuer string, client Client, nationalID, code string) (string, error) {
	clientID, secret := client.ID, client.Secret
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	const redirect = "http://127.0.0.1:9/callback" // loopback: any port is allowed, never called
	state := rand.Text()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"openid scope_all"}, "state": {state}, "nonce": {rand.Text()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u string, form url.Values) (*http.Response, []byte, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, b, err
	}
	resp, page, err := do("GET", issuer+"/auth?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("the authorization page answered %s without the e-CPS form (not the mock provider?)", resp.Status)
	}
	resp, _, err = do("POST", issuer+"/auth/ecps", url.Values{"request": {string(m[1])}, "national_id": {nationalID}, "code": {code}})
	if err != nil {
		return "", err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != state {
		return "", fmt.Errorf("the e-CPS step refused %s (%s): unknown national id, wrong code, or a blocked user", nationalID, resp.Status)
	}
	resp, body, err := do("POST", issuer+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {redirect}, "client_id": {clientID}, "client_secret": {secret}, "code_verifier": {verifier}})
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		if tok.Error != "" {
			return "", fmt.Errorf("token endpoint: %s: %s", resp.Status, tok.Error)
		}
		return "", errors.New("token endpoint: " + resp.Status)
	}
	return tok.AccessToken, nil
}
