package fastxml_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/internal/fastxml"
)

// callerSettings are the settings the gateway, the fse decoder, the
// signature package and the mock insurers parse with.
var callerSettings = []etree.ReadSettings{
	{PreserveCData: true},
	{MaxDepth: fse.MaxDepth},
	{PreserveDuplicateAttrs: true},
	{PreserveDuplicateAttrs: true, MaxDepth: fse.MaxDepth},
}

// mustHandle checks that the fast path handles data under the callers'
// settings (and gives etree's tree under every combo).
func mustHandle(t *testing.T, name string, data []byte) {
	t.Helper()
	for _, s := range callerSettings {
		if _, ok := fastxml.ReadFast(data, s); !ok {
			_, err := reference(data, s)
			t.Fatalf("%s: fast path declined under %+v (etree: %v)", name, s, err)
		}
	}
	if n := differential(t, data); n == 0 {
		t.Fatalf("%s: handled under no settings", name)
	}
}

func readRepo(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return b
}

func TestHandlesSignatureTestdata(t *testing.T) {
	for _, f := range []string{"signature/testdata/caresheet.xml", "signature/testdata/caresheet-generated.xml"} {
		mustHandle(t, f, readRepo(t, f))
	}
}

// TestHandlesConformanceCases runs the fse conformance cases (the files as
// fse's runner decodes them, header comment included, padding appended):
// every one etree parses must be handled, except those whose point is a
// construct the fast path leaves to etree (DTD, entities).
func TestHandlesConformanceCases(t *testing.T) {
	files, err := filepath.Glob("../../../fse/testdata/cases/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fse conformance case in fse/testdata/cases: %v", err)
	}
	padRE := regexp.MustCompile(`<!--\s*pad:\s*(\d+)\s*-->`)
	handled := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := padRE.FindSubmatch(data); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			data = append(data, bytes.Repeat([]byte(" "), n)...)
		}
		name := filepath.Base(f)
		if _, err := reference(data, etree.ReadSettings{MaxDepth: fse.MaxDepth}); err != nil {
			differential(t, data)
			continue
		}
		if bytes.Contains(data, []byte("<!DOCTYPE")) || bytes.Contains(data, []byte("<!ENTITY")) {
			differential(t, data)
			if _, ok := fastxml.ReadFast(data, etree.ReadSettings{}); ok {
				t.Errorf("%s: fast path handled a DTD", name)
			}
			continue
		}
		mustHandle(t, name, data)
		handled++
	}
	if handled < len(files)/2 {
		t.Errorf("handled only %d of %d cases", handled, len(files))
	}
	t.Logf("%d of %d cases handled", handled, len(files))
}

var labels = []string{
	"Consultation de Mme Hélène Légère-Müller",
	"Pansement & soins <lourds> \"à domicile\" l'après-midi",
	"Œdème — ½ dose, 2× par jour",
	"  espaces\tet\nretours  ",
	"東京 😀",
}

// TestHandlesGeneratedSheets generates sheets of every profession (some
// breaking a rule, labels with accents and characters to escape), signs
// one in four with the doctor's card key, and checks the fast path
// handles them all.
func TestHandlesGeneratedSheets(t *testing.T) {
	tariffs := loadTariffs(t)
	signer, cert := cardKey(t, "doctor")
	now := time.Date(2026, time.March, 18, 10, 30, 0, 0, time.UTC)
	practitioners := []fse.Practitioner{
		{IDType: fse.IDTypeRPPS, ID: "99700218896", NationalID: "899700218896", Billing: "751000019", Profession: fse.ProfessionDoctor, Specialty: "01"},
		{IDType: fse.IDTypeRPPS, ID: "99700075122", NationalID: "899700075122", Billing: "751000027", Profession: fse.ProfessionPharmacist, Specialty: "00", FINESS: "750712184"},
		{IDType: fse.IDTypeADELI, ID: "012800736", NationalID: "0012800736", Billing: "751000035", Profession: fse.ProfessionNurse, Specialty: "00"},
	}
	breaks := append([]string{""}, fse.Breakable()...)
	n := 300
	seen := []string{"&amp;", "&lt;", "é", "😀", "<ds:Signature", "<xades:", "\t"}
	count := make([]int, len(seen))
	if testing.Short() {
		n = 60
	}
	for i := 0; i < n; i++ {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		s, err := fse.Generate(r, fse.GenerateOptions{
			Now: now, Practitioners: practitioners, Tariffs: tariffs,
			Number: i + 1, Break: breaks[i%len(breaks)],
		})
		if err != nil {
			t.Fatalf("generate %d: %v", i, err)
		}
		for j := range s.Lines {
			if (i+j)%2 == 0 {
				s.Lines[j].Label = labels[(i+j)%len(labels)]
			}
		}
		data := s.Encode()
		if i%4 == 0 {
			data, err = signature.SignOptions{Now: func() time.Time { return now }}.Sign(t.Context(), data, signer, []*x509.Certificate{cert})
			if err != nil {
				t.Fatalf("sign %d: %v", i, err)
			}
		}
		mustHandle(t, "sheet "+strconv.Itoa(i), data)
		for k, sub := range seen {
			if strings.Contains(string(data), sub) {
				count[k]++
			}
		}
	}
	for k, sub := range seen {
		if count[k] == 0 {
			t.Errorf("no generated sheet contains %q: the test does not cover it", sub)
		}
	}
}

func loadTariffs(t testing.TB) *fse.Tariffs {
	t.Helper()
	b, err := fixtures.ReadFile("tariffs/ngap.csv")
	if err != nil {
		t.Fatalf("read fixtures/tariffs/ngap.csv: %v", err)
	}
	tar, err := fse.ParseTariffs(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return tar
}

func cardKey(t testing.TB, card string) (crypto.MessageSigner, *x509.Certificate) {
	t.Helper()
	base := "pki/cards/" + card + "-sig"
	kb, err := fixtures.ReadFile(base + ".key")
	if err != nil {
		t.Fatalf("read fixture %s.key: %v (run 'make fixtures')", base, err)
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		t.Fatalf("%s.key: no PEM block", base)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := fixtures.ReadFile(base + ".crt")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := signature.ParseCertificates(cb)
	if err != nil || len(certs) == 0 {
		t.Fatalf("%s.crt: %v", base, err)
	}
	return signature.MessageSigner{Signer: k.(crypto.Signer)}, certs[0]
}
