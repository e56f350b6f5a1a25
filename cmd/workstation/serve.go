package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/internal/secretfile"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/outbox"
)

func init() {
	program.Add(&cli.Command{Name: "serve", Summary: "local HTTP API for practice software: post a sheet, it is signed, kept and sent", Run: runServe})
}

const serveUsage = `workstation serve — the local HTTP API for practice and pharmacy software

Usage:
  workstation serve [--listen 127.0.0.1:7600] [--token-file F] [--pin-command CMD]
                    [--gateway URL] [--outbox DIR] [--reader NAME] [--pin-file F]

Practice software posts an unsigned care sheet (XML or JSON) to
POST /v1/sheets: it is checked with the caisse's rules, signed with the CPS
card in the reader, written to the durable outbox and sent to the gateway;
the answer is the gateway's receipt, or every reason of a refusal, or 202
when the gateway cannot be reached (the sheet waits in the outbox). The
outbox is drained continuously, with backoff while the gateway is down.
GET /v1/sheets/{number} gives a sheet's state, GET /v1/notices and
POST /v1/notices/ack read and confirm the acknowledgements.
docs/workstation-openapi.yaml describes the API; package
github.com/fsegate/fsegate/client/workstation is its Go client.

Security: it listens on loopback only; every request carries
"Authorization: Bearer TOKEN", the token read from --token-file (created
0600 with a random token when missing; practice software reads it there);
the Host header must name the loopback address (no DNS rebinding); requests
from web pages (an Origin header) are refused and no CORS header is sent.

The PIN: --pin-command CMD is run (sh -c) when the card needs the PIN, and
its first line of output is the PIN (FSEGATE_PIN_HOLDER and
FSEGATE_PIN_TRIES tell it whom to ask); else --pin-file, FSEGATE_PIN, or the
terminal. The PIN is asked once; the card stays logged in while it stays in
the reader.

Examples:
  workstation serve --dev
  workstation serve --pin-command 'zenity --password --title "PIN CPS"'
  curl -H "Authorization: Bearer $(cat ~/.config/fsegate/serve.token)" \
       -H 'Content-Type: application/xml' --data-binary @sheet.xml \
       http://127.0.0.1:7600/v1/sheets
`

func defaultTokenFile() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "fsegate", "serve.token")
	}
	return "fsegate-serve.token"
}

func runServe(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "serve", serveUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	listen := fs.String("listen", "127.0.0.1:7600", "loopback `address` to listen on")
	tokenFile := fs.String("token-file", defaultTokenFile(), "bearer token `file` (created 0600 when missing)")
	pinCommand := fs.String("pin-command", "", "`command` run to ask the PIN (its first output line)")
	dir := addOutboxFlag(fs, env)
	drainEvery := fs.Duration("drain-every", 2*time.Second, "how often the outbox is looked at")
	readTimeout := fs.Duration("read-timeout", 2*time.Minute, "how long a request, body included, may take to arrive (a slow client cannot hold the server)")
	tf := addTableFlags(fs, true)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return cli.Usagef("serve takes no argument")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return cli.Usagef("--listen %q: want host:port", *listen)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return cli.Usagef("--listen %s: the local API listens on loopback only (127.0.0.1, ::1)", *listen)
	}
	rules, err := tf.load()
	if err != nil {
		return err
	}
	rules.Now = time.Now
	token, err := loadToken(*tokenFile)
	if err != nil {
		return err
	}
	ob, err := openOutbox(env, *dir)
	if err != nil {
		return err
	}
	unlock, err := ob.Lock()
	if err != nil {
		return err
	}
	defer unlock()

	s := &server{env: env, cf: cf, gf: gf, ob: ob, token: token, pinCommand: *pinCommand,
		flow: &workstation.Flow{Rules: rules, AcceptSigned: true, Outbox: ob},
		kick: make(chan struct{}, 1), held: map[string]bool{},
		log: log.New(env.Stderr, "serve: ", log.LstdFlags)}
	defer s.closeCard()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	// A slow or stuck client cannot hold a connection: headers within
	// 10 s, the whole request within --read-timeout, idle keep-alives
	// closed after 2 min. No write timeout: a notices long poll answers
	// late by design.
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: *readTimeout, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(env.Stdout, "workstation serve: listening on http://%s (token in %s, outbox %s)\n", ln.Addr(), *tokenFile, ob.Dir())
	go s.drain(ctx, *drainEvery)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadToken reads the bearer token, creating the file (0600) with a random
// token when it is missing. A file others may read is refused.
func loadToken(path string) (string, error) {
	tok, err := secretfile.ReadOrCreate(path)
	switch {
	case errors.Is(err, secretfile.ErrUnsafe):
		return "", cli.WithHint(fmt.Errorf("token file: %w", err), "chmod 600 "+path)
	case err != nil:
		return "", fmt.Errorf("token file: %w", err)
	case len(tok) < 16:
		return "", fmt.Errorf("token file %s: the token is too short (16 characters at least)", path)
	}
	return tok, nil
}

// server is the local API.
type server struct {
	env        *cli.Env
	cf         *cardFlags
	gf         *gatewayFlags
	ob         *outbox.Outbox
	flow       *workstation.Flow
	token      string
	pinCommand string
	port       int
	kick       chan struct{}
	log        *log.Logger

	mu     sync.Mutex // the card session and the sender
	sess   *workstation.Session
	sender *workstation.Sender
	held   map[string]bool // outbox keys of another practitioner, logged once
}

// serveRoutes are the routes of the local API (docs/workstation-openapi.yaml).
var serveRoutes = []string{
	"POST /v1/sheets",
	"GET /v1/sheets/{number}",
	"GET /v1/outbox",
	"GET /v1/notices",
	"POST /v1/notices/ack",
	"GET /v1/health",
	"GET /v1/payments",
	"POST /v1/payments/reconcile",
	"POST /v1/prescriptions",
	"POST /v1/sheets/{number}/scor",
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	handlers := []http.HandlerFunc{s.postSheet, s.getSheet, s.getOutbox, s.getNotices, s.postAck, s.getHealth, s.getPayments, s.postReconcile, s.postPrescription, s.postSCOR}
	for i, r := range serveRoutes {
		mux.HandleFunc(r, handlers[i])
	}
	return s.guard(mux)
}

// guard enforces loopback Host, no Origin, and the bearer token.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, err := net.SplitHostPort(r.Host)
		if err != nil || port != strconv.Itoa(s.port) || !(host == "localhost" || host == "127.0.0.1" || host == "::1") {
			problem(w, http.StatusMisdirectedRequest, "host refused", api.NewError("HOST_REFUSED", "Host", "the Host header must name the loopback address of this workstation", "use http://127.0.0.1:"+strconv.Itoa(s.port)))
			return
		}
		if r.Header.Get("Origin") != "" {
			problem(w, http.StatusForbidden, "web pages may not call the workstation", api.NewError("ORIGIN_REFUSED", "Origin", "requests from web pages are refused", "call the local API from the practice software, not from a browser"))
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fsegate workstation"`)
			problem(w, http.StatusUnauthorized, "token required", api.NewError("TOKEN_INVALID", "Authorization", "missing or wrong bearer token", "read the token from the workstation's token file"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func problem(w http.ResponseWriter, status int, title string, errs ...api.Error) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Problem{Type: api.ProblemType, Title: title, Status: status, Errors: errs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// SheetResult is the answer to POST /v1/sheets and GET /v1/sheets/{number}.
type SheetResult struct {
	Key      string          `json:"key"`
	Billing  string          `json:"billing"`
	Number   string          `json:"number"`
	State    outbox.State    `json:"state"` // pending, receipted, refused, final
	Final    string          `json:"final_state,omitempty"`
	Receipt  json.RawMessage `json:"receipt,omitempty"`
	Gateway  json.RawMessage `json:"gateway,omitempty"` // the gateway's state and history
	Codes    []string        `json:"codes,omitempty"`
	Waiting  string          `json:"waiting,omitempty"` // why it is not sent yet
	Attempts int             `json:"attempts"`
}

func resultOf(e *outbox.Entry) SheetResult {
	return SheetResult{Key: e.Key, Billing: e.Billing, Number: e.Number, State: e.State, Final: e.FinalState,
		Receipt: json.RawMessage(e.Receipt), Codes: e.Codes, Waiting: e.LastError, Attempts: e.Attempts}
}

// openCard returns the card session and the sender, opening the card
// when needed (the gateway client is opened at the first send). The
// caller holds s.mu.
func (s *server) openCard(ctx context.Context) (*workstation.Session, *workstation.Sender, error) {
	if s.sess != nil {
		return s.sess, s.sender, nil
	}
	prompt := s.cf.prompt(s.env)
	if s.pinCommand != "" {
		prompt = commandPrompt(s.pinCommand)
	}
	sess, err := workstation.OpenSession(context.WithoutCancel(ctx), workstation.SessionConfig{
		Open: func(ctx context.Context) (card.Token, error) { return s.cf.open(ctx, s.env) },
		PIN:  prompt,
	})
	if err != nil {
		return nil, nil, err
	}
	s.sess = sess
	s.sender = &workstation.Sender{Outbox: s.ob, Session: sess, Connect: func(ctx context.Context, c card.Token) (*client.Client, error) {
		return s.gf.client(context.WithoutCancel(ctx), c)
	}}
	return s.sess, s.sender, nil
}

func (s *server) closeCard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropCard()
}

// dropCard forgets the card (removed, changed): the next request opens
// it again. The caller holds s.mu.
func (s *server) dropCard() {
	if s.sender != nil {
		s.sender.Close()
	}
	if s.sess != nil {
		s.sess.Close()
	}
	s.sess, s.sender = nil, nil
}

// commandPrompt runs cmd to ask the PIN: its first output line is the PIN.
func commandPrompt(cmd string) card.PINPrompt {
	return func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Env = append(os.Environ(), "FSEGATE_PIN_HOLDER="+req.Holder, "FSEGATE_PIN_TRIES="+strconv.Itoa(req.TriesLeft), "FSEGATE_PIN_READER="+req.Reader)
		c.Stderr = os.Stderr
		out, err := c.Output()
		if err != nil {
			return nil, fmt.Errorf("PIN command: %w", err)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		clear(out)
		pin := strings.TrimSpace(line)
		if pin == "" {
			return nil, errors.New("PIN command: no PIN given (cancelled)")
		}
		return []byte(pin), nil
	}
}

func cardProblem(w http.ResponseWriter, err error) {
	msg := err.Error()
	hint := "check the card and its reader ('workstation doctor' says what is wrong), then try again"
	var he *cli.HintError
	if errors.As(cardHint(err), &he) {
		hint = he.Hint
	}
	problem(w, http.StatusServiceUnavailable, "the card could not sign", api.NewError("CARD_UNAVAILABLE", "", msg, hint))
}

func (s *server) postSheet(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		problem(w, http.StatusRequestEntityTooLarge, "body too large", api.NewError("BODY_TOO_LARGE", "", "a care sheet is 1 MiB at most", ""))
		return
	}
	sh, err := workstation.Decode("", body)
	if err != nil {
		problem(w, http.StatusUnprocessableEntity, "not a care sheet", apiErrors(err, "post a care sheet in XML (urn:fsegate:fse:1) or JSON")...)
		return
	}
	step, e, err := s.flow.Plan(sh)
	switch {
	case errors.Is(err, workstation.CodeAlreadyInOutbox):
		problem(w, http.StatusConflict, "another sheet with this number is in the outbox", api.NewError("OUTBOX_CONFLICT", "number", err.Error(), "a sheet number is used once; a refused sheet may be corrected"))
		return
	case err != nil:
		var se *workstation.SheetError
		if errors.As(err, &se) {
			problem(w, http.StatusUnprocessableEntity, "invalid care sheet", apiErrors(err, "")...)
			return
		}
		problem(w, http.StatusInternalServerError, "outbox", api.NewError("OUTBOX_UNAVAILABLE", "", err.Error(), "check the outbox directory (disk full?)"))
		return
	case step != workstation.StepSign:
		// The same sheet posted again (the caller lost our answer).
		s.answer(w, r, e)
		return
	}
	if err := s.flow.Check(sh); err != nil {
		problem(w, http.StatusUnprocessableEntity, "invalid care sheet: nothing was signed", apiErrors(err, "")...)
		return
	}

	s.mu.Lock()
	sess, sender, err := s.openCard(r.Context())
	if err != nil {
		s.mu.Unlock()
		cardProblem(w, err)
		return
	}
	// The card's holder must be the sheet's practitioner: checked from the
	// certificate, before the PIN.
	if err := sess.Check(sh); err != nil {
		s.mu.Unlock()
		code := workstation.ProblemsOf(err)[0].Code
		st, _ := api.Lookup(code)
		problem(w, st.Status, "the card in the reader may not sign this sheet: nothing was signed", apiErrors(err, "")...)
		return
	}
	doc, err := sess.Sign(r.Context(), sh)
	if err != nil {
		if errors.Is(err, card.ErrCardRemoved) || errors.Is(err, card.ErrNoCard) {
			s.dropCard()
		}
		s.mu.Unlock()
		cardProblem(w, err)
		return
	}
	s.mu.Unlock()
	_, err = s.flow.Put(sh, doc)
	if errors.Is(err, outbox.ErrConflict) {
		problem(w, http.StatusConflict, "another sheet with this number is in the outbox", api.NewError("OUTBOX_CONFLICT", "number", err.Error(), "a sheet number is used once; a refused sheet may be corrected"))
		return
	}
	if err != nil {
		problem(w, http.StatusInternalServerError, "outbox", api.NewError("OUTBOX_UNAVAILABLE", "", err.Error(), "check the outbox directory (disk full?)"))
		return
	}
	res, err := sender.Send(r.Context(), sh.Key)
	if err != nil {
		problem(w, http.StatusInternalServerError, "outbox", api.NewError("OUTBOX_UNAVAILABLE", "", err.Error(), ""))
		return
	}
	if res.Outcome == workstation.Refused {
		p := api.Problem{Type: api.ProblemType, Title: "refused by the gateway", Status: res.Problem.Status}
		for _, it := range res.Problem.Errors {
			p.Errors = append(p.Errors, api.Error{Code: it.Code, Path: it.Path, Message: it.Message, Hint: it.Hint, Doc: it.Doc})
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(p)
		return
	}
	e, err = s.ob.Get(sh.Key)
	if err != nil {
		problem(w, http.StatusInternalServerError, "outbox", api.NewError("OUTBOX_UNAVAILABLE", "", err.Error(), ""))
		return
	}
	s.answer(w, r, e)
}

// apiErrors are the problems of err for a problem+json answer; hint is
// given to those without one.
func apiErrors(err error, hint string) []api.Error {
	var out []api.Error
	for _, p := range workstation.ProblemsOf(err) {
		h := p.Hint
		if h == "" {
			h = hint
		}
		out = append(out, api.Error{Code: p.Code, Path: p.Path, Message: p.Message, Hint: h, Doc: "docs/errors.md#" + p.Code})
	}
	return out
}

// answer writes an outbox entry: 201 receipted (or final), 202 pending,
// 422 refused.
func (s *server) answer(w http.ResponseWriter, _ *http.Request, e *outbox.Entry) {
	status := http.StatusCreated
	switch e.State {
	case outbox.Pending:
		status = http.StatusAccepted
	case outbox.Refused:
		var errs []api.Error
		for _, c := range e.Codes {
			errs = append(errs, api.NewError(c, "", "refused by the gateway before", "correct the sheet and post it again"))
		}
		problem(w, http.StatusUnprocessableEntity, "refused by the gateway", errs...)
		return
	}
	writeJSON(w, status, resultOf(e))
}

func (s *server) getSheet(w http.ResponseWriter, r *http.Request) {
	billing := r.URL.Query().Get("billing")
	idBilling, number, err := fse.ParseSheetID(r.PathValue("number"))
	if err != nil {
		problem(w, http.StatusBadRequest, "bad sheet id", api.NewError("REQUEST_INVALID", "number", err.Error(), "name the sheet as 751000019-000100002 or by its number"))
		return
	}
	if idBilling != "" {
		if billing != "" && billing != idBilling {
			problem(w, http.StatusBadRequest, "billing numbers differ", api.NewError("REQUEST_INVALID", "billing", "?billing= names another billing number than the sheet id", ""))
			return
		}
		billing = idBilling
	}
	key, ok := outboxKeyFor(s.ob, billing, number)
	var res SheetResult
	if ok {
		if e, err := s.ob.Get(key); err == nil {
			res = resultOf(e)
		}
	}
	if res.Key == "" {
		res = SheetResult{Billing: billing, Number: number}
	}
	if res.State != outbox.Pending {
		if cl := s.client(r.Context()); cl != nil {
			st, err := cl.Sheet(r.Context(), res.Billing, number)
			switch {
			case err == nil:
				res.Gateway = st.Raw
				if st.Billing != "" {
					res.Billing = st.Billing
				}
				if err := workstation.Follow(s.ob, st); err == nil && res.Key != "" {
					if e, err := s.ob.Get(res.Key); err == nil {
						res.State, res.Final = e.State, e.FinalState
					}
				}
			case errors.Is(err, client.ErrNotFound) && res.State == outbox.Receipted:
				_ = s.ob.Resend(res.Key)
				res.State = outbox.Pending
				res.Waiting = "the gateway no longer knows it: it is sent again"
				s.wake()
			}
		}
	}
	if res.Key == "" && res.Gateway == nil {
		problem(w, http.StatusNotFound, "no such sheet", api.NewError("SHEET_UNKNOWN", "number", "neither the outbox nor the gateway knows this sheet", ""))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *server) getOutbox(w http.ResponseWriter, r *http.Request) {
	all, err := s.ob.List()
	if err != nil {
		problem(w, http.StatusInternalServerError, "outbox", api.NewError("OUTBOX_UNAVAILABLE", "", err.Error(), ""))
		return
	}
	out := struct {
		Sheets []SheetResult `json:"sheets"`
	}{Sheets: []SheetResult{}}
	for _, e := range all {
		out.Sheets = append(out.Sheets, resultOf(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// client returns the gateway client, opening the card if needed; nil when
// the card is not there.
func (s *server) client(ctx context.Context) *client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, sender, err := s.openCard(ctx)
	if err != nil {
		return nil
	}
	cl, err := sender.Client(ctx)
	if err != nil {
		return nil
	}
	return cl
}

func (s *server) gatewayProblem(w http.ResponseWriter, err error) {
	var p *client.Problem
	if errors.As(err, &p) {
		pr := api.Problem{Type: api.ProblemType, Title: p.Title, Status: p.Status}
		for _, it := range p.Errors {
			pr.Errors = append(pr.Errors, api.Error{Code: it.Code, Path: it.Path, Message: it.Message, Hint: it.Hint})
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(pr)
		return
	}
	problem(w, http.StatusBadGateway, "gateway not reachable", api.NewError("GATEWAY_UNREACHABLE", "", err.Error(), "is the gateway running at "+s.gf.URL+"?"))
}

func (s *server) getNotices(w http.ResponseWriter, r *http.Request) {
	cl := s.client(r.Context())
	if cl == nil {
		cardProblem(w, errors.New("no card to authenticate to the gateway with"))
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			problem(w, http.StatusBadRequest, "bad wait", api.NewError("REQUEST_INVALID", "wait", "wait is a duration like 30s", ""))
			return
		}
		wait = min(d, 60*time.Second)
	}
	ns, err := cl.Notices(r.Context(), r.URL.Query().Get("billing"), wait)
	if err != nil {
		s.gatewayProblem(w, err)
		return
	}
	if ns == nil {
		ns = []client.Notice{}
	}
	_ = workstation.FollowNotices(r.Context(), cl, s.ob, ns)
	writeJSON(w, http.StatusOK, map[string]any{"notices": ns})
}

func (s *server) postAck(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Billing string `json:"billing"`
		Seq     uint64 `json:"seq"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.Seq == 0 {
		problem(w, http.StatusBadRequest, "bad request", api.NewError("REQUEST_INVALID", "", `want {"billing": "…", "seq": N}`, ""))
		return
	}
	cl := s.client(r.Context())
	if cl == nil {
		cardProblem(w, errors.New("no card to authenticate to the gateway with"))
		return
	}
	if err := cl.Confirm(r.Context(), req.Billing, req.Seq); err != nil {
		s.gatewayProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"billing": req.Billing, "confirmed": req.Seq})
}

// Health is the answer to GET /v1/health.
type Health struct {
	Card    string         `json:"card"`
	Outbox  map[string]int `json:"outbox"`
	Gateway string         `json:"gateway"`
}

func (s *server) getHealth(w http.ResponseWriter, r *http.Request) {
	h := Health{Card: "ok", Gateway: s.gf.URL, Outbox: map[string]int{}}
	s.mu.Lock()
	if _, _, err := s.openCard(r.Context()); err != nil {
		h.Card = err.Error()
	}
	s.mu.Unlock()
	if all, err := s.ob.List(); err == nil {
		for _, e := range all {
			h.Outbox[string(e.State)]++
		}
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *server) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// drain sends the due sheets of the outbox, then waits every; after a
// transport failure it waits with backoff (2 s doubling to 5 min).
func (s *server) drain(ctx context.Context, every time.Duration) {
	failures := 0
	for {
		wait := every
		if failures > 0 {
			wait = max(every, outbox.Backoff(failures))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-s.kick:
		}
		due, err := s.ob.Due()
		if err != nil || len(due) == 0 {
			continue
		}
		s.mu.Lock()
		_, sender, err := s.openCard(ctx)
		s.mu.Unlock()
		if err != nil {
			failures++
			continue
		}
		keys := make([]string, len(due))
		for i, e := range due {
			keys[i] = e.Key
		}
		sent := 0
		err = sender.SendAll(ctx, keys, func(res workstation.SendResult) bool {
			switch res.Outcome {
			case workstation.Held:
				if !s.held[res.Key] {
					s.held[res.Key] = true
					s.log.Printf("outbox: %s kept, not sent with this card: %v", res.Key, res.Held)
				}
				return true
			case workstation.Offline:
				failures++
				s.log.Printf("gateway not reachable, %d sheets wait: %v", len(due)-sent, res.Cause)
				return false
			}
			sent++
			failures = 0
			return true
		})
		if err != nil {
			failures++
			s.log.Printf("outbox: %v", err)
		}
		if sent > 0 {
			s.log.Printf("outbox: %d sheets sent", sent)
		}
	}
}
