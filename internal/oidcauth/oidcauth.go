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
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config of a relying party.
type Config struct {
	Issuer       string // the provider's issuer URL
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back: the
	// absolute URL of the Callback handler ("…/auth/callback").
	RedirectURL string
	// Audience bearer tokens must name (default ClientID).
	Audience string
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
}

// Errors of Bearer and Session.
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

// Provider reads the discovery document once (again after a failure).
func (rp *RP) Provider(ctx context.Context) (*oidc.Provider, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.provider != nil {
		return rp.provider, nil
	}
	// The key set's fetches outlive this request: a background context.
	p, err := oidc.NewProvider(rp.ctx(context.WithoutCancel(ctx)), rp.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidcauth: discovery of %s: %w", rp.cfg.Issuer, err)
	}
	rp.provider = p
	return p, nil
}

func (rp *RP) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: rp.cfg.ClientID, ClientSecret: rp.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: rp.cfg.RedirectURL, Scopes: rp.cfg.Scopes}
}

// claims checked after the signature, issuer, audience and expiry.
type claims struct {
	Typ   string `json:"typ"`
	Nonce string `json:"nonce"`
}

func (rp *RP) nationalID(tok *oidc.IDToken) (string, error) {
	var all map[string]any
	if err := tok.Claims(&all); err != nil {
		return "", err
	}
	id, _ := all[rp.cfg.Claim].(string)
	if id == "" {
		return "", fmt.Errorf("no %s claim", rp.cfg.Claim)
	}
	return id, nil
}

// VerifyAccessToken checks a bearer access token and returns the national
// id. The error says why (for the logs, not for the caller).
func (rp *RP) VerifyAccessToken(ctx context.Context, raw string) (string, error) {
	p, err := rp.Provider(ctx)
	if err != nil {
		return "", err
	}
	v := p.VerifierContext(rp.ctx(context.WithoutCancel(ctx)), &oidc.Config{ClientID: rp.cfg.Audience, Now: rp.cfg.Now, SupportedSigningAlgs: []string{oidc.RS256}})
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return "", err
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return "", err
	}
	if !strings.EqualFold(c.Typ, "Bearer") {
		return "", fmt.Errorf("token type %q, want Bearer", c.Typ)
	}
	return rp.nationalID(tok)
}

// Bearer reads "Authorization: Bearer …" of r: ErrNoToken when there is
// none, ErrTokenInvalid (the reason logged) when it is refused.
func (rp *RP) Bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoToken
	}
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		rp.log.Info("bearer token refused", "reason", "Authorization is not 'Bearer <token>'", "remote", r.RemoteAddr)
		return "", ErrTokenInvalid
	}
	id, err := rp.VerifyAccessToken(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		rp.log.Info("bearer token refused", "reason", err.Error(), "remote", r.RemoteAddr, "path", r.URL.Path)
		return "", ErrTokenInvalid
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

// Login sends the browser to the provider. ?return=/local/path is where
// it lands after the callback.
func (rp *RP) Login(w http.ResponseWriter, r *http.Request) {
	p, err := rp.Provider(r.Context())
	if err != nil {
		rp.log.Warn("e-CPS sign-in unavailable", "err", err)
		http.Error(w, "Pro Santé Connect is not reachable; try again later", http.StatusBadGateway)
		return
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		Return: localPath(r.URL.Query().Get("return")), Expires: rp.cfg.Now().Add(10 * time.Minute).Unix()}
	b, _ := json.Marshal(f)
	http.SetCookie(w, rp.cookie(flowCookie, rp.seal("flow", b), 10*time.Minute))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, rp.oauth(p).AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), http.StatusFound)
}

// Callback ends the flow: state, code exchange with the PKCE verifier, id
// token (signature, issuer, audience, expiry, nonce), then the session.
func (rp *RP) Callback(w http.ResponseWriter, r *http.Request) {
	fail := func(reason string, args ...any) {
		rp.log.Info("e-CPS sign-in refused", append([]any{"reason", reason}, args...)...)
		http.SetCookie(w, rp.cookie(flowCookie, "", -1))
		http.Error(w, "sign-in failed; start again", http.StatusUnauthorized)
	}
	var f flow
	c, err := r.Cookie(flowCookie)
	if err != nil {
		fail("no flow cookie")
		return
	}
	b, ok := rp.open("flow", c.Value)
	if !ok || json.Unmarshal(b, &f) != nil {
		fail("flow cookie not ours")
		return
	}
	q := r.URL.Query()
	switch {
	case rp.cfg.Now().Unix() > f.Expires:
		fail("flow expired")
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1:
		fail("state mismatch")
		return
	case q.Get("error") != "":
		fail("provider error", "error", q.Get("error"), "description", q.Get("error_description"))
		return
	case q.Get("iss") != "" && q.Get("iss") != rp.cfg.Issuer:
		fail("iss parameter of another issuer")
		return
	}
	p, err := rp.Provider(r.Context())
	if err != nil {
		fail(err.Error())
		return
	}
	tok, err := rp.oauth(p).Exchange(rp.ctx(r.Context()), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		fail("code exchange: " + err.Error())
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		fail("no id_token")
		return
	}
	v := p.VerifierContext(rp.ctx(context.WithoutCancel(r.Context())), &oidc.Config{ClientID: rp.cfg.ClientID, Now: rp.cfg.Now, SupportedSigningAlgs: []string{oidc.RS256}})
	idt, err := v.Verify(r.Context(), rawID)
	if err != nil {
		fail("id token: " + err.Error())
		return
	}
	var cl claims
	if err := idt.Claims(&cl); err != nil || subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(f.Nonce)) != 1 {
		fail("nonce mismatch")
		return
	}
	if cl.Typ != "" && !strings.EqualFold(cl.Typ, "ID") {
		fail("token type " + cl.Typ + ", want ID")
		return
	}
	id, err := rp.nationalID(idt)
	if err != nil {
		fail(err.Error())
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
	http.SetCookie(w, rp.cookie(SessionCookie, "", -1))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// NewSession is the session cookie of nationalID.
func (rp *RP) NewSession(nationalID string) *http.Cookie {
	exp := rp.cfg.Now().Add(rp.cfg.SessionTTL).Unix()
	return rp.cookie(SessionCookie, rp.seal("session", fmt.Appendf(nil, "%s|%d", nationalID, exp)), rp.cfg.SessionTTL)
}

// Session is the national id of r's session cookie, if valid and not
// expired.
func (rp *RP) Session(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	b, ok := rp.open("session", c.Value)
	if !ok {
		rp.log.Info("session cookie refused", "reason", "bad signature", "remote", r.RemoteAddr)
		return "", false
	}
	id, exp, ok := strings.Cut(string(b), "|")
	var e int64
	if _, err := fmt.Sscan(exp, &e); !ok || err != nil || id == "" {
		return "", false
	}
	if rp.cfg.Now().Unix() >= e {
		return "", false
	}
	return id, true
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
