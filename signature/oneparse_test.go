package signature

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOneParse keeps ParseDocument the only reader of signed XML: no Go
// file outside signature/ (and fse/, whose decoder reads unsigned input)
// calls etree's reader, encoding/xml's decoder or the fast parser. A second
// reader with its own settings is how intake once accepted what every
// other reader refused.
func TestOneParse(t *testing.T) {
	readers := regexp.MustCompile(`\.ReadFrom(Bytes|String|File)\(|signature/internal/fastxml|xml\.NewDecoder|xml\.Unmarshal|\.ReadSettings`)
	root := filepath.Join("..")
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "signature", "fse", ".git", "node_modules", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		seen++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if readers.MatchString(line) {
				t.Errorf("%s:%d reads XML itself: %s (read signed bytes with signature.ParseDocument)", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Fatalf("only %d Go files seen outside signature/ and fse/: is the walk rooted at the module?", seen)
	}
}
