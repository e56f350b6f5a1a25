package api

import (
	"os"
	"regexp"
	"testing"

	"github.com/fsegate/fsegate/gateway/oidcauth"
	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/internal/secretfile"
)

// TestDocsMatchRegistry keeps docs/errors.md and the registry in step: every
// code has an anchor (a "### CODE" heading) and every documented code exists.
func TestDocsMatchRegistry(t *testing.T) {
	b, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### ([A-Z0-9_]+)\s*$`).FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
	}
	for _, c := range Codes() {
		if !documented[c.Name] {
			t.Errorf("code %s is registered but has no '### %s' section in docs/errors.md", c.Name, c.Name)
		}
		if c.Status < 400 || c.Status > 599 {
			t.Errorf("code %s: HTTP status %d is not an error status", c.Name, c.Status)
		}
	}
	for name := range documented {
		if _, ok := Lookup(name); !ok {
			t.Errorf("docs/errors.md documents %s, which no package registers", name)
		}
	}
}

// TestOIDCAuthCodesRegistered: every code gateway/oidcauth gives is
// registered, with the same title.
func TestOIDCAuthCodesRegistered(t *testing.T) {
	for _, c := range oidcauth.Codes() {
		got, ok := Lookup(string(c.Code))
		if !ok {
			t.Errorf("oidcauth code %s is not registered", c.Code)
			continue
		}
		if got.Title != c.Title {
			t.Errorf("%s: registered title %q, oidcauth's %q", c.Code, got.Title, c.Title)
		}
	}
}

// TestAdminCodesRegistered: the codes of gateway/operator and
// internal/secretfile are registered.
func TestAdminCodesRegistered(t *testing.T) {
	names := []string{secretfile.CodeUnsafe}
	for _, e := range operator.Codes() {
		names = append(names, e.Code)
	}
	for _, n := range names {
		if _, ok := Lookup(n); !ok {
			t.Errorf("code %s is not registered", n)
		}
	}
}
