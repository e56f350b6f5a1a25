package operator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsegate/fsegate/problem"
)

// The codes of the refusals, declared once; Codes lists them.
const (
	CodeHostRefused  problem.Code = "ADMIN_HOST_REFUSED"
	CodeCrossOrigin  problem.Code = "ADMIN_ORIGIN_REFUSED"
	CodeTokenInvalid problem.Code = "OPERATOR_TOKEN_INVALID"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeHostRefused, Title: "the Host header names no host of the admin listener"},
		{Code: CodeCrossOrigin, Title: "a state-changing request to the admin listener from another site"},
		{Code: CodeTokenInvalid, Title: "the operator token given is not the gateway's"},
	}
}

// Error is a refusal with its documented code. It is kept apart from
// problem.Error, the coded sentinel, for Refuse's signature: a guard
// refuses with one of the three below and nothing else.
type Error struct {
	Code problem.Code
	msg  string
}

func (e *Error) Error() string { return e.msg }

// ErrorCode is the refusal's code (problem.CodeOf).
func (e *Error) ErrorCode() problem.Code { return e.Code }

// The refusals.
var (
	ErrHostRefused  = &Error{CodeHostRefused, "the Host header names no host of the admin listener"}
	ErrCrossOrigin  = &Error{CodeCrossOrigin, "a state-changing request from another origin"}
	ErrTokenInvalid = &Error{CodeTokenInvalid, "wrong operator token"}
)

// CookieName is the cookie of a browser signed in with the operator token.
const CookieName = "fsegate_operator"

// Guard guards a listener. Its zero value refuses every request.
type Guard struct {
	// Hosts the Host header may name: a name or an address ("localhost",
	// "127.0.0.1", "::1"), any port; or with a port ("gw.example:8080",
	// "[::1]:8080"), that port only. Names compare without case and
	// without a final dot. Empty: every request is refused.
	Hosts []string
	// Token is the operator token. Empty: no token is ever taken.
	Token string
	// SessionTTL is the lifetime of the cookie SignIn sets (default 12 h).
	SessionTTL time.Duration
	// InsecureCookies drops the cookie's Secure attribute (never in
	// production; browsers keep Secure cookies from http://127.0.0.1).
	InsecureCookies bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Refuse answers a refused request; err is ErrHostRefused,
	// ErrCrossOrigin or ErrTokenInvalid. Nil: the connection gets an empty
	// answer with the status of a bad request.
	Refuse func(w http.ResponseWriter, r *http.Request, err *Error)

	mu        sync.Mutex
	key       []byte           // the cookies' MAC key, drawn on first use
	signedOut map[string]int64 // session ids signed out, until their expiry
}

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, err *Error) {
	if g.Refuse != nil {
		g.Refuse(w, r, err)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
}

// Handler checks the Host of every request, and the origin of every
// state-changing one, before next.
func (g *Guard) Handler(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.HostAllowed(r.Host) {
			g.refuse(w, r, ErrHostRefused)
			return
		}
		if cop.Check(r) != nil {
			g.refuse(w, r, ErrCrossOrigin)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HostAllowed tells whether a Host header value names one of g.Hosts.
func (g *Guard) HostAllowed(hostport string) bool {
	host, port := splitHost(hostport)
	if host == "" {
		return false
	}
	for _, a := range g.Hosts {
		h, p := splitHost(a)
		if h == host && (p == "" || p == port) {
			return true
		}
	}
	return false
}

// splitHost splits "host", "host:port", "[v6]", "[v6]:port" or a bare
// IPv6 address, lowercasing the host and dropping a final dot.
func splitHost(s string) (host, port string) {
	switch {
	case strings.HasPrefix(s, "["):
		if h, p, err := net.SplitHostPort(s); err == nil {
			host, port = h, p
		} else {
			host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = net.SplitHostPort(s)
	default:
		host = s
	}
	return strings.TrimSuffix(strings.ToLower(host), "."), port
}

// Operator tells whether r carries the operator token: true for the right
// bearer token or a valid sign-in cookie; false and ErrTokenInvalid for a
// wrong bearer token; false and nil when it carries neither (an expired
// or foreign cookie included).
func (g *Guard) Operator(r *http.Request) (bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || g.Token == "" ||
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(g.Token)) != 1 {
			return false, ErrTokenInvalid
		}
		return true, nil
	}
	c, err := r.Cookie(CookieName)
	return err == nil && g.cookieValid(c.Value), nil
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Guard) ttl() time.Duration {
	if g.SessionTTL > 0 {
		return g.SessionTTL
	}
	return 12 * time.Hour
}

// cookieValue is "<expiry>.<id>.<mac>": a random id per sign-in, the MAC
// keyed with a key drawn for this process (a restart, which a new token
// needs, ends every session).
func (g *Guard) cookieValue(exp int64) string {
	var id [16]byte
	_, _ = rand.Read(id[:])
	v := strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(id[:])
	return v + "." + base64.RawURLEncoding.EncodeToString(g.mac(v))
}

func (g *Guard) mac(v string) []byte {
	g.mu.Lock()
	if g.key == nil {
		g.key = make([]byte, 32)
		_, _ = rand.Read(g.key)
	}
	key := g.key
	g.mu.Unlock()
	h := hmac.New(sha256.New, key)
	h.Write([]byte("fsegate operator session\x00"))
	h.Write([]byte(v))
	return h.Sum(nil)
}

// session reads a cookie value: its id and expiry when it is ours, not
// expired and not signed out.
func (g *Guard) session(v string) (id string, exp int64, ok bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 || g.Token == "" {
		return "", 0, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(v[i+1:])
	if err != nil || !hmac.Equal(mac, g.mac(v[:i])) {
		return "", 0, false
	}
	e, id, _ := strings.Cut(v[:i], ".")
	exp, err = strconv.ParseInt(e, 10, 64)
	if err != nil || g.now().Unix() >= exp {
		return "", 0, false
	}
	g.mu.Lock()
	_, out := g.signedOut[id]
	g.mu.Unlock()
	return id, exp, !out
}

func (g *Guard) cookieValid(v string) bool {
	_, _, ok := g.session(v)
	return ok
}

func (g *Guard) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: !g.InsecureCookies, SameSite: http.SameSiteStrictMode}
}

// SignIn is the POST of the sign-in form: the form's "token" field is the
// operator token. Right, it sets the session cookie and sends the browser
// to "/"; wrong, ErrTokenInvalid goes to Refuse.
func (g *Guard) SignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if g.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(g.Token)) != 1 {
		g.refuse(w, r, ErrTokenInvalid)
		return
	}
	ttl := g.ttl()
	http.SetCookie(w, g.cookie(g.cookieValue(g.now().Add(ttl).Unix()), int(ttl.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// SignOut (POST) ends the session of the request's cookie: the gateway
// refuses it from now on (a copy of it too), the browser is told to drop
// it and sent to "/".
func (g *Guard) SignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		if id, exp, ok := g.session(c.Value); ok {
			now := g.now().Unix()
			g.mu.Lock()
			if g.signedOut == nil {
				g.signedOut = map[string]int64{}
			}
			for k, e := range g.signedOut { // forget those past their expiry
				if e <= now {
					delete(g.signedOut, k)
				}
			}
			g.signedOut[id] = exp
			g.mu.Unlock()
		}
	}
	http.SetCookie(w, g.cookie("", -1))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
