package revocation

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/signature"
)

// TestRefreshFailures: a CRL URL that fails and a trust directory that is
// gone are each counted, logged and returned, and the store keeps its
// CRLs; the fixtures' CRLs, far from their next update at the clock given,
// raise no warning, and one past it is logged.
func TestRefreshFailures(t *testing.T) {
	trust, err := signature.LoadFS(fixtures.FS(), "pki", "root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl")
	if err != nil {
		t.Fatal(err)
	}
	held := len(trust.CRLs())
	if held == 0 {
		t.Fatal("the fixtures' store holds no CRL")
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	var logs bytes.Buffer
	failures := 0
	first := trust.CRLs()[0]
	r := &Refresher{
		Trust: trust, Dir: filepath.Join(t.TempDir(), "gone"), URLs: []string{down.URL + "/a.crl"}, Every: time.Hour,
		Now:    func() time.Time { return first.ThisUpdate.Add(time.Minute) },
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Failed: func(n int) { failures += n },
	}
	if err := r.Refresh(t.Context()); err == nil {
		t.Fatal("got no error, want the directory's and the URL's")
	}
	if failures != 2 {
		t.Errorf("got %d failures counted, want 2 (the directory, the URL)", failures)
	}
	if len(trust.CRLs()) != held {
		t.Errorf("the store holds %d CRLs, held %d", len(trust.CRLs()), held)
	}
	for _, want := range []string{"trust directory not read again", "CRL not fetched"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "nears its next update") || strings.Contains(logs.String(), "past its next update") {
		t.Errorf("a fresh CRL was reported:\n%s", logs.String())
	}

	logs.Reset()
	r.Dir, r.URLs = "", nil
	r.Now = func() time.Time { return first.NextUpdate.Add(time.Second) }
	_ = r.Refresh(t.Context())
	if !strings.Contains(logs.String(), "CRL past its next update") {
		t.Errorf("a stale CRL was not reported:\n%s", logs.String())
	}
	if got := r.WarnBefore(); got != 6*time.Hour {
		t.Errorf("WarnBefore at a refresh every hour: got %s, want 6h", got)
	}
	if got := (&Refresher{Every: 5 * time.Hour}).WarnBefore(); got != 10*time.Hour {
		t.Errorf("WarnBefore at a refresh every 5 h: got %s, want 10h", got)
	}
}
