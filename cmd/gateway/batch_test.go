package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
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
	// Over the item limit: the items read are answered (the batch is
	// streamed, not held whole), reading stops with BATCH_TOO_LARGE at the
	// first item over it.
	resp, out = post(`"a"`, `"b"`, `"c"`, `"d"`, `"e"`)
	items = out["items"].([]any)
	last := items[len(items)-1].(map[string]any)
	if resp.StatusCode != http.StatusOK || len(items) != 4 || last["index"] != float64(4) || last["status"] != float64(http.StatusRequestEntityTooLarge) ||
		!bytes.Contains([]byte(fmt.Sprint(last["problem"])), []byte("BATCH_TOO_LARGE")) {
		t.Fatalf("too many items: %d %v", resp.StatusCode, out)
	}
}

// batchClient is an HTTPS client with card's authentication key.
func batchClient(t *testing.T, card string) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: fixtureRoots(t), Certificates: []tls.Certificate{*cardTLS(t, card)}, MaxVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// postStream posts body (of unknown length) as an NDJSON batch.
func postStream(t *testing.T, hc *http.Client, m *Main, body io.Reader) (int, map[string]any) {
	t.Helper()
	resp, err := hc.Post("https://"+m.APIAddr()+"/v1/batches", "application/x-ndjson", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// junkLines writes n NDJSON items of size bytes each (refused per item).
func junkLines(w *io.PipeWriter, n, size int) {
	line := []byte(`"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("<"), size)) + "\"\n")
	for range n {
		if _, err := w.Write(line); err != nil {
			return
		}
	}
	w.Close()
}

// TestBatchStreamed: a batch is read and checked item by item, never held
// whole. 200 items of 512 KiB (100 MiB, 133 MiB as base64) keep the
// gateway's heap near where it was; buffering them, as before, held them
// all.
func TestBatchStreamed(t *testing.T) {
	m := startGateway(t, "--max-batch-bytes", strconv.Itoa(256<<20))
	hc := batchClient(t, "doctor")
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := base.HeapInuse
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			default:
			}
			// ReadMemStats stops the world: sampled every millisecond,
			// not in a tight loop (which took a minute under -race), it
			// still sees a heap that holds the 100 MiB batch.
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			time.Sleep(time.Millisecond)
		}
	}()
	pr, pw := io.Pipe()
	go junkLines(pw, 200, 512<<10)
	status, out := postStream(t, hc, m, pr)
	close(done)
	<-sampled
	if status != http.StatusOK || out["refused"] != float64(200) {
		t.Fatalf("got %d, refused %v; want 200 and 200 items refused", status, out["refused"])
	}
	if grew := int64(peak) - int64(base.HeapInuse); grew > 64<<20 {
		t.Fatalf("the heap grew by %d MiB reading a 100 MiB batch, want under 64 MiB", grew>>20)
	}
}

// TestBatchLimits: the byte cap stops a chunked batch where it is crossed
// (the items before are answered); a declared length over it is refused
// before anything is read; a card has at most --max-batches-per-client
// batches in progress, another card is not held back by it.
func TestBatchLimits(t *testing.T) {
	m := startGateway(t, "--max-batch-bytes", strconv.Itoa(1<<20), "--max-batches-per-client", "1")
	doctor := batchClient(t, "doctor")

	pr, pw := io.Pipe()
	go junkLines(pw, 4, 300<<10) // 400 KB of base64 each: the third crosses 1 MiB
	status, out := postStream(t, doctor, m, pr)
	items, _ := out["items"].([]any)
	if status != http.StatusOK || len(items) != 3 {
		t.Fatalf("chunked batch over the byte cap: %d %v", status, out)
	}
	last := items[2].(map[string]any)
	if last["status"] != float64(http.StatusRequestEntityTooLarge) || !strings.Contains(fmt.Sprint(last["problem"]), "BATCH_TOO_LARGE") {
		t.Fatalf("the item where reading stopped: %v", last)
	}

	big := bytes.Repeat([]byte("\"YQ==\"\n"), (2<<20)/7)
	resp, err := doctor.Post("https://"+m.APIAddr()+"/v1/batches", "application/x-ndjson", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte("BATCH_TOO_LARGE")) || bytes.Contains(b, []byte(`"items"`)) {
		t.Fatalf("declared length over the cap: %d %s", resp.StatusCode, b)
	}

	// One batch in progress (its body still open), a second of the same
	// card is refused; another card's is taken.
	held, holder := io.Pipe()
	first := make(chan int)
	go func() {
		s, _ := postStream(t, doctor, m, held)
		first <- s
	}()
	if _, err := holder.Write([]byte("\"YQ==\"\n")); err != nil { // the first batch is being read
		t.Fatal(err)
	}
	status, out = postStream(t, doctor, m, strings.NewReader("\"YQ==\"\n"))
	if status != http.StatusTooManyRequests || !strings.Contains(fmt.Sprint(out), "TOO_MANY_REQUESTS") {
		t.Fatalf("second batch of the same card: %d %v", status, out)
	}
	if status, out = postStream(t, batchClient(t, "nurse"), m, strings.NewReader("\"YQ==\"\n")); status != http.StatusOK {
		t.Fatalf("another card's batch: %d %v", status, out)
	}
	holder.Close()
	if s := <-first; s != http.StatusOK {
		t.Fatalf("the first batch: %d", s)
	}
}
