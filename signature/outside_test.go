package signature

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures/testenv"
)

// outsideUnchecked lists, per outside verifier, the conformance vectors that
// should fail and that it accepts, with the property it does not check
// (docs/signatures.md, "Outside verifiers"). Every other vector that should
// fail must be refused by it; every VALID one accepted.
var outsideUnchecked = map[string]map[string]string{
	"xmlsec1": {
		"algorithm-weak-key":          "key size (1024-bit RSA)",
		"card-type-cpf":               "card type (a CPF may not bill)",
		"crl-stale":                   "revocation (xmlsec1 1.2 takes no CRL on its command line)",
		"revoked":                     "revocation (xmlsec1 1.2 takes no CRL on its command line)",
		"key-usage-auth-key":          "key usage (nonRepudiation)",
		"malformed-doctype":           "DOCTYPE refusal",
		"parse-duplicate-id":          "duplicate Id attributes",
		"parse-encoding-latin1":       "UTF-8 only",
		"parse-keyinfo-caresheet":     "the shape of KeyInfo",
		"parse-keyinfo-deep":          "the shape of KeyInfo",
		"parse-keyinfo-junk":          "the shape of KeyInfo",
		"signer-mismatch":             "who signed against who the sheet names",
		"signing-time-too-old":        "the signing time's age",
		"wrapped-extra-object":        "where the signature sits and what else it carries (wrapping)",
		"wrapped-moved":               "where the signature sits and what else it carries (wrapping)",
		"wrapped-unsigned-properties": "where the signature sits and what else it carries (wrapping)",
	},
	"xadesjs": {
		"algorithm-weak-key":           "key size (1024-bit RSA)",
		"card-type-cpf":                "card type (a CPF may not bill)",
		"crl-stale":                    "revocation",
		"revoked":                      "revocation",
		"expired":                      "certificate validity",
		"untrusted":                    "the trust chain",
		"key-usage-auth-key":           "key usage (nonRepudiation)",
		"malformed-doctype":            "DOCTYPE refusal",
		"parse-duplicate-id":           "duplicate Id attributes",
		"parse-encoding-latin1":        "UTF-8 only",
		"parse-keyinfo-caresheet":      "the shape of KeyInfo",
		"parse-keyinfo-deep":           "the shape of KeyInfo",
		"parse-keyinfo-junk":           "the shape of KeyInfo",
		"parse-processing-instruction": "processing instructions in the signed content",
		"signer-mismatch":              "who signed against who the sheet names",
		"signing-time-too-old":         "the signing time's age",
		"wrapped-duplicated":           "where the signature sits and what else it carries (wrapping)",
		"wrapped-extra-object":         "where the signature sits and what else it carries (wrapping)",
		"wrapped-unsigned-properties":  "where the signature sits and what else it carries (wrapping)",
	},
}

var expectRe = regexp.MustCompile(`(?m)^expect: (\S+)`)

// TestOutsideVerifiersVectors: every conformance vector through xmlsec1
// and xadesjs. VALID ones verify; the others are refused, except where the
// verifier does not check that property (outsideUnchecked, which the test
// keeps exact: a verifier that starts refusing one must be moved out of
// the list, and docs/signatures.md with it).
func TestOutsideVerifiersVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	expect := map[string]string{}
	for _, f := range files {
		m := expectRe.FindSubmatch(readFile(t, f))
		if m == nil {
			t.Fatalf("%s: no expect: header", f)
		}
		expect[f] = string(m[1])
	}
	for name, got := range map[string]map[string]error{
		"xmlsec1": testenv.Xmlsec1(t, vectorNow, files...),
		"xadesjs": testenv.Xadesjs(t, files...),
	} {
		for _, f := range files {
			vec := strings.TrimSuffix(filepath.Base(f), ".xml")
			why, unchecked := outsideUnchecked[name][vec]
			switch {
			case expect[f] == "VALID" && got[f] != nil:
				t.Errorf("%s refused %s (expect VALID): %v", name, vec, got[f])
			case expect[f] != "VALID" && !unchecked && got[f] == nil:
				t.Errorf("%s accepted %s (expect %s)", name, vec, expect[f])
			case expect[f] != "VALID" && unchecked && got[f] != nil:
				t.Errorf("%s now refuses %s (listed as not checking %s): %v; update outsideUnchecked and docs/signatures.md", name, vec, why, got[f])
			}
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
