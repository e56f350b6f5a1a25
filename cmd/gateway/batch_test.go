package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// TestBatches posts an NDJSON batch with good and bad items: every item
// gets its own result, a bad one never sinks the others.
func TestBatches(t *testing.T) {
	m := startGateway(t, "--max-batch", "3")
	sm := newSheetMaker(t)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: fixtureRoots(t), Certificates: []tls.Certificate{*cardTLS(t, "doctor")}, MaxVersion: tls.VersionTLS12}}}
	post := func(lines ...string) (*http.Response, map[string]any) {
		t.Helper()
		var body bytes.Buffer
		for _, l := range lines {
			body.WriteString(l + "\n")
		}
		resp, err := hc.Post("https://"+m.APIAddr()+"/v1/batches", "application/x-ndjson", &body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp, out
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	good1 := sm.make("cpam751", 7001, "", 1).Signed
	good2 := sm.make("cpam931", 7002, "", 2).Signed
	bad := sm.make("cpam751", 7003, "NIR_KEY", 3).Signed
	resp, out := post(`"`+b64(good1)+`"`, fmt.Sprintf(`{"id":"b","sheet":%q}`, b64(bad)), fmt.Sprintf(`{"id":"c","sheet":%q}`, b64(good2)))
	if resp.StatusCode != http.StatusOK || out["accepted"] != float64(2) || out["refused"] != float64(1) {
		t.Fatalf("batch: %d %v", resp.StatusCode, out)
	}
	items := out["items"].([]any)
	second := items[1].(map[string]any)
	if second["id"] != "b" || second["status"] != float64(http.StatusUnprocessableEntity) {
		t.Fatalf("bad item: %v", second)
	}
	codes := fmt.Sprint(second["problem"])
	if !bytes.Contains([]byte(codes), []byte("NIR_KEY")) {
		t.Fatalf("bad item's problem lacks NIR_KEY: %s", codes)
	}
	if items[0].(map[string]any)["status"] != float64(http.StatusCreated) {
		t.Fatalf("good item: %v", items[0])
	}
	// Over the item limit: the whole request refused.
	resp, out = post(`"a"`, `"b"`, `"c"`, `"d"`)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains([]byte(fmt.Sprint(out)), []byte("BATCH_TOO_LARGE")) {
		t.Fatalf("too many items: %d %v", resp.StatusCode, out)
	}
}
