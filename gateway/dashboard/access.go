package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/problem"
)

// Access decides who may see what. Its zero value lets no one in: a request
// needs a client certificate that VerifyClient accepts, an e-CPS session
// (Session) or the operator token (Operator). Where it comes from does not
// matter (a loopback address is no credential: a web page can reach the
// loopback listener through the browser).
type Access struct {
	// RequireClientCert answers a request without credentials
	// ErrCertRequired rather than ErrSignInRequired (an exposed admin
	// listener, where practitioners come with their card); an e-CPS
	// session or the operator token still passes.
	RequireClientCert bool
	// VerifyClient checks a TLS client chain as presented in the handshake
	// (rawCerts[0] is the leaf) with the same trust as the intake API
	// (chain, validity, revocation, key usage) and returns the holder's
	// national id. Nil: no certificate is ever accepted.
	VerifyClient func(rawCerts [][]byte) (nationalID string, err error)
	// Practices gives the billing numbers a national id acts for. Nil: a
	// certificate holder who is not an operator sees nothing.
	Practices interface {
		Billings(nationalID string) []string
	}
	// Operators are national ids that see the whole gateway (pipeline,
	// insurers, every sheet). Everyone else with a certificate sees only
	// the sheets of their own billing numbers.
	Operators []string
	// Session, when set, gives the national id of a signed-in session
	// (e-CPS through Pro Santé Connect, gateway/oidcauth). Its holder
	// sees only their own billing numbers, like a certificate holder,
	// unless listed in Operators.
	Session func(r *http.Request) (nationalID string, ok bool)
	// SignIn and SignOut are the URLs of the e-CPS sign-in (GET) and
	// sign-out (POST), shown on every page when set.
	SignIn, SignOut string
	// Operator, when set, tells whether r carries the gateway's operator
	// token (gateway/operator: a bearer token or the cookie of the token
	// sign-in): ok makes r an operator's; an error (a wrong token)
	// refuses r with ErrTokenRefused. Nil: no token is taken.
	Operator func(r *http.Request) (ok bool, err error)
	// TokenSignIn and TokenSignOut are the URLs (POST) of the operator
	// token's sign-in form and sign-out, shown when set.
	TokenSignIn, TokenSignOut string
}

// Viewer is who is looking.
type Viewer struct {
	// NationalID of the client certificate or e-CPS session; empty for an
	// operator signed in with the token.
	NationalID string
	// Operator sees everything.
	Operator bool
	// Billings a practitioner may see.
	Billings []string
	// ECPS: signed in with e-CPS (a session), not a certificate.
	ECPS bool
	// Token: an operator by the operator token.
	Token bool
}

// MaySee reports whether v may see the sheets of a billing number.
func (v *Viewer) MaySee(billing string) bool {
	return v.Operator || slices.Contains(v.Billings, billing)
}

// The codes of the access errors, declared once; Codes lists them. A
// refused operator token carries gateway/operator's OPERATOR_TOKEN_INVALID.
const (
	CodeOperatorRequired problem.Code = "OPERATOR_REQUIRED"
	CodeOperatorOnly     problem.Code = "OPERATOR_ONLY"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeOperatorRequired, Title: "the admin listener's operator views and /admin need an operator: the operator token or an e-CPS operator"},
		{Code: CodeOperatorOnly, Title: "signed in, but not as an operator"},
	}
}

// Access errors; the handler answers 401 for the first four, 403 for the
// others. Those with a documented code (docs/errors.md) carry it.
var (
	ErrCertRequired   = problem.New(CodeOperatorRequired, "client certificate required")
	ErrCertRefused    = errors.New("client certificate refused")
	ErrSignInRequired = problem.New(CodeOperatorRequired, "sign in: with e-CPS, or with the operator token")
	ErrTokenRefused   = problem.New(operator.CodeTokenInvalid, "operator token refused")
	ErrNoBillings     = errors.New("certificate holder acts for no billing number")
	ErrNotYourSheets  = errors.New("not one of your billing numbers")
	ErrOperatorOnly   = problem.New(CodeOperatorOnly, "operators only")
)

// Code is the documented code (docs/errors.md) of an access error, ""
// for those that have none. Only this package's access errors count: a
// refused certificate wraps the signature's reason, whose code is not
// the answer's.
func Code(err error) problem.Code {
	for _, e := range []error{ErrSignInRequired, ErrCertRequired, ErrTokenRefused, ErrOperatorOnly} {
		if errors.Is(err, e) {
			return problem.CodeOf(e)
		}
	}
	return ""
}

// Viewer tells who sent r and what they may see.
func (a *Access) Viewer(r *http.Request) (*Viewer, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		if a.VerifyClient == nil {
			return nil, ErrCertRefused
		}
		raw := make([][]byte, len(r.TLS.PeerCertificates))
		for i, c := range r.TLS.PeerCertificates {
			raw[i] = c.Raw
		}
		id, err := a.VerifyClient(raw)
		if err != nil || id == "" {
			return nil, errors.Join(ErrCertRefused, err)
		}
		if slices.Contains(a.Operators, id) {
			return &Viewer{NationalID: id, Operator: true}, nil
		}
		var b []string
		if a.Practices != nil {
			b = a.Practices.Billings(id)
		}
		if len(b) == 0 {
			return nil, ErrNoBillings
		}
		return &Viewer{NationalID: id, Billings: b}, nil
	}
	if a.Operator != nil {
		ok, err := a.Operator(r)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTokenRefused, err)
		}
		if ok {
			return &Viewer{Operator: true, Token: true}, nil
		}
	}
	if a.Session != nil {
		if id, ok := a.Session(r); ok {
			if slices.Contains(a.Operators, id) {
				return &Viewer{NationalID: id, Operator: true, ECPS: true}, nil
			}
			var b []string
			if a.Practices != nil {
				b = a.Practices.Billings(id)
			}
			if len(b) == 0 {
				return nil, ErrNoBillings
			}
			return &Viewer{NationalID: id, Billings: b, ECPS: true}, nil
		}
	}
	if a.RequireClientCert {
		return nil, ErrCertRequired
	}
	return nil, ErrSignInRequired
}

func accessStatus(err error) int {
	switch {
	case errors.Is(err, ErrCertRequired), errors.Is(err, ErrCertRefused), errors.Is(err, ErrSignInRequired), errors.Is(err, ErrTokenRefused):
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}
