package httpapi

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

// FuzzBatchBody drives the batch body parser of POST /v1/batches (NDJSON
// of base64 sheets or JSON objects, multipart parts) with arbitrary bodies
// and content types: it never panics, never hands more items than
// --max-batch nor an item over the read cap (--max-body + 1 for a part,
// which the per-item check refuses; an NDJSON line is capped at twice
// --max-body), numbers them in order, and returns either items (and maybe
// where it stopped) or errors.
func FuzzBatchBody(f *testing.F) {
	f.Add("application/x-ndjson", []byte("\"PGE+PC9hPg==\"\n{\"id\":\"x\",\"sheet\":\"PGEvPg==\"}\n"))
	f.Add("application/x-ndjson", []byte("\"a\"\n\"b\"\n\"c\"\n\"d\"\n\"e\"\n\"f\"\n"))
	f.Add("", []byte("{\"id\":1}\n"))
	f.Add("multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"s\"; filename=\"1.xml\"\r\n\r\n<a/>\r\n--XX--\r\n"))
	f.Add("multipart/mixed; boundary=", []byte("--\r\n\r\n"))
	f.Add("text/plain", []byte("hello"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		m := &Server{MaxBody: 512, MaxBatch: 5, MaxBatchBytes: 4096}
		r := httptest.NewRequest("POST", "/v1/batches", bytes.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		var sheets [][]byte
		stop, errs := m.readBatch(w, r, func(i int, _ string, raw []byte) {
			if i != len(sheets)+1 {
				t.Fatalf("item %d after %d items", i, len(sheets))
			}
			sheets = append(sheets, raw)
		})
		if len(errs) > 0 && (len(sheets) > 0 || stop != nil) {
			t.Fatalf("both items (%d) or a stop and errors %v", len(sheets), errs)
		}
		if stop != nil && stop.err.Code == "" {
			t.Fatalf("a stop without a code: %+v", stop)
		}
		if len(sheets) > m.MaxBatch {
			t.Fatalf("%d items over the limit of %d", len(sheets), m.MaxBatch)
		}
		for i, s := range sheets {
			if int64(len(s)) > 2*m.MaxBody {
				t.Fatalf("item %d: %d bytes over the limit of %d", i, len(s), m.MaxBody)
			}
		}
		for _, e := range errs {
			if e.Code == "" {
				t.Fatalf("an error without a code: %+v", e)
			}
		}
	})
}
