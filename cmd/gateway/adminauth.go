package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strings"

	"github.com/fsegate/fsegate/gateway/dashboard"
	"github.com/fsegate/fsegate/gateway/httpapi"
	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/internal/secretfile"
)

// AdminAuthConfig is how the admin listener is guarded
// (docs/operations.md, "Security"): the Host header against an allow-list
// and the origin of state-changing requests on every request; operators
// (the operator token, or e-CPS for the national ids of Operators) for
// /admin/*, /debug/pprof/ and the dashboard's operator views; /healthz,
// /readyz, /metrics and /openapi.yaml open behind the Host check.
type AdminAuthConfig struct {
	// Hosts the Host header may name (default: the --admin address's
	// host, localhost, 127.0.0.1 and ::1).
	Hosts []string
	// Operators are the national ids that are operators when they sign in
	// with e-CPS (or come with their card's certificate).
	Operators []string
	// TokenFile holds the operator token (default
	// <data dir>/operator.token; --dev creates it, owner-only).
	TokenFile string
	// PProf serves /debug/pprof/ (to operators only).
	PProf bool

	guard  *operator.Guard
	access *dashboard.Access
}

func (c *AdminAuthConfig) flags(fs *flag.FlagSet) {
	fs.Func("admin-hosts", "comma-separated `names` the admin listener answers to in the Host header (default: the --admin host, localhost, 127.0.0.1, ::1)", func(v string) error {
		c.Hosts = splitList(v)
		return nil
	})
	fs.Func("operators", "comma-separated national `ids` that are operators when they sign in with e-CPS", func(v string) error {
		c.Operators = splitList(v)
		return nil
	})
	fs.StringVar(&c.TokenFile, "operator-token-file", "", "operator token `file`, owner-only (default <data-dir>/operator.token; --dev creates it)")
	fs.BoolVar(&c.PProf, "pprof", false, "serve /debug/pprof/ on the admin listener, to operators")
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// operatorTokenFile is the default name of the token file in the data dir.
const operatorTokenFile = "operator.token"

// setupAdminAuth reads (in --dev: creates) the operator token file and
// builds the guard of the admin listener and the access rules shared by
// the dashboard and /admin/*.
func (m *Main) setupAdminAuth() error {
	c := &m.AdminAuth
	path, explicit := c.TokenFile, c.TokenFile != ""
	if !explicit {
		path = filepath.Join(m.DataDir, operatorTokenFile)
	}
	var token string
	var err error
	switch {
	case m.Dev:
		token, err = secretfile.ReadOrCreate(path)
	default:
		token, err = secretfile.Read(path)
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			m.Logger.Warn("no operator token file: operators sign in with e-CPS only (--operators)", "file", path)
			token, err = "", nil
		}
	}
	switch {
	case err != nil:
		return secretErr("operator token file", path, err, "create it with 'umask 077; openssl rand -hex 32 > "+path+"', or use --dev")
	case token != "" && len(token) < 16:
		return fmt.Errorf("operator token file %s: the token is too short (16 characters at least)", path)
	}
	if token != "" {
		m.Logger.Info("operator token: paste it on the dashboard's sign-in page; gateway resubmit and audit verify read the file", "file", path)
	}
	hosts := c.Hosts
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
		if h, _, err := net.SplitHostPort(m.Admin); err == nil && h != "" {
			if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
				hosts = append(hosts, h)
			}
		}
	}
	c.guard = &operator.Guard{Hosts: hosts, Token: token, Now: m.Now, Refuse: httpapi.RefuseOperator}
	c.access = &dashboard.Access{
		VerifyClient: func(raw [][]byte) (string, error) {
			id, err := m.trust.VerifyClient(raw)
			return id.NationalID, err
		},
		Practices: m.practices,
		Operators: c.Operators,
	}
	if token != "" {
		c.access.Operator = c.guard.Operator
		c.access.TokenSignIn, c.access.TokenSignOut = "/auth/operator", "/auth/operator/logout"
	}
	return nil
}
