package localapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// Server is the local API. Set its fields, then serve Handler and run
// Drain; Close lets the card go. Its methods are safe for concurrent use.
type Server struct {
	// Flow checks the posted sheets and keeps them: the caisse's rules,
	// and the outbox the server sends from (required).
	Flow *workstation.Flow
	// Token is the bearer token every request must carry.
	Token string
	// Port is the loopback port the server listens on: a request's Host
	// header must name it (no DNS rebinding).
	Port int
	// Gateway is the gateway's URL, for GET /v1/health and the hints.
	Gateway string
	// OpenCard opens the CPS card (its keys ask the PIN through PIN).
	OpenCard func(ctx context.Context) (card.Token, error)
	// PIN asks the PIN when the card needs it (once: the card stays
	// logged in while it stays in the reader).
	PIN card.PINPrompt
	// Connect opens a gateway client authenticated with the card.
	Connect func(ctx context.Context, c card.Token) (*client.Client, error)
	// CardHint says what to do about a card error ("" when it knows
	// nothing better than to check the card and its reader); may be nil.
	CardHint func(error) string
	// Log receives what the drain does; nil: nothing is logged.
	Log *log.Logger

	once sync.Once
	kick chan struct{}

	mu     sync.Mutex // the card session and the sender
	sess   *workstation.Session
	sender *workstation.Sender
	held   map[string]bool // outbox keys of another practitioner, logged once
}

// route is one route of the local API and its handler; a handler's error
// is the refusal writeError answers.
type route struct {
	pattern string
	handle  func(http.ResponseWriter, *http.Request) error
}

// routes are the routes of the local API (docs/workstation-openapi.yaml):
// the one place they are listed.
func (s *Server) routes() []route {
	return []route{
		{"POST /v1/sheets", s.postSheet},
		{"GET /v1/sheets/{number}", s.getSheet},
		{"GET /v1/outbox", s.getOutbox},
		{"GET /v1/notices", s.getNotices},
		{"POST /v1/notices/ack", s.postAck},
		{"GET /v1/health", s.getHealth},
		{"GET /v1/payments", s.getPayments},
		{"POST /v1/payments/reconcile", s.postReconcile},
		{"POST /v1/prescriptions", s.postPrescription},
		{"POST /v1/sheets/{number}/scor", s.postSCOR},
	}
}

// Routes lists the routes of the local API, "METHOD /path" each.
func Routes() []string {
	var out []string
	for _, r := range (&Server{}).routes() {
		out = append(out, r.pattern)
	}
	return out
}

// Handler gives the routes of the local API behind its guard.
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		mux.HandleFunc(r.pattern, func(w http.ResponseWriter, req *http.Request) {
			if err := r.handle(w, req); err != nil {
				writeError(w, err)
			}
		})
	}
	return s.guard(mux)
}

func (s *Server) init() {
	s.once.Do(func() {
		s.kick = make(chan struct{}, 1)
		s.held = map[string]bool{}
	})
}

// outbox is the outbox of the flow.
func (s *Server) outbox() *outbox.Outbox { return s.Flow.Outbox }

// guard enforces loopback Host, no Origin, and the bearer token.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.admit(r); err != nil {
			if ErrorStatus(err) == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="fsegate workstation"`)
			}
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// admit says why r may not be served, nil when it may.
func (s *Server) admit(r *http.Request) error {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port != strconv.Itoa(s.Port) || !(host == "localhost" || host == "127.0.0.1" || host == "::1") {
		return refuse(KindHost, "host refused", CodeHostRefused, "Host", "the Host header must name the loopback address of this workstation", "use http://127.0.0.1:"+strconv.Itoa(s.Port))
	}
	if r.Header.Get("Origin") != "" {
		return refuse(KindOrigin, "web pages may not call the workstation", CodeOriginRefused, "Origin", "requests from web pages are refused", "call the local API from the practice software, not from a browser")
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.Token)) != 1 {
		return refuse(KindToken, "token required", CodeTokenInvalid, "Authorization", "missing or wrong bearer token", "read the token from the workstation's token file")
	}
	return nil
}

// openCard returns the card session and the sender, opening the card
// when needed (the gateway client is opened at the first send). The
// caller holds s.mu.
func (s *Server) openCard(ctx context.Context) (*workstation.Session, *workstation.Sender, error) {
	if s.sess != nil {
		return s.sess, s.sender, nil
	}
	sess, err := workstation.OpenSession(context.WithoutCancel(ctx), workstation.SessionConfig{Open: s.OpenCard, PIN: s.PIN})
	if err != nil {
		return nil, nil, err
	}
	s.sess = sess
	s.sender = &workstation.Sender{Outbox: s.outbox(), Session: sess, Connect: func(ctx context.Context, c card.Token) (*client.Client, error) {
		return s.Connect(context.WithoutCancel(ctx), c)
	}}
	return s.sess, s.sender, nil
}

// session is openCard under s.mu.
func (s *Server) session(ctx context.Context) (*workstation.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, sender, err := s.openCard(ctx)
	return sender, err
}

// Close lets the card go: the gateway client and the card session.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropCard()
}

// dropCard forgets the card (removed, changed): the next request opens
// it again. The caller holds s.mu.
func (s *Server) dropCard() {
	if s.sender != nil {
		s.sender.Close()
	}
	if s.sess != nil {
		s.sess.Close()
	}
	s.sess, s.sender = nil, nil
}

// client returns the gateway client, opening the card if needed; nil when
// the card is not there.
func (s *Server) client(ctx context.Context) *client.Client {
	sender, err := s.session(ctx)
	if err != nil {
		return nil
	}
	cl, err := sender.Client(ctx)
	if err != nil {
		return nil
	}
	return cl
}

// cardError is the refusal when the card could not sign or authenticate.
func (s *Server) cardError(err error) *Error {
	hint := ""
	if s.CardHint != nil {
		hint = s.CardHint(err)
	}
	if hint == "" {
		hint = "check the card and its reader ('workstation doctor' says what is wrong), then try again"
	}
	return refuse(KindCard, "the card could not sign", CodeCardUnavailable, "", err.Error(), hint)
}

// noCard is the refusal when there is no card to reach the gateway with.
func (s *Server) noCard() *Error {
	return s.cardError(errors.New("no card to authenticate to the gateway with"))
}

// gatewayError is the refusal when the gateway refused or could not be
// reached.
func (s *Server) gatewayError(err error) *Error {
	var p *client.Problem
	if errors.As(err, &p) {
		return &Error{Kind: KindRelayed, Title: p.Title, Status: p.Status, Errors: relayed(p, false)}
	}
	return refuse(KindGateway, "gateway not reachable", CodeGatewayUnreachable, "", err.Error(), "is the gateway running at "+s.Gateway+"?")
}

// wake makes the drain look at the outbox now.
func (s *Server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log.Printf(format, args...)
	}
}

// ErrNotLoopback: the local API listens on a loopback address only.
var ErrNotLoopback = errors.New("the local API listens on loopback only (127.0.0.1, ::1)")

// CheckAddress says why the local API may not listen on addr: not
// host:port, or not a loopback address (ErrNotLoopback). localhost is
// taken.
func CheckAddress(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ErrNotLoopback
	}
	return nil
}
