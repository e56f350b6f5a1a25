package oidcauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config of a relying party. The zero value of every optional field is
// the strict one.
type Config struct {
	Issuer       string // the provider's issuer URL (Pro Santé Connect: the realm's)
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back: the
	// absolute URL of the Callback handler ("…/auth/callback").
	RedirectURL string
	// Audience an access token's aud must name when it has one (default
	// ClientID). ID tokens always need ClientID in their aud.
	Audience string
	// AuthorizedParties are the client ids (azp) whose access tokens are
	// taken without an aud claim, as Pro Santé Connect issues them
	// (default: ClientID alone). A token without aud and with another azp
	// is refused.
	AuthorizedParties []string
	// DiscoveryPath is the discovery document's path under Issuer
	// (default "/.well-known/wallet-openid-configuration", Pro Santé
	// Connect's).
	DiscoveryPath string
	// Claim holding the national id (default "SubjectNameID").
	Claim string
	// Scopes asked (default "openid scope_all").
	Scopes []string
	// SessionKey signs the cookies (HMAC-SHA256, 32 bytes or more). Nil: a
	// random key (sessions end with the process).
	SessionKey []byte
	// SessionTTL is the session's lifetime (default 30 minutes).
	SessionTTL time.Duration
	// InsecureCookies drops the Secure attribute (plain HTTP served to a
	// browser that will not keep Secure cookies; never in production).
	InsecureCookies bool
	HTTPClient      *http.Client
	Now             func() time.Time
	Logger          *slog.Logger
}

// DiscoveryPath is where Pro Santé Connect publishes its discovery
// document under the realm's issuer URL.
const DiscoveryPath = "/.well-known/wallet-openid-configuration"

// ACRValues is the authentication level asked, and the least taken.
const ACRValues = "eidas1"

// Cookie names.
const (
	SessionCookie = "fsegate_session"
	flowCookie    = "fsegate_oidc_flow"
)

// RP is the relying party.
type RP struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider
	// ended are the sessions signed out before their expiry: digest of
	// the cookie value → its expiry (Unix seconds), forgotten after it.
	ended map[[32]byte]int64
}

// Errors of Bearer and Session. A refused bearer token is ErrTokenInvalid
// joined with the Error that says why (its Code).
var (
	ErrNoToken      = errors.New("no bearer token")
	ErrTokenInvalid = errors.New("bearer token refused")
	ErrNoSession    = errors.New("no session")
)

// New makes a relying party. The provider's discovery document is read on
// first use (a provider down at start does not stop the gateway).
func New(cfg Config) (*RP, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("oidcauth: issuer and client id are required")
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.ClientID
	}
	if len(cfg.AuthorizedParties) == 0 {
		cfg.AuthorizedParties = []string{cfg.ClientID}
	}
	if cfg.DiscoveryPath == "" {
		cfg.DiscoveryPath = DiscoveryPath
	}
	if cfg.Claim == "" {
		cfg.Claim = "SubjectNameID"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "scope_all"}
	}
	if cfg.SessionKey == nil {
		cfg.SessionKey = make([]byte, 32)
		if _, err := rand.Read(cfg.SessionKey); err != nil {
			return nil, err
		}
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("oidcauth: session key under 32 bytes")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &RP{cfg: cfg, log: cfg.Logger}, nil
}

func (rp *RP) ctx(ctx context.Context) context.Context {
	if rp.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, rp.cfg.HTTPClient)
	}
	return ctx
}

// Provider reads the discovery document (Issuer + DiscoveryPath) once
// (again after a failure). Its issuer must be Issuer exactly.
func (rp *RP) Provider(ctx context.Context) (*oidc.Provider, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.provider != nil {
		return rp.provider, nil
	}
	pc, err := rp.discover(ctx)
	if err != nil {
		return nil, refusal(CodeProvider, fmt.Errorf("discovery of %s: %w", rp.cfg.Issuer, err))
	}
	// The key set's fetches outlive this request: a background context.
	rp.provider = pc.NewProvider(rp.ctx(context.WithoutCancel(ctx)))
	return rp.provider, nil
}

func (rp *RP) discover(ctx context.Context) (*oidc.ProviderConfig, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	u := strings.TrimSuffix(rp.cfg.Issuer, "/") + rp.cfg.DiscoveryPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	c := rp.cfg.HTTPClient
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	var d struct {
		oidc.ProviderConfig
		Algorithms []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if d.IssuerURL != rp.cfg.Issuer {
		return nil, fmt.Errorf("%s names issuer %q, want %q", u, d.IssuerURL, rp.cfg.Issuer)
	}
	if d.AuthURL == "" || d.TokenURL == "" || d.JWKSURL == "" {
		return nil, fmt.Errorf("%s: no authorization, token or jwks endpoint", u)
	}
	d.ProviderConfig.Algorithms = d.Algorithms
	return &d.ProviderConfig, nil
}

func (rp *RP) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: rp.cfg.ClientID, ClientSecret: rp.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: rp.cfg.RedirectURL, Scopes: rp.cfg.Scopes}
}

// Uses of a token: what its typ must say.
const (
	useAccess = "Bearer"
	useID     = "ID"
)

// claims read after the signature.
type claims struct {
	Typ   string   `json:"typ"`
	Nonce string   `json:"nonce"`
	Azp   string   `json:"azp"`
	ACR   string   `json:"acr"`
	NBF   *float64 `json:"nbf"`
}

// clockSkew is what nbf may be ahead of the clock.
const clockSkew = time.Minute

// verify checks a token of the provider for a use: its RS256 signature
// with a published key, issuer, expiry, type, audience (an ID token's aud
// names ClientID; an access token's aud, when present, names Audience,
// and without aud its azp is one of AuthorizedParties) and acr.
func (rp *RP) verify(ctx context.Context, p *oidc.Provider, raw, use string) (*oidc.IDToken, *claims, error) {
	v := p.VerifierContext(rp.ctx(context.WithoutCancel(ctx)), &oidc.Config{
		SkipClientIDCheck: true, SkipExpiryCheck: true, SkipIssuerCheck: true, // checked below, each with its code
		SupportedSigningAlgs: []string{oidc.RS256},
	})
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, nil, refusal(CodeSignature, err)
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return nil, nil, refusal(CodeSignature, err)
	}
	now := rp.cfg.Now()
	switch {
	case tok.Issuer != rp.cfg.Issuer:
		return nil, nil, refusal(CodeIssuer, fmt.Errorf("token issued by a different provider: %q", tok.Issuer))
	case tok.Expiry.IsZero():
		return nil, nil, refusal(CodeExpired, errors.New("token without exp: never expired is refused"))
	case !now.Before(tok.Expiry):
		return nil, nil, refusal(CodeExpired, fmt.Errorf("token expired at %s", tok.Expiry.UTC().Format(time.RFC3339)))
	case c.NBF != nil && now.Add(clockSkew).Before(time.Unix(int64(*c.NBF), 0)):
		return nil, nil, refusal(CodeExpired, errors.New("token not valid yet (nbf)"))
	}
	switch {
	case use == useAccess && !strings.EqualFold(c.Typ, useAccess):
		return nil, nil, refusal(CodeTokenType, fmt.Errorf("token type %q, want Bearer", c.Typ))
	case use == useID && c.Typ != "" && !strings.EqualFold(c.Typ, useID):
		return nil, nil, refusal(CodeTokenType, fmt.Errorf("token type %q, want ID", c.Typ))
	}
	if err := rp.audience(tok, &c, use); err != nil {
		return nil, nil, err
	}
	if !acrAtLeast(c.ACR, ACRValues) {
		return nil, nil, refusal(CodeACR, fmt.Errorf("acr %q, want eidas1 or above", c.ACR))
	}
	return tok, &c, nil
}

func (rp *RP) audience(tok *oidc.IDToken, c *claims, use string) error {
	aud := tok.Audience
	switch {
	case use == useID && !slices.Contains(aud, rp.cfg.ClientID):
		return refusal(CodeAudience, fmt.Errorf("id token audience %q does not name the client %q", aud, rp.cfg.ClientID))
	case use == useID && len(aud) > 1 && c.Azp != rp.cfg.ClientID:
		return refusal(CodeAudience, fmt.Errorf("id token for several audiences with azp %q, want %q", c.Azp, rp.cfg.ClientID))
	case use == useAccess && len(aud) > 0 && !slices.Contains(aud, rp.cfg.Audience):
		return refusal(CodeAudience, fmt.Errorf("access token audience %q does not name %q", aud, rp.cfg.Audience))
	case use == useAccess && len(aud) == 0 && !slices.Contains(rp.cfg.AuthorizedParties, c.Azp):
		return refusal(CodeAudience, fmt.Errorf("access token without aud, and its azp %q is not a client of the gateway", c.Azp))
	}
	return nil
}

// acrAtLeast tells whether acr is an eIDAS level of Pro Santé Connect
// ("eidas1" < "eidas2" < "eidas3") at least min's.
func acrAtLeast(acr, min string) bool {
	level := func(s string) int {
		n, ok := strings.CutPrefix(s, "eidas")
		if !ok || len(n) != 1 || n[0] < '1' || n[0] > '3' {
			return 0
		}
		return int(n[0] - '0')
	}
	return level(acr) > 0 && level(acr) >= level(min)
}

// nationalID finds the professional's national id: the Claim
// (SubjectNameID) of the token, the id that ends a sub of the form
// "f:<uuid>:<national id>", else the Claim that userinfo answers for
// accessToken (whose sub must be the token's). Two sources that disagree
// refuse the token.
func (rp *RP) nationalID(ctx context.Context, p *oidc.Provider, tok *oidc.IDToken, accessToken string) (string, error) {
	var all map[string]any
	if err := tok.Claims(&all); err != nil {
		return "", refusal(CodeSignature, err)
	}
	claimed, _ := all[rp.cfg.Claim].(string)
	fromSub, subOK := SubjectNationalID(tok.Subject)
	switch {
	case claimed != "" && !validNationalID(claimed):
		return "", refusal(CodeNationalID, fmt.Errorf("claim %s %q is not a national id", rp.cfg.Claim, claimed))
	case claimed != "" && subOK && claimed != fromSub:
		return "", refusal(CodeNationalID, fmt.Errorf("claim %s %q and the national id of sub %q differ", rp.cfg.Claim, claimed, fromSub))
	case claimed != "":
		return claimed, nil
	case subOK:
		return fromSub, nil
	case accessToken == "" || p.UserInfoEndpoint() == "":
		return "", refusal(CodeNationalID, fmt.Errorf("no national id: no %s claim, sub not f:<uuid>:<national id>, no userinfo", rp.cfg.Claim))
	}
	ui, err := p.UserInfo(rp.ctx(ctx), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}))
	if err != nil {
		return "", refusal(CodeNationalID, fmt.Errorf("no national id: no %s claim, sub not f:<uuid>:<national id>, userinfo: %w", rp.cfg.Claim, err))
	}
	if ui.Subject != tok.Subject {
		return "", refusal(CodeNationalID, fmt.Errorf("userinfo is of subject %q, the token of %q", ui.Subject, tok.Subject))
	}
	var info map[string]any
	if err := ui.Claims(&info); err != nil {
		return "", refusal(CodeNationalID, err)
	}
	id, _ := info[rp.cfg.Claim].(string)
	if !validNationalID(id) {
		return "", refusal(CodeNationalID, fmt.Errorf("no national id: no %s claim in the token or userinfo (%q), sub not f:<uuid>:<national id>", rp.cfg.Claim, id))
	}
	return id, nil
}

// SubjectNationalID reads a Pro Santé Connect subject of the form
// "f:<uuid>:<national id>" (a user of the realm's federation).
func SubjectNationalID(sub string) (string, bool) {
	rest, ok := strings.CutPrefix(sub, "f:")
	if !ok {
		return "", false
	}
	uuid, id, ok := strings.Cut(rest, ":")
	if !ok || !validUUID(uuid) || !validNationalID(id) {
		return "", false
	}
	return id, true
}

// validNationalID: 1 to 32 ASCII letters and digits (IDNPS: "8"+RPPS,
// "0"+ADELI, …).
func validNationalID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// validUUID: 8-4-4-4-12 hexadecimal digits.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// VerifyAccessToken checks a bearer access token and returns the national
// id. The error, an *Error, says why (for the logs, not for the caller).
func (rp *RP) VerifyAccessToken(ctx context.Context, raw string) (string, error) {
	p, err := rp.Provider(ctx)
	if err != nil {
		return "", err
	}
	tok, _, err := rp.verify(ctx, p, raw, useAccess)
	if err != nil {
		return "", err
	}
	return rp.nationalID(ctx, p, tok, raw)
}

// Bearer reads "Authorization: Bearer …" of r: ErrNoToken when there is
// none, ErrTokenInvalid joined with the reason (an *Error, also logged)
// when it is refused.
func (rp *RP) Bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoToken
	}
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		rp.log.Info("bearer token refused", "code", CodeSignature, "reason", "Authorization is not 'Bearer <token>'", "remote", r.RemoteAddr)
		return "", errors.Join(ErrTokenInvalid, refusal(CodeSignature, errors.New("authorization is not 'Bearer <token>'")))
	}
	id, err := rp.VerifyAccessToken(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		rp.log.Info("bearer token refused", "code", CodeOf(err), "reason", err.Error(), "remote", r.RemoteAddr, "path", r.URL.Path)
		return "", errors.Join(ErrTokenInvalid, err)
	}
	return id, nil
}

// Routes registers the sign-in handlers under prefix (e.g. "/auth"):
// GET prefix/login, GET prefix/callback, POST prefix/logout.
func (rp *RP) Routes(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("GET "+prefix+"/login", rp.Login)
	mux.HandleFunc("GET "+prefix+"/callback", rp.Callback)
	mux.HandleFunc("POST "+prefix+"/logout", rp.Logout)
}

// flow is what the browser keeps between login and callback.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	Expires  int64  `json:"e"`
}

// Login sends the browser to the provider, asking for acr eidas1.
// ?return=/local/path is where it lands after the callback (anything but
// a local path: "/").
func (rp *RP) Login(w http.ResponseWriter, r *http.Request) {
	p, err := rp.Provider(r.Context())
	if err != nil {
		rp.log.Warn("e-CPS sign-in unavailable", "code", CodeOf(err), "err", err)
		http.Error(w, "Pro Santé Connect is not reachable ("+string(CodeProvider)+"); try again later", http.StatusBadGateway)
		return
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		Return: localPath(r.URL.Query().Get("return")), Expires: rp.cfg.Now().Add(10 * time.Minute).Unix()}
	b, _ := json.Marshal(f)
	http.SetCookie(w, rp.cookie(flowCookie, rp.seal("flow", b), 10*time.Minute))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, rp.oauth(p).AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce),
		oauth2.SetAuthURLParam("acr_values", ACRValues)), http.StatusFound)
}

// Callback ends the flow: state, code exchange with the PKCE verifier, id
// token (signature, issuer, audience = the client id, expiry, type, acr,
// nonce), the national id (the token, its sub, or userinfo), then the
// session. A refusal answers 401 (502 when the provider did not answer)
// with its code; the log says why.
func (rp *RP) Callback(w http.ResponseWriter, r *http.Request) {
	fail := func(err error, args ...any) {
		code := CodeOf(err)
		if code == "" {
			code = CodeSignIn
		}
		rp.log.Info("e-CPS sign-in refused", append([]any{"code", code, "reason", err.Error()}, args...)...)
		http.SetCookie(w, rp.cookie(flowCookie, "", -1))
		status := http.StatusUnauthorized
		if code == CodeProvider {
			status = http.StatusBadGateway
		}
		http.Error(w, "sign-in refused ("+string(code)+"); start again", status)
	}
	var f flow
	c, err := r.Cookie(flowCookie)
	if err != nil {
		fail(errors.New("no flow cookie"))
		return
	}
	b, ok := rp.open("flow", c.Value)
	if !ok || json.Unmarshal(b, &f) != nil {
		fail(errors.New("flow cookie not ours"))
		return
	}
	q := r.URL.Query()
	switch {
	case rp.cfg.Now().Unix() > f.Expires:
		fail(errors.New("flow expired"))
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1:
		fail(errors.New("state mismatch"))
		return
	case q.Get("error") != "":
		fail(errors.New("provider error"), "error", q.Get("error"), "description", q.Get("error_description"))
		return
	case q.Get("iss") != "" && q.Get("iss") != rp.cfg.Issuer:
		fail(refusal(CodeIssuer, errors.New("iss parameter of another issuer")))
		return
	}
	p, err := rp.Provider(r.Context())
	if err != nil {
		fail(err)
		return
	}
	tok, err := rp.oauth(p).Exchange(rp.ctx(r.Context()), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		fail(fmt.Errorf("code exchange: %w", err))
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		fail(errors.New("no id_token"))
		return
	}
	idt, cl, err := rp.verify(r.Context(), p, rawID, useID)
	if err != nil {
		fail(fmt.Errorf("id token: %w", err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(f.Nonce)) != 1 {
		fail(errors.New("nonce mismatch"))
		return
	}
	id, err := rp.nationalID(r.Context(), p, idt, tok.AccessToken)
	if err != nil {
		fail(err)
		return
	}
	rp.log.Info("e-CPS sign-in", "national_id", id)
	http.SetCookie(w, rp.cookie(flowCookie, "", -1))
	http.SetCookie(w, rp.NewSession(id))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, f.Return, http.StatusSeeOther)
}

// Logout ends the session (POST, so another site cannot sign the user
// out with a link).
func (rp *RP) Logout(w http.ResponseWriter, r *http.Request) {
	// The session ends here, not only in this browser: a copy of the
	// cookie kept elsewhere is refused from now on.
	if c, err := r.Cookie(SessionCookie); err == nil {
		if _, exp, ok := rp.session(c.Value); ok {
			rp.end(c.Value, exp)
		}
	}
	http.SetCookie(w, rp.cookie(SessionCookie, "", -1))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// end records a signed-out session until its expiry.
func (rp *RP) end(value string, exp int64) {
	now := rp.cfg.Now().Unix()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.ended == nil {
		rp.ended = map[[32]byte]int64{}
	}
	for k, e := range rp.ended {
		if e <= now {
			delete(rp.ended, k)
		}
	}
	rp.ended[sha256.Sum256([]byte(value))] = exp
}

func (rp *RP) isEnded(value string) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	_, ok := rp.ended[sha256.Sum256([]byte(value))]
	return ok
}

// NewSession is the session cookie of nationalID.
func (rp *RP) NewSession(nationalID string) *http.Cookie {
	exp := rp.cfg.Now().Add(rp.cfg.SessionTTL).Unix()
	// A random id per sign-in: signing out of one session ends that one
	// only.
	var sid [12]byte
	_, _ = rand.Read(sid[:])
	return rp.cookie(SessionCookie, rp.seal("session", fmt.Appendf(nil, "%s|%d|%x", nationalID, exp, sid)), rp.cfg.SessionTTL)
}

// Session is the national id of r's session cookie, if valid and not
// expired.
func (rp *RP) Session(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	id, _, ok := rp.session(c.Value)
	if !ok {
		rp.log.Info("session cookie refused", "reason", "bad signature, expired or signed out", "remote", r.RemoteAddr)
		return "", false
	}
	if rp.isEnded(c.Value) {
		rp.log.Info("session cookie refused", "reason", "signed out", "remote", r.RemoteAddr)
		return "", false
	}
	return id, true
}

// session opens a session cookie's value: its national id and expiry, if
// its seal holds and it has not expired.
func (rp *RP) session(value string) (id string, exp int64, ok bool) {
	b, ok := rp.open("session", value)
	if !ok {
		return "", 0, false
	}
	parts := strings.Split(string(b), "|")
	if len(parts) < 2 || parts[0] == "" {
		return "", 0, false
	}
	id = parts[0]
	if _, err := fmt.Sscan(parts[1], &exp); err != nil {
		return "", 0, false
	}
	if rp.cfg.Now().Unix() >= exp {
		return "", 0, false
	}
	return id, exp, true
}

func (rp *RP) cookie(name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: !rp.cfg.InsecureCookies,
		SameSite: http.SameSiteLaxMode}
	if ttl < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(ttl.Seconds())
	}
	return c
}

// seal is payload.mac (base64url), the MAC bound to the cookie's purpose.
func (rp *RP) seal(purpose string, payload []byte) string {
	return b64(payload) + "." + b64(rp.mac(purpose, payload))
}

func (rp *RP) open(purpose, v string) ([]byte, bool) {
	p, m, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, rp.mac(purpose, payload)) {
		return nil, false
	}
	return payload, true
}

func (rp *RP) mac(purpose string, payload []byte) []byte {
	h := hmac.New(sha256.New, rp.cfg.SessionKey)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)
}

// localPath is p when it is a path of this site, "/" otherwise. p must
// start with one "/" and hold only printable ASCII without space or
// backslash: browsers drop tabs and newlines from a URL and read "\" as
// "/", so "/\t/host" and "/\\host" would leave the site once the browser
// has read them. After parsing, it has no scheme, no user, no host, and its
// path does not start with "//" either ("/%2F/host").
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.User != nil || u.Host != "" || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return p
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return b64(b)
}
