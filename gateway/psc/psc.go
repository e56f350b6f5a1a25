package psc

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// NationalIDClaim is the claim holding the national id (IDNPS), as in PSC:
// userinfo's, never the tokens'.
const NationalIDClaim = "SubjectNameID"

// DiscoveryPath is where Pro Santé Connect publishes its discovery
// document under the realm; the mock also answers the standard
// "/.well-known/openid-configuration".
const DiscoveryPath = "/.well-known/wallet-openid-configuration"

// User is a professional known to the provider.
type User struct {
	NationalID string // "8"+RPPS or "0"+ADELI
	GivenName  string
	FamilyName string
	Profession string // profession code (e.g. "10" médecin)
	Code       string // the 4-digit e-CPS code
}

// Client is a registered relying party.
type Client struct {
	ID     string
	Secret string // empty: a public client (PKCE only)
	// RedirectURIs are the allowed redirect URIs (exact match). Empty: any
	// http or https URI on a loopback host (development).
	RedirectURIs []string
}

// Config of a Provider.
type Config struct {
	// Issuer is the provider's base URL (no trailing slash). Start sets it
	// from the listener when empty.
	Issuer  string
	Users   []User   // who may sign in (at least one; ProfileUsers)
	Clients []Client // nil: DevClient
	// TokenTTL is the lifetime of id and access tokens (default 5 min).
	TokenTTL time.Duration
	// MaxTries wrong e-CPS codes block a user (default 3).
	MaxTries int
	// OpaqueSubjects gives each user a sub of its own that holds no
	// national id (a bare UUID): the national id is then only in
	// userinfo. Default: sub is "f:<uuid>:<national id>", as PSC's.
	OpaqueSubjects bool
	// Mutate, when set, changes the claims of every token the token
	// endpoint issues ("ID" or "Bearer") before it is signed: tests give
	// the relying party the shapes it must refuse.
	Mutate func(typ string, claims map[string]any)
	Now    func() time.Time
	Logger *slog.Logger
}

// DevClient is the gateway's client registration in development.
var DevClient = Client{ID: "fsegate-gateway", Secret: "fsegate-dev-secret"}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// Provider is the mock PSC. Its Handler serves every endpoint.
type Provider struct {
	cfg     Config
	log     *slog.Logger
	users   map[string]*User
	clients map[string]Client
	subs    map[string]*User // by sub
	subOf   map[string]string

	mu     sync.Mutex
	issuer string
	keys   []signingKey // keys[0] signs; older ones stay in the JWKS
	reqs   map[string]*authRequest
	codes  map[string]*grant
	tries  map[string]int
}

type authRequest struct {
	client, redirect, state, nonce, challenge, scope string
	expires                                          time.Time
}

type grant struct {
	req     *authRequest
	user    *User
	authAt  time.Time
	expires time.Time
}

// New makes a provider with one fresh RSA-2048 signing key.
func New(cfg Config) (*Provider, error) {
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = 5 * time.Minute
	}
	if cfg.MaxTries == 0 {
		cfg.MaxTries = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Users) == 0 {
		return nil, errors.New("psc: no users (Config.Users; in development fixtures/dev.PSCUsers)")
	}
	if cfg.Clients == nil {
		cfg.Clients = []Client{DevClient}
	}
	p := &Provider{cfg: cfg, log: cfg.Logger, issuer: strings.TrimSuffix(cfg.Issuer, "/"),
		users: map[string]*User{}, clients: map[string]Client{}, subs: map[string]*User{}, subOf: map[string]string{},
		reqs: map[string]*authRequest{}, codes: map[string]*grant{}, tries: map[string]int{}}
	federation := uuid() // one per realm, as a Keycloak federation's
	for i := range cfg.Users {
		u := &cfg.Users[i]
		p.users[u.NationalID] = u
		sub := "f:" + federation + ":" + u.NationalID
		if cfg.OpaqueSubjects {
			sub = uuid()
		}
		p.subs[sub], p.subOf[u.NationalID] = u, sub
	}
	for _, c := range cfg.Clients {
		p.clients[c.ID] = c
	}
	if err := p.Rotate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issuer
}

// SetIssuer sets the issuer URL (once the listener's address is known).
func (p *Provider) SetIssuer(iss string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.issuer = strings.TrimSuffix(iss, "/")
}

// Rotate generates a new signing key: tokens are signed with it from now
// on; the JWKS keeps the two previous keys so tokens already issued still
// verify.
func (p *Provider) Rotate() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append([]signingKey{{kid: randomString(9), key: k}}, p.keys...)
	if len(p.keys) > 3 {
		p.keys = p.keys[:3]
	}
	return nil
}

// KeyID is the kid of the current signing key.
func (p *Provider) KeyID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[0].kid
}

// Handler serves the provider's endpoints.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, p.discovery)
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /auth", p.authorize)
	mux.HandleFunc("POST /auth/ecps", p.ecps)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/auth",
		"token_endpoint":                        iss + "/token",
		"userinfo_endpoint":                     iss + "/userinfo",
		"jwks_uri":                              iss + "/jwks",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "scope_all"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"claims_supported":                      []string{"sub", "azp", NationalIDClaim, "preferred_username", "given_name", "family_name", "acr"},
		"acr_values_supported":                  []string{"eidas1"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	keys := make([]map[string]string, 0, len(p.keys))
	for _, k := range p.keys {
		keys = append(keys, JWK(k.kid, &k.key.PublicKey))
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// JWK is the JSON Web Key of an RSA public key for RS256.
func JWK(kid string, pub *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func (p *Provider) redirectAllowed(c Client, uri string) bool {
	if len(c.RedirectURIs) > 0 {
		for _, u := range c.RedirectURIs {
			if u == uri {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

// authorize checks the request and shows the e-CPS page.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, ok := p.clients[q.Get("client_id")]
	redirect := q.Get("redirect_uri")
	if !ok || !p.redirectAllowed(c, redirect) {
		// Never redirect to an unknown place.
		p.page(w, http.StatusBadRequest, pageData{Error: "Unknown application or redirect address."})
		return
	}
	back := func(e, desc string) {
		u, _ := url.Parse(redirect)
		v := u.Query()
		v.Set("error", e)
		v.Set("error_description", desc)
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		back("unsupported_response_type", "only the authorization code flow")
		return
	case !hasScope(q.Get("scope"), "openid"):
		back("invalid_scope", "scope openid is required")
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		back("invalid_request", "PKCE with S256 is required")
		return
	}
	id := randomString(24)
	p.mu.Lock()
	p.reqs[id] = &authRequest{client: c.ID, redirect: redirect, state: q.Get("state"), nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), scope: q.Get("scope"), expires: p.cfg.Now().Add(10 * time.Minute)}
	p.mu.Unlock()
	p.page(w, http.StatusOK, pageData{Request: id, Users: p.cfg.Users, Client: c.ID})
}

// ecps is the e-CPS step: the national id and the 4-digit code.
func (p *Provider) ecps(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.page(w, http.StatusBadRequest, pageData{Error: "Bad form."})
		return
	}
	id := r.PostForm.Get("request")
	nid := strings.TrimSpace(r.PostForm.Get("national_id"))
	code := r.PostForm.Get("code")
	now := p.cfg.Now()
	p.mu.Lock()
	req := p.reqs[id]
	if req == nil || now.After(req.expires) {
		p.mu.Unlock()
		p.page(w, http.StatusBadRequest, pageData{Error: "This sign-in request has expired; start again from the application."})
		return
	}
	u := p.users[nid]
	again := pageData{Request: id, Users: p.cfg.Users, Client: req.client, NationalID: nid}
	if u == nil {
		p.mu.Unlock()
		again.Error = "Unknown identifier."
		p.page(w, http.StatusUnauthorized, again)
		return
	}
	if p.tries[nid] >= p.cfg.MaxTries {
		p.mu.Unlock()
		p.log.Info("e-CPS refused: blocked", "national_id", nid)
		again.Error = "Your e-CPS is blocked after too many wrong codes."
		p.page(w, http.StatusForbidden, again)
		return
	}
	if len(code) != 4 || subtle.ConstantTimeCompare([]byte(code), []byte(u.Code)) != 1 {
		p.tries[nid]++
		left := p.cfg.MaxTries - p.tries[nid]
		p.mu.Unlock()
		p.log.Info("e-CPS refused: wrong code", "national_id", nid, "tries_left", left)
		again.Error = fmt.Sprintf("Wrong code: %d tries left.", left)
		p.page(w, http.StatusUnauthorized, again)
		return
	}
	delete(p.tries, nid)
	delete(p.reqs, id)
	code = randomString(24)
	p.codes[code] = &grant{req: req, user: u, authAt: now, expires: now.Add(time.Minute)}
	p.mu.Unlock()
	p.log.Info("e-CPS sign-in", "national_id", nid, "client", req.client)
	back, _ := url.Parse(req.redirect)
	v := back.Query()
	v.Set("code", code)
	if req.state != "" {
		v.Set("state", req.state)
	}
	v.Set("iss", p.Issuer())
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, e, desc string) {
	writeJSON(w, status, map[string]string{"error": e, "error_description": desc})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	clientID, secret, basic := r.BasicAuth()
	if basic {
		clientID, _ = url.QueryUnescape(clientID)
		secret, _ = url.QueryUnescape(secret)
	} else {
		clientID, secret = f.Get("client_id"), f.Get("client_secret")
	}
	c, ok := p.clients[clientID]
	if !ok || (c.Secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1) {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if f.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "authorization_code only")
		return
	}
	now := p.cfg.Now()
	p.mu.Lock()
	g := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code")) // single use, even when refused
	p.mu.Unlock()
	switch {
	case g == nil || now.After(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case g.req.client != c.ID || g.req.redirect != f.Get("redirect_uri"):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code issued to another client or redirect URI")
		return
	case !pkceOK(f.Get("code_verifier"), g.req.challenge):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verifier does not match")
		return
	}
	access, err := p.Sign(p.claims(g.user, c.ID, "Bearer", "", g.authAt, g.req.scope))
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	idt, err := p.Sign(p.claims(g.user, c.ID, "ID", g.req.nonce, g.authAt, ""))
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "id_token": idt, "token_type": "Bearer",
		"expires_in": int(p.cfg.TokenTTL.Seconds()), "scope": g.req.scope})
}

func pkceOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(b64(sum[:])), []byte(challenge)) == 1
}

// Subject is the sub of a user's tokens ("f:<uuid>:<national id>", or a
// bare UUID with OpaqueSubjects), "" for an unknown one.
func (p *Provider) Subject(nationalID string) string { return p.subOf[nationalID] }

// claims of a token for u, in the shape Pro Santé Connect gives them (one
// public sample, docs/ecps.md): the access token (typ "Bearer") has azp
// and no aud; the ID token (typ "ID", with the nonce) has aud and azp;
// neither carries SubjectNameID (userinfo does); sub is
// "f:<uuid>:<national id>"; acr "eidas1".
func (p *Provider) claims(u *User, client, typ, nonce string, authAt time.Time, scope string) map[string]any {
	now := p.cfg.Now()
	c := map[string]any{
		"iss": p.Issuer(), "sub": p.subOf[u.NationalID], "azp": client, "typ": typ,
		"iat": now.Unix(), "exp": now.Add(p.cfg.TokenTTL).Unix(), "auth_time": authAt.Unix(),
		"jti": randomString(12), "acr": "eidas1", "amr": []string{"ecps"},
		"preferred_username": u.NationalID, "given_name": u.GivenName, "family_name": u.FamilyName,
	}
	if typ == "ID" {
		c["aud"] = client
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	if scope != "" {
		c["scope"] = scope
	}
	if p.cfg.Mutate != nil {
		p.cfg.Mutate(typ, c)
	}
	return c
}

// Token mints a token of type typ ("ID" or "Bearer") for a known user and
// a client, as the token endpoint would, for tests.
func (p *Provider) Token(nationalID, client, typ string) (string, error) {
	u := p.users[nationalID]
	if u == nil {
		return "", errors.New("psc: unknown user")
	}
	return p.Sign(p.claims(u, client, typ, "", p.cfg.Now(), "openid"))
}

// Sign signs claims with the current key (RS256, its kid in the header).
func (p *Provider) Sign(claims map[string]any) (string, error) {
	p.mu.Lock()
	k := p.keys[0]
	p.mu.Unlock()
	return SignJWT(k.key, k.kid, claims)
}

// SignJWT makes an RS256 JWT of claims with key, naming kid in the header.
func SignJWT(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	in := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return in + "." + b64(sig), nil
}

// userinfo answers, for a valid access token of this provider, its
// subject's sub, SubjectNameID (the national id), preferred_username and
// names.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := p.verify(raw)
	sub, _ := claims["sub"].(string)
	u := p.subs[sub]
	if !ok || err != nil || claims["typ"] != "Bearer" || u == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sub": sub, NationalIDClaim: u.NationalID,
		"preferred_username": u.NationalID, "given_name": u.GivenName, "family_name": u.FamilyName})
}

// verify checks a token of this provider (signature with a published key,
// expiry): used by userinfo only.
func (p *Provider) verify(raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var h struct{ Kid string }
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return nil, errors.New("bad header")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("bad signature")
	}
	p.mu.Lock()
	var pub *rsa.PublicKey
	for _, k := range p.keys {
		if k.kid == h.Kid {
			pub = &k.key.PublicKey
		}
	}
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if pub == nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		return nil, errors.New("bad signature")
	}
	cb, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(cb, &c) != nil {
		return nil, errors.New("bad claims")
	}
	exp, _ := c["exp"].(float64)
	if c["iss"] != p.Issuer() || p.cfg.Now().Unix() >= int64(exp) {
		return nil, errors.New("expired or foreign")
	}
	return c, nil
}

func hasScope(scopes, s string) bool {
	for _, x := range strings.Fields(scopes) {
		if x == s {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// uuid is a random (version 4) UUID.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b64(b)
}
