package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/gateway/dashboard"
	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/queue"
)

// TestStatusCode: the statuses of the one error→status mapping.
func TestStatusCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"sheet refused by the rules", Refuse("care sheet refused", api.NewError("NIR_KEY", "patient/nir", "", "")), http.StatusUnprocessableEntity},
		{"duplicate", Refuse("care sheet refused", api.NewError("DUPLICATE_SHEET", "number", "", "")), http.StatusConflict},
		{"queue down", Refuse("care sheet refused", api.NewError("QUEUE_UNAVAILABLE", "", "", "")), http.StatusServiceUnavailable},
		{"warning first, then a refusal", Refuse("care sheet refused", api.NewError("PRESCRIPTION_NOT_VERIFIED", "", "", ""), api.NewError("SENDER_MISMATCH", "", "", "")), http.StatusForbidden},
		{"certificate refused at the connection", &Refusal{Title: "client certificate refused", Errors: []api.Error{api.NewError("CERT_REVOKED", "", "", "")}, Credentials: true}, http.StatusUnauthorized},
		{"no such sheet", errNoSuchSheet, http.StatusNotFound},
		{"not found, wrapped", errors.Join(errors.New("resubmit"), queue.ErrNotFound), http.StatusNotFound},
		{"not ready", errNotReady, http.StatusServiceUnavailable},
		{"no ?what=", errNoWhat, http.StatusBadRequest},
		{"not dead", kindOf(errConflict, errors.New("lot x is accepted, not dead")), http.StatusConflict},
		{"anything else", errors.New("boom"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StatusCode(tc.err); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// problemBody decodes a problem+json answer.
func problemBody(t *testing.T, rec *httptest.ResponseRecorder) api.Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (body %q)", ct, rec.Body.String())
	}
	var p api.Problem
	if err := json.NewDecoder(rec.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Status != rec.Code {
		t.Errorf("problem status %d, answer status %d", p.Status, rec.Code)
	}
	return p
}

type billings map[string][]string

func (b billings) Billings(id string) []string { return b[id] }

// TestAuthRefusals: without a client certificate, the write endpoints
// refuse before reading the body and close the connection; the read
// endpoints take an e-CPS bearer token instead, refused alike whether
// e-CPS is off or the token is bad, and the caller is held to its own
// billing numbers.
func TestAuthRefusals(t *testing.T) {
	bearer := func(r *http.Request) (string, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			return "899700218896", nil
		case "Bearer off":
			return "", ErrBearerOff
		}
		return "", errors.New("expired")
	}
	s := &Server{Bearer: bearer, Practices: billings{"899700218896": {"751000019"}}}
	h := s.Handler()
	for _, tc := range []struct {
		name, method, target, auth string
		status                     int
		code, title                string
	}{
		{"sheet without certificate", "POST", "/v1/sheets", "", 401, "CLIENT_CERT_REQUIRED", "client certificate required"},
		{"sheet with a bearer token", "POST", "/v1/sheets", "Bearer good", 401, "CLIENT_CERT_REQUIRED", "client certificate required"},
		{"notices without anything", "GET", "/v1/notices", "", 401, "CLIENT_CERT_REQUIRED", "client certificate required"},
		{"e-CPS off", "GET", "/v1/notices", "Bearer off", 401, "BEARER_INVALID", "bearer tokens not accepted"},
		{"bad token", "GET", "/v1/notices", "Bearer bad", 401, "BEARER_INVALID", "bearer token refused"},
		{"another practice", "GET", "/v1/notices?billing=751000035", "Bearer good", 403, "SENDER_MISMATCH", "not your billing number"},
		{"payments of another practice", "GET", "/v1/payments?billing=751000035", "Bearer good", 403, "SENDER_MISMATCH", "not your billing number"},
		{"bad wait", "GET", "/v1/notices?wait=soon", "Bearer good", 400, "REQUEST_INVALID", "bad wait"},
		{"bad payments query", "GET", "/v1/payments?limit=0", "Bearer good", 400, "REQUEST_INVALID", "bad payments query"},
		{"bad sheet id", "GET", "/v1/sheets/x-y-z", "Bearer good", 400, "REQUEST_INVALID", "bad sheet id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader("<never read/>"))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("got %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			p := problemBody(t, rec)
			if len(p.Errors) != 1 || string(p.Errors[0].Code) != tc.code || p.Title != tc.title {
				t.Errorf("got %q %+v, want %q %s", p.Title, p.Errors, tc.title, tc.code)
			}
			if tc.code == "CLIENT_CERT_REQUIRED" && rec.Header().Get("Connection") != "close" {
				t.Errorf("the connection stays open with an unread body")
			}
		})
	}
}

// TestOpenAPIServed: the description given is served on both listeners.
func TestOpenAPIServed(t *testing.T) {
	doc := []byte("openapi: 3.1.0\n")
	admin := &AdminServer{OpenAPI: doc, Guard: &operator.Guard{Hosts: []string{"example.com"}}, Access: &dashboard.Access{}}
	for name, h := range map[string]http.Handler{"intake": (&Server{OpenAPI: doc}).Handler(), "admin": admin.Handler()} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.yaml", nil))
		if rec.Code != 200 || rec.Body.String() != string(doc) || rec.Header().Get("Content-Type") != "application/yaml" {
			t.Errorf("%s: got %d %q %q", name, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

// TestAdminServer: probes are open, /readyz follows Ready, /admin/* is for
// operators (the token), a foreign Host is refused with its code.
func TestAdminServer(t *testing.T) {
	ready := false
	g := &operator.Guard{Hosts: []string{"example.com"}, Token: "0123456789abcdef0123"}
	s := &AdminServer{
		Ready: func() bool { return ready }, Guard: g,
		Access: &dashboard.Access{Operator: g.Operator},
		Audit: func(ctx context.Context) (queue.AuditReport, error) {
			return queue.AuditReport{Entries: 3}, nil
		},
	}
	h := s.Handler()
	do := func(method, target, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	text := func(rec *httptest.ResponseRecorder) string {
		b, _ := io.ReadAll(rec.Body)
		return strings.TrimSpace(string(b))
	}
	if rec := do("GET", "/healthz", ""); rec.Code != 200 || text(rec) != "ok" {
		t.Errorf("/healthz: %d %q", rec.Code, rec.Body)
	}
	if rec := do("GET", "/readyz", ""); rec.Code != 503 || text(rec) != "not ready" {
		t.Errorf("/readyz before ready: %d %q", rec.Code, rec.Body)
	}
	ready = true
	if rec := do("GET", "/readyz", ""); rec.Code != 200 || text(rec) != "ready" {
		t.Errorf("/readyz: %d %q", rec.Code, rec.Body)
	}
	rec := do("GET", "/admin/audit/verify", "")
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("audit without a token: %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if p := problemBody(t, rec); string(p.Errors[0].Code) != "OPERATOR_REQUIRED" {
		t.Errorf("audit without a token: %+v", p.Errors)
	}
	if rec := do("GET", "/admin/audit/verify", g.Token); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"entries":3`) {
		t.Errorf("audit as an operator: %d %s", rec.Code, rec.Body)
	}
	if rec := do("POST", "/admin/resubmit", g.Token); rec.Code != 400 || text(rec) != "want ?what=LOT or ?what=BILLING.NUMBER" {
		t.Errorf("resubmit without ?what=: %d %q", rec.Code, rec.Body)
	}
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Host = "evil.example"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if p := problemBody(t, rec); string(p.Errors[0].Code) != "ADMIN_HOST_REFUSED" {
		t.Errorf("foreign host: %d %+v", rec.Code, p.Errors)
	}
}
