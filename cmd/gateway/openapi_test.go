package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/internal/cli"
)

// TestOpenAPICommitted keeps the served copy and docs/openapi.yaml equal
// and parseable.
func TestOpenAPICommitted(t *testing.T) {
	doc, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, openapiYAML) {
		t.Fatal("cmd/gateway/openapi.yaml differs from docs/openapi.yaml: cp docs/openapi.yaml cmd/gateway/")
	}
	var v map[string]any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	paths, _ := v["paths"].(map[string]any)
	for _, p := range []string{"/v1/sheets", "/v1/batches", "/v1/prescriptions", "/v1/sheets/{number}", "/v1/notices", "/v1/notices/ack", "/v1/payments"} {
		if paths[p] == nil {
			t.Errorf("docs/openapi.yaml lacks %s", p)
		}
	}
}

// TestConfigFileDocumented loads fixtures/gateway.yaml: every key is
// known, and flags win over it.
func TestConfigFileDocumented(t *testing.T) {
	m := &Main{}
	env := &cli.Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}
	if err := m.ParseFlags(env, []string{"--config", "../../fixtures/gateway.yaml", "--listen", "127.0.0.1:9999"}); err != nil {
		t.Fatal(err)
	}
	if m.Listen != "127.0.0.1:9999" || m.Admin != "127.0.0.1:8080" || !m.Dev || !m.Mock || m.Sync != "interval" || m.GCPercent != 400 || m.MaxBatch != 1000 || m.DrainYield != 0 || m.YieldRate != 400 {
		t.Fatalf("config: %+v", m)
	}
	m = &Main{}
	if err := m.ParseFlags(env, []string{"--config", "../../fixtures/gateway.yaml", "--drain-yield", "4"}); err != nil || m.DrainYield != 4 {
		t.Fatalf("--drain-yield 4 over the file: %d, %v", m.DrainYield, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("lisen: x\n"), 0o600)
	if err := (&Main{}).ParseFlags(env, []string{"--config", bad}); err == nil {
		t.Fatal("unknown key accepted")
	}
}
