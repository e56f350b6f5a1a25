package registry

import (
	"sort"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/dashboard"
	"github.com/fsegate/fsegate/gateway/oidcauth"
	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/gateway/practices"
	"github.com/fsegate/fsegate/gateway/rx"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/internal/secretfile"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/localapi"
	"github.com/fsegate/fsegate/workstation/reconcile"
)

// List is the explicit list of one package.
type List struct {
	Package string // import path below the module, e.g. "gateway/rx"
	Codes   []problem.Info
}

// Lists are the lists of every package that raises codes.
func Lists() []List {
	return []List{
		{"api", api.Codes()},
		{"fse", fse.Infos()},
		{"signature", signature.Codes()},
		{"workstation", workstation.Codes()},
		{"workstation/reconcile", reconcile.Codes()},
		{"workstation/localapi", localapi.Codes()},
		{"gateway/practices", practices.Codes()},
		{"gateway/rx", rx.Codes()},
		{"queue", queue.Codes()},
		{"insurers", insurers.Codes()},
		{"gateway/operator", operator.Codes()},
		{"gateway/dashboard", dashboard.Codes()},
		{"gateway/oidcauth", oidcauth.Codes()},
		{"internal/secretfile", secretfile.Codes()},
		{"internal/cli", cli.Codes()},
	}
}

// Code is one code of the registry: its entry in its package's list, the
// package, and its HTTP status (0 for a warning, which never refuses).
type Code struct {
	problem.Info
	Package string
	Status  int
}

// Codes lists every code, sorted by name. A code listed by two packages
// appears twice (the tests refuse it).
func Codes() []Code {
	var out []Code
	for _, l := range Lists() {
		for _, c := range l.Codes {
			st, _ := api.Lookup(c.Code)
			out = append(out, Code{Info: c, Package: l.Package, Status: st.Status})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Lookup gives the code named name.
func Lookup(name problem.Code) (Code, bool) {
	for _, c := range Codes() {
		if c.Code == name {
			return c, true
		}
	}
	return Code{}, false
}
