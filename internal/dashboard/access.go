package dashboard

import (
	"errors"
	"net"
	"net/http"
	"slices"
)

// Access decides who may see what. The zero value serves operators on
// loopback only: a request from another address is refused unless it
// comes over TLS with a client certificate that VerifyClient accepts.
type Access struct {
	// RequireClientCert refuses every request without a verified client
	// certificate, loopback included (an exposed admin listener).
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
	// (e-CPS through Pro Santé Connect, internal/oidcauth). Without a
	// client certificate, a valid session comes before the loopback rule:
	// its holder sees only their own billing numbers, like a certificate
	// holder.
	Session func(r *http.Request) (nationalID string, ok bool)
	// SignIn and SignOut are the URLs of the e-CPS sign-in (GET) and
	// sign-out (POST), shown on every page when set.
	SignIn, SignOut string
}

// Viewer is who is looking.
type Viewer struct {
	// NationalID of the client certificate; empty for a loopback operator.
	NationalID string
	// Operator sees everything.
	Operator bool
	// Billings a practitioner may see.
	Billings []string
	// ECPS: signed in with e-CPS (a session), not a certificate.
	ECPS bool
}

// MaySee reports whether v may see the sheets of a billing number.
func (v *Viewer) MaySee(billing string) bool {
	return v.Operator || slices.Contains(v.Billings, billing)
}

// Access errors; the handler answers 401 for the first two, 403 for the
// others.
var (
	ErrCertRequired  = errors.New("client certificate required")
	ErrCertRefused   = errors.New("client certificate refused")
	ErrNotLoopback   = errors.New("dashboard reached from another host without a client certificate")
	ErrNoBillings    = errors.New("certificate holder acts for no billing number")
	ErrNotYourSheets = errors.New("not one of your billing numbers")
)

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
	if !loopback(r.RemoteAddr) {
		return nil, ErrNotLoopback
	}
	return &Viewer{Operator: true}, nil
}

func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func accessStatus(err error) int {
	if errors.Is(err, ErrCertRequired) || errors.Is(err, ErrCertRefused) {
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}
