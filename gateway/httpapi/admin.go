package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/gateway/dashboard"
	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/queue"
)

// AdminServer is the gateway's admin listener: /healthz, /readyz,
// /metrics and /openapi.yaml for anyone whose Host header it answers to;
// the dashboard, /admin/* and /debug/pprof/ for operators (the operator
// token, or e-CPS for the national ids of Access.Operators). Every
// request's Host and every state-changing request's origin are checked
// by Guard. Set the fields, then serve Handler.
type AdminServer struct {
	// Ready tells /readyz whether the gateway serves (nil: never).
	Ready func() bool
	// Gatherer is what /metrics exposes.
	Gatherer prometheus.Gatherer
	// OpenAPI is the intake API's description, served at /openapi.yaml.
	OpenAPI []byte
	// Guard checks Host and origin, and the operator token (its Refuse
	// is RefuseOperator's answer when nil).
	Guard *operator.Guard
	// Access is who sees what (shared with the dashboard): operators for
	// /admin/* and pprof.
	Access *dashboard.Access
	// Dashboard is served at "/" (nil: none).
	Dashboard http.Handler
	// ECPS, when set, registers the e-CPS sign-in routes under /auth
	// (gateway/oidcauth's RP).
	ECPS interface {
		Routes(mux *http.ServeMux, prefix string)
	}
	// Queue answers /admin/resubmit.
	Queue *queue.Queue
	// Audit checks the FSE_AUDIT hash chain (/admin/audit/verify).
	Audit func(ctx context.Context) (queue.AuditReport, error)
	// PProf serves /debug/pprof/ to operators.
	PProf bool
}

// Handler is the admin listener's routes, registered in one place, inside
// the guard.
func (s *AdminServer) Handler() http.Handler {
	if s.Guard.Refuse == nil {
		s.Guard.Refuse = RefuseOperator
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) { serveOpenAPI(w, s.OpenAPI) })
	if s.ECPS != nil {
		s.ECPS.Routes(mux, "/auth")
	}
	if s.Dashboard != nil {
		mux.Handle("/", s.Dashboard)
	}
	if s.Access.TokenSignIn != "" {
		mux.HandleFunc("POST "+s.Access.TokenSignIn, s.Guard.SignIn)
		mux.HandleFunc("POST "+s.Access.TokenSignOut, s.Guard.SignOut)
	}
	mux.HandleFunc("POST /admin/resubmit", s.operatorOnly(s.adminResubmit))
	mux.HandleFunc("GET /admin/audit/verify", s.operatorOnly(s.adminAuditVerify))
	if s.PProf {
		mux.HandleFunc("GET /debug/pprof/", s.operatorOnly(pprof.Index))
		mux.HandleFunc("GET /debug/pprof/profile", s.operatorOnly(pprof.Profile))
		mux.HandleFunc("GET /debug/pprof/trace", s.operatorOnly(pprof.Trace))
	}
	return s.Guard.Handler(mux)
}

func (s *AdminServer) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready == nil || !s.Ready() {
		Error(w, r, errNotReady)
		return
	}
	fmt.Fprintln(w, "ready")
}

// adminResubmit is POST /admin/resubmit?what=LOT|BILLING.NUMBER, for
// operators.
func (s *AdminServer) adminResubmit(w http.ResponseWriter, r *http.Request) {
	what := r.URL.Query().Get("what")
	if what == "" {
		Error(w, r, errNoWhat)
		return
	}
	ids, err := s.Queue.Resubmit(r.Context(), what)
	if err != nil {
		if !errors.Is(err, queue.ErrNotFound) {
			err = kindOf(errConflict, err) // not dead, or being resubmitted
		}
		Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"resubmitted": ids})
}

func (s *AdminServer) adminAuditVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := s.Audit(r.Context())
	if err != nil {
		Error(w, r, kindOf(errUnavailable, err))
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// operatorOnly lets operators through: the operator token, or an e-CPS
// session (or a certificate) of a national id of Access.Operators.
func (s *AdminServer) operatorOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := s.Access.Viewer(r)
		code := dashboard.CodeOperatorOnly
		switch {
		case err == nil && v.Operator:
			h(w, r)
			return
		case err != nil && dashboard.Code(err) != "":
			code = dashboard.Code(err)
		case err != nil && !errors.Is(err, dashboard.ErrNoBillings):
			code = dashboard.CodeOperatorRequired
		}
		RefuseOperator(w, r, &operator.Error{Code: code})
	}
}

// RefuseOperator answers a refusal of the admin listener as
// problem+json (operator.Guard's Refuse).
func RefuseOperator(w http.ResponseWriter, r *http.Request, e *operator.Error) {
	msg, hint := adminRefusal(e.Code)
	ref := Refuse("admin listener: "+msg, api.NewError(e.Code, "", msg, hint))
	if StatusCode(ref) == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fsegate admin"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	Error(w, r, ref)
}

func adminRefusal(code problem.Code) (msg, hint string) {
	switch code {
	case operator.CodeHostRefused:
		return "the Host header names no host of the admin listener", "reach it at its address (http://127.0.0.1:8080 by default), or add the name to --admin-hosts"
	case operator.CodeCrossOrigin:
		return "a state-changing request from another site", "change things from the dashboard's own pages or with the gateway's commands"
	case operator.CodeTokenInvalid:
		return "wrong operator token", "use the token of the gateway's operator token file (--operator-token-file; --dev: operator.token in its data dir)"
	case dashboard.CodeOperatorRequired:
		return "operators only: no operator token and no e-CPS session", "send 'Authorization: Bearer <operator token>' (gateway resubmit --token-file), or sign in on the dashboard"
	}
	return "operators only", "sign in with the operator token, or with e-CPS as a national id of --operators"
}
