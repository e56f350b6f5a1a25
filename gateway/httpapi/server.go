package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/gateway/intake"
	"github.com/fsegate/fsegate/gateway/oidcauth"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

// Server is the intake API (docs/openapi.yaml): care sheets, batches,
// prescriptions and SCOR pieces from the workstations' CPS cards; a
// sheet's state, the notices and the payments for a card or an e-CPS
// bearer token. Set the fields, then serve Handler over TLS with
// ConnContext (the client certificate is requested, not required: the
// handlers refuse its absence with a coded problem).
type Server struct {
	// Intake checks and queues what is sent.
	Intake *intake.Service
	// Queue answers the read endpoints (states, notices, payments).
	Queue *queue.Queue
	// Trust verifies the client certificates.
	Trust *signature.TrustStore
	// Practices gives the billing numbers a national id acts for.
	Practices interface {
		Billings(nationalID string) []string
	}
	// Bearer gives the national id of an e-CPS bearer access token (Pro
	// Santé Connect); ErrBearerOff (or a nil Bearer) when e-CPS is off.
	Bearer func(r *http.Request) (nationalID string, err error)
	// OpenAPI is the API description served at /openapi.yaml.
	OpenAPI []byte
	// MaxBody is the size limit of one sheet; MaxBatch the most items of
	// one batch, MaxBatchBytes the size limit of its body;
	// MaxBatchesPerClient the batches one national id has in progress at
	// once.
	MaxBody             int64
	MaxBatch            int
	MaxBatchBytes       int64
	MaxBatchesPerClient int

	slots batchSlots
}

// ErrBearerOff is Server.Bearer's error when e-CPS bearer tokens are not
// accepted.
var ErrBearerOff = errors.New("bearer tokens not accepted")

// Handler is the intake API's routes, registered in one place.
func (s *Server) Handler() http.Handler {
	s.slots.max = s.MaxBatchesPerClient
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sheets", s.authed(s.postSheet))
	mux.HandleFunc("POST /v1/batches", s.authed(s.postBatch))
	mux.HandleFunc("POST /v1/prescriptions", s.authed(s.postPrescription))
	mux.HandleFunc("POST /v1/sheets/{number}/scor", s.authed(s.postSCOR))
	mux.HandleFunc("GET /v1/sheets/{number}", s.readAuthed(s.getSheet))
	mux.HandleFunc("GET /v1/notices", s.readAuthed(s.getNotices))
	mux.HandleFunc("POST /v1/notices/ack", s.readAuthed(s.postNoticesAck))
	mux.HandleFunc("GET /v1/payments", s.readAuthed(s.getPayments))
	mux.HandleFunc("GET /openapi.yaml", s.serveOpenAPI)
	mux.HandleFunc("GET /v1/openapi.yaml", s.serveOpenAPI)
	return mux
}

// caller is who authenticated the connection.
type caller struct {
	NationalID string
	Billings   []string
}

type handler func(w http.ResponseWriter, r *http.Request, c *caller)

// closeUnread is said before a refusal answered without reading the
// request's body. Over HTTP/1.1 the connection is closed after the answer
// ("Connection: close"): the unread body cannot be skipped otherwise. Over
// HTTP/2 only the stream ends (the server resets it once the answer is
// sent), and the connection stays: closing it, as "Connection: close" asks
// of Go's HTTP/2 server, could cut the answer's body off while the client
// still sends (#22: a 401 with an empty body over curl's HTTP/2).
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
}

// authed checks the client certificate before anything of the request is
// read: no certificate, an untrusted, expired or revoked one is refused and
// the connection closed without reading the body.
func (s *Server) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			closeUnread(w, r)
			Error(w, r, Refuse("client certificate required", api.NewError(api.CodeClientCertRequired, "", "no client certificate", "connect with the CPS card's authentication key")))
			return
		}
		id, err := s.verifyConn(r)
		if err != nil {
			closeUnread(w, r)
			Error(w, r, &Refusal{Title: "client certificate refused", Errors: intake.SignatureErrors(err), Credentials: true})
			return
		}
		h(w, r, &caller{NationalID: id.NationalID, Billings: s.Practices.Billings(id.NationalID)})
	}
}

// readAuthed is authed for the endpoints that only read or follow (a
// sheet's state, the notices and their confirmation): without a client
// certificate, a Pro Santé Connect bearer access token (e-CPS) is accepted
// too, its national id claim being the caller. Writing stays card-only.
func (s *Server) readAuthed(h handler) http.HandlerFunc {
	card := s.authed(h)
	return func(w http.ResponseWriter, r *http.Request) {
		if (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) && r.Header.Get("Authorization") != "" {
			c, ok := s.bearerCaller(w, r)
			if ok {
				h(w, r, c)
			}
			return
		}
		card(w, r)
	}
}

// bearerCaller is the caller of a request with "Authorization: Bearer"
// (e-CPS through Pro Santé Connect): ok false and the answer written when
// the token is refused or e-CPS is off.
func (s *Server) bearerCaller(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	if s.Bearer == nil {
		Error(w, r, Refuse("bearer tokens not accepted", bearerInvalid()))
		return nil, false
	}
	id, err := s.Bearer(r)
	switch {
	case errors.Is(err, ErrBearerOff):
		Error(w, r, Refuse("bearer tokens not accepted", bearerInvalid()))
		return nil, false
	case err != nil:
		Error(w, r, Refuse("bearer token refused", bearerInvalid()))
		return nil, false
	}
	return &caller{NationalID: id, Billings: s.Practices.Billings(id)}, true
}

// bearerInvalid says nothing of why (the log does).
func bearerInvalid() api.Error {
	return api.NewError(oidcauth.CodeBearerInvalid, "", "the bearer token was refused", "sign in again with e-CPS (Pro Santé Connect) for a fresh access token")
}

// connAuth caches a connection's verified client identity: a keep-alive
// connection is checked once per authCacheAge, not on every request.
type connAuth struct {
	mu  sync.Mutex
	id  signature.Identity
	err error
	at  time.Time
}

type connAuthKey struct{}

// authCacheAge bounds how long a connection's check stands (a CRL refresh
// reaches open connections within it).
const authCacheAge = 5 * time.Minute

// ConnContext is the http.Server's ConnContext of the intake API: it
// gives each connection the cache of its verified client identity.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connAuthKey{}, &connAuth{})
}

func (s *Server) verifyConn(r *http.Request) (signature.Identity, error) {
	ca, _ := r.Context().Value(connAuthKey{}).(*connAuth)
	if ca == nil {
		ca = &connAuth{}
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if !ca.at.IsZero() && time.Since(ca.at) < authCacheAge {
		return ca.id, ca.err
	}
	raw := make([][]byte, len(r.TLS.PeerCertificates))
	for i, c := range r.TLS.PeerCertificates {
		raw[i] = c.Raw
	}
	ca.id, ca.err = s.Trust.VerifyClient(raw)
	ca.at = time.Now()
	return ca.id, ca.err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func dryRun(r *http.Request) bool {
	v := r.URL.Query().Get("dry_run")
	return v == "true" || v == "1"
}

// readBody reads at most limit bytes; over it, BODY_TOO_LARGE.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		Error(w, r, Refuse("request too large", api.NewError(api.CodeBodyTooLarge, "", fmt.Sprintf("the body is over %d bytes", limit), "")))
		return nil, false
	case err != nil:
		Error(w, r, Refuse("request not read", api.NewError(api.CodeRequestInvalid, "", "the body could not be read", "")))
		return nil, false
	}
	return b, true
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	serveOpenAPI(w, s.OpenAPI)
}

func serveOpenAPI(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(doc)
}
