package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/api/registry"
	"github.com/fsegate/fsegate/problem"
)

// documented reads the codes docs/errors.md explains: its "### CODE"
// headings.
func documented(t *testing.T) map[problem.Code]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[problem.Code]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### ([A-Z0-9_]+)\s*$`).FindAllStringSubmatch(string(b), -1) {
		out[problem.Code(m[1])] = true
	}
	return out
}

// TestListsAndStatuses: a code is declared by one package; every code
// that refuses has an error status in api's table, a warning has none,
// and the table names no code that no package lists.
func TestListsAndStatuses(t *testing.T) {
	by := map[problem.Code]string{}
	for _, c := range registry.Codes() {
		if other, ok := by[c.Code]; ok {
			t.Errorf("code %s is listed by %s and by %s", c.Code, other, c.Package)
		}
		by[c.Code] = c.Package
		switch {
		case c.Warning && c.Status != 0:
			t.Errorf("warning %s (%s) has HTTP status %d: a warning never refuses", c.Code, c.Package, c.Status)
		case !c.Warning && (c.Status < 400 || c.Status > 599):
			t.Errorf("code %s (%s) has no error status in api's table (api/codes.go): %d", c.Code, c.Package, c.Status)
		}
		if c.Title == "" || strings.HasSuffix(c.Title, ".") {
			t.Errorf("code %s (%s): title %q: one line, no final period", c.Code, c.Package, c.Title)
		}
	}
	for code := range api.Statuses() {
		if _, ok := by[code]; !ok {
			t.Errorf("api's table gives %s a status, but no package lists it", code)
		}
	}
}

// TestDocsMatchRegistry keeps docs/errors.md and the registry in step:
// every code has a "### CODE" section and every section names a code.
func TestDocsMatchRegistry(t *testing.T) {
	doc := documented(t)
	for _, c := range registry.Codes() {
		if !doc[c.Code] {
			t.Errorf("code %s (%s) has no '### %s' section in docs/errors.md", c.Code, c.Package, c.Code)
		}
	}
	for name := range doc {
		if _, ok := registry.Lookup(name); !ok {
			t.Errorf("docs/errors.md documents %s, which no package lists", name)
		}
	}
}

// codeLike is the form of a code: capitals and digits, words joined by
// underscores.
var codeLike = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// notCodes are the code-like strings of the source that are not error
// codes of fsegate, each with why; those of them that doc names must be
// written there (in backquotes).
var notCodes = []struct {
	pattern *regexp.Regexp
	why     string
	doc     string
}{
	{regexp.MustCompile(`^(FSEGATE|XDG)_[A-Z0-9_]+$|^SOFTHSM2_CONF$`), "environment variables", ""},
	{regexp.MustCompile(`^FSE_[A-Z]+$|^(ACK_ROUTER|SCOR_BATCHER)$`), "NATS JetStream streams and consumers (queue/topology.go, insurers/lot)", ""},
	{regexp.MustCompile(`^CPS_(PRIV_)?(AUT|SIG)$`), "labels of the CPS card's keys and certificates (signature/card, PKCS#11)", ""},
	{regexp.MustCompile(`^(LOT|RET)_[A-Z_]+$|^(SIG_INFO|SCOR_PIECE|W_PARTIAL|X_REVERSAL)$`), "what the mock insurers answer (ARL reasons, rejections of returns, kinds of transfer lines): data carried to the practice, never a refusal of fsegate", "../docs/lots.md"},
}

// notCode tells whether s is one of notCodes, and the doc that must name
// it ("" for none).
func notCode(s string) (bool, string) {
	for _, n := range notCodes {
		if n.pattern.MatchString(s) {
			return true, n.doc
		}
	}
	return false, ""
}

// raised is every code the module's non-test source names: each string
// literal of a code's form, each constant declared as a problem.Code (or
// a package's Code, an alias of it) and each problem.Code("…")
// conversion, whatever its form (REQUIRED, LATE). Keys are the codes,
// values a place that names each.
func raised(t *testing.T, root string) map[problem.Code]string {
	t.Helper()
	out := map[problem.Code]string{}
	add := func(fset *token.FileSet, lit *ast.BasicLit, always bool) {
		if lit == nil || lit.Kind != token.STRING {
			return
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil || s == "" || (!always && !codeLike.MatchString(s)) {
			return
		}
		// Where it is raised rather than api's table of statuses.
		if at, ok := out[problem.Code(s)]; !ok || strings.Contains(at, "api/codes.go:") {
			out[problem.Code(s)] = fset.Position(lit.Pos()).String()
		}
	}
	isCodeType := func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.SelectorExpr:
			x, ok := e.X.(*ast.Ident)
			return ok && x.Name == "problem" && e.Sel.Name == "Code"
		case *ast.Ident:
			return e.Name == "Code"
		}
		return false
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				add(fset, n, false)
			case *ast.ValueSpec:
				if n.Type != nil && isCodeType(n.Type) {
					for _, v := range n.Values {
						lit, _ := v.(*ast.BasicLit)
						add(fset, lit, true)
					}
				}
			case *ast.CallExpr:
				if len(n.Args) == 1 && isCodeType(n.Fun) {
					lit, _ := n.Args[0].(*ast.BasicLit)
					add(fset, lit, true)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRaisedCodesDocumented: a code named anywhere in the module's non-test
// source (a literal in cmd/, a constant of a library) is listed by its
// package and documented in docs/errors.md, unless it is one of notCodes.
func TestRaisedCodesDocumented(t *testing.T) {
	doc := documented(t)
	found := raised(t, "..")
	if len(found) < 100 {
		t.Fatalf("the scan found %d codes: is the root right?", len(found))
	}
	var names []string
	for c := range found {
		names = append(names, string(c))
	}
	sort.Strings(names)
	for _, name := range names {
		c := problem.Code(name)
		if ok, docPath := notCode(name); ok {
			if docPath != "" {
				b, err := os.ReadFile(docPath)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), "`"+name+"`") {
					t.Errorf("%s: %s is not listed in %s", found[c], name, docPath)
				}
			}
			continue
		}
		if _, ok := registry.Lookup(c); !ok {
			t.Errorf("%s: %s looks like an error code, but no package lists it (add it to its package's Codes, or to notCodes with why)", found[c], c)
		}
		if !doc[c] {
			t.Errorf("%s: code %s has no '### %s' section in docs/errors.md", found[c], c, c)
		}
	}
}
