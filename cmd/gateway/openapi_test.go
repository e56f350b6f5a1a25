package main

import (
	"bytes"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
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
	for _, p := range []string{"/v1/sheets", "/v1/batches", "/v1/prescriptions", "/v1/sheets/{number}", "/v1/notices", "/v1/notices/ack"} {
		if paths[p] == nil {
			t.Errorf("docs/openapi.yaml lacks %s", p)
		}
	}
}
