package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

// caller is who authenticated the connection.
type caller struct {
	NationalID string
	Billings   []string
}

type handler func(w http.ResponseWriter, r *http.Request, c *caller)

func refuse(w http.ResponseWriter, title string, errs ...api.Error) {
	api.WriteProblem(w, api.NewProblem(title, errs))
}

// authed checks the client certificate before anything of the request is
// read: no certificate, an untrusted, expired or revoked one is refused and
// the connection closed without reading the body.
func (m *Main) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			w.Header().Set("Connection", "close")
			refuse(w, "client certificate required", api.NewError("CLIENT_CERT_REQUIRED", "", "no client certificate", "connect with the CPS card's authentication key"))
			return
		}
		id, err := m.verifyConn(r)
		if err != nil {
			w.Header().Set("Connection", "close")
			errs := sigErrors(err)
			p := api.NewProblem("client certificate refused", errs)
			p.Status = http.StatusUnauthorized
			api.WriteProblem(w, p)
			return
		}
		h(w, r, &caller{NationalID: id.NationalID, Billings: m.practices.Billings(id.NationalID)})
	}
}

// readAuthed is authed for the endpoints that only read or follow (a
// sheet's state, the notices and their confirmation): without a client
// certificate, a Pro Santé Connect bearer access token (e-CPS) is accepted
// too, its national id claim being the caller. Writing stays card-only.
func (m *Main) readAuthed(h handler) http.HandlerFunc {
	card := m.authed(h)
	return func(w http.ResponseWriter, r *http.Request) {
		if (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) && r.Header.Get("Authorization") != "" {
			c, ok := m.bearerCaller(w, r)
			if ok {
				h(w, r, c)
			}
			return
		}
		card(w, r)
	}
}

// connAuth caches a connection's verified client identity: a keep-alive
// connection is checked once per authCacheAge, not on every request.
type connAuth struct {
	mu  sync.Mutex
	id  signature.Identity
	err error
	at  time.Time
}

type connAuthKey struct{}

// authCacheAge bounds how long a connection's check stands (a CRL refresh
// reaches open connections within it).
const authCacheAge = 5 * time.Minute

func withConnAuth(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connAuthKey{}, &connAuth{})
}

func (m *Main) verifyConn(r *http.Request) (signature.Identity, error) {
	ca, _ := r.Context().Value(connAuthKey{}).(*connAuth)
	if ca == nil {
		ca = &connAuth{}
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if !ca.at.IsZero() && time.Since(ca.at) < authCacheAge {
		return ca.id, ca.err
	}
	raw := make([][]byte, len(r.TLS.PeerCertificates))
	for i, c := range r.TLS.PeerCertificates {
		raw[i] = c.Raw
	}
	ca.id, ca.err = m.trust.VerifyClient(raw)
	ca.at = time.Now()
	return ca.id, ca.err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func dryRun(r *http.Request) bool {
	v := r.URL.Query().Get("dry_run")
	return v == "true" || v == "1"
}

// readBody reads at most limit bytes; over it, BODY_TOO_LARGE.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		refuse(w, "request too large", api.NewError("BODY_TOO_LARGE", "", fmt.Sprintf("the body is over %d bytes", limit), ""))
		return nil, false
	case err != nil:
		refuse(w, "request not read", api.NewError("REQUEST_INVALID", "", "the body could not be read", ""))
		return nil, false
	}
	return b, true
}

func (m *Main) postSheet(w http.ResponseWriter, r *http.Request, c *caller) {
	raw, ok := readBody(w, r, m.MaxBody)
	if !ok {
		m.metrics.refused.WithLabelValues("BODY_TOO_LARGE").Inc()
		return
	}
	res := m.pipe.submit(r.Context(), raw, c.NationalID, dryRun(r))
	if len(res.Errors) > 0 {
		refuse(w, "care sheet refused", res.Errors...)
		return
	}
	status := http.StatusCreated
	if res.Receipt.Again || res.Receipt.DryRun {
		status = http.StatusOK
	}
	writeJSON(w, status, sheetReceipt{Receipt: res.Receipt, Warnings: res.Warnings})
}

// batchItem is one result of POST /v1/batches.
type batchItem struct {
	Index    int           `json:"index"`
	ID       string        `json:"id,omitempty"`
	Status   int           `json:"status"`
	Receipt  *sheetReceipt `json:"receipt,omitempty"`
	Problem  *api.Problem  `json:"problem,omitempty"`
	Warnings []api.Error   `json:"-"`
}

// readBatch splits a batch into sheets: NDJSON (one base64 sheet per line,
// as a JSON string or {"id": …, "sheet": …}) or multipart (one sheet per
// part).
func (m *Main) readBatch(w http.ResponseWriter, r *http.Request) (ids []string, sheets [][]byte, errs []api.Error) {
	body := http.MaxBytesReader(w, r.Body, m.MaxBody*int64(m.MaxBatch))
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	tooMany := func() []api.Error {
		return []api.Error{api.NewError("BATCH_TOO_LARGE", "", fmt.Sprintf("more than %d items", m.MaxBatch), "split the batch")}
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				return nil, nil, []api.Error{api.NewError("REQUEST_INVALID", "", "multipart body: "+err.Error(), "")}
			}
			if len(sheets) >= m.MaxBatch {
				return nil, nil, tooMany()
			}
			b, err := io.ReadAll(io.LimitReader(p, m.MaxBody+1))
			if err != nil {
				return nil, nil, []api.Error{api.NewError("REQUEST_INVALID", "", "multipart body: "+err.Error(), "")}
			}
			ids = append(ids, p.FileName())
			sheets = append(sheets, b)
		}
	case mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/json-seq" || mt == "":
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), int(m.MaxBody)*2)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			if len(sheets) >= m.MaxBatch {
				return nil, nil, tooMany()
			}
			var item struct {
				ID    string `json:"id"`
				Sheet string `json:"sheet"`
			}
			if line[0] == '"' {
				if err := json.Unmarshal(line, &item.Sheet); err != nil {
					return nil, nil, []api.Error{api.NewError("REQUEST_INVALID", fmt.Sprintf("items/%d", len(sheets)+1), "not a JSON string", "")}
				}
			} else if err := json.Unmarshal(line, &item); err != nil {
				return nil, nil, []api.Error{api.NewError("REQUEST_INVALID", fmt.Sprintf("items/%d", len(sheets)+1), "not a JSON object", "")}
			}
			b, err := base64.StdEncoding.DecodeString(item.Sheet)
			if err != nil {
				b = nil // refused per item below
			}
			ids = append(ids, item.ID)
			sheets = append(sheets, b)
		}
		if err := sc.Err(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, []api.Error{api.NewError("BODY_TOO_LARGE", "", "the batch is over the size limit", "split the batch")}
			}
			return nil, nil, []api.Error{api.NewError("REQUEST_INVALID", "", "NDJSON body: "+err.Error(), "")}
		}
		return
	}
	return nil, nil, []api.Error{api.NewError("REQUEST_INVALID", "", "content type "+mt+": want application/x-ndjson or multipart/form-data", "")}
}

func (m *Main) postBatch(w http.ResponseWriter, r *http.Request, c *caller) {
	ids, sheets, errs := m.readBatch(w, r)
	if len(errs) > 0 {
		refuse(w, "batch refused", errs...)
		return
	}
	dry := dryRun(r)
	items := make([]batchItem, len(sheets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0)*2)
	for i, raw := range sheets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			it := batchItem{Index: i + 1, ID: ids[i]}
			var res *result
			switch {
			case raw == nil:
				res = &result{Errors: []api.Error{api.NewError("REQUEST_INVALID", fmt.Sprintf("items/%d", i+1), "not base64", "")}}
			case int64(len(raw)) > m.MaxBody:
				res = &result{Errors: []api.Error{api.NewError("BODY_TOO_LARGE", fmt.Sprintf("items/%d", i+1), "the sheet is over the size limit", "")}}
			default:
				res = m.pipe.submit(r.Context(), raw, c.NationalID, dry)
			}
			it.Status = res.status()
			if len(res.Errors) > 0 {
				p := api.NewProblem("care sheet refused", res.Errors)
				it.Problem = &p
			} else {
				it.Receipt = &sheetReceipt{Receipt: res.Receipt, Warnings: res.Warnings}
				if !res.Receipt.Again && !dry {
					it.Status = http.StatusCreated
				}
			}
			items[i] = it
		}()
	}
	wg.Wait()
	accepted := 0
	for _, it := range items {
		if it.Problem == nil {
			accepted++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "accepted": accepted, "refused": len(items) - accepted})
}

func (m *Main) postPrescription(w http.ResponseWriter, r *http.Request, c *caller) {
	raw, ok := readBody(w, r, m.MaxBody*8)
	if !ok {
		return
	}
	res, err := m.pipe.verifier.VerifyPDF(raw)
	if err != nil {
		refuse(w, "prescription refused", sigErrors(err)...)
		return
	}
	var errs []api.Error
	if res.Signer.NationalID != c.NationalID {
		errs = append(errs, api.NewError("SENDER_MISMATCH", "", "the prescription is signed by another professional than the sender", "send with the card that signed"))
	}
	id := r.URL.Query().Get("id")
	if id == "" {
		id = prescriptionID(res)
	}
	if !queue.ValidToken(id) {
		errs = append(errs, api.NewError("REQUEST_INVALID", "id", "no prescription id (give ?id= or put it in the PDF subject)", ""))
	}
	prescriber := strings.TrimPrefix(res.Signer.NationalID, "8") // RPPS from the IDNPS
	if len(errs) > 0 {
		refuse(w, "prescription refused", errs...)
		return
	}
	if dryRun(r) {
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "prescriber": prescriber, "dry_run": true})
		return
	}
	if err := m.queue.StorePrescription(r.Context(), prescriber, id, raw); err != nil {
		refuse(w, "prescription not kept", api.NewError("QUEUE_UNAVAILABLE", "", "the queue did not confirm the write", "send again"))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "prescriber": prescriber, "signed_at": res.SigningTime})
}

// prescriptionID finds the prescription id in the PDF: the "id" of the
// structured data 'workstation prescribe' embeds (prescription.json), an
// "id" attachment, a "prescription-id:" keyword, or the subject.
func prescriptionID(res *signature.PDFResult) string {
	if b, ok := res.Attachments["prescription.json"]; ok {
		var rx struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &rx) == nil && rx.ID != "" {
			return rx.ID
		}
	}
	for _, k := range []string{"id", "prescription-id", "prescription.id"} {
		if b, ok := res.Attachments[k]; ok {
			return strings.TrimSpace(string(b))
		}
	}
	for _, kw := range strings.FieldsFunc(res.Keywords, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		if v, ok := strings.CutPrefix(kw, "prescription-id:"); ok {
			return v
		}
	}
	return strings.TrimSpace(res.Subject)
}

// billingOf picks the billing number a read request is about: the query's,
// if the caller acts for it, or the caller's only one.
func billingOf(w http.ResponseWriter, r *http.Request, c *caller) (string, bool) {
	b := r.URL.Query().Get("billing")
	if b == "" && len(c.Billings) == 1 {
		b = c.Billings[0]
	}
	if b == "" {
		refuse(w, "billing number needed", api.NewError("REQUEST_INVALID", "billing", "give ?billing=", ""))
		return "", false
	}
	if !slices.Contains(c.Billings, b) {
		refuse(w, "not your billing number", api.NewError("SENDER_MISMATCH", "billing", "the caller does not act for billing number "+b, ""))
		return "", false
	}
	return b, true
}

func (m *Main) getSheet(w http.ResponseWriter, r *http.Request, c *caller) {
	billing, ok := billingOf(w, r, c)
	if !ok {
		return
	}
	st, err := m.queue.Status(r.Context(), billing, r.PathValue("number"))
	switch {
	case errors.Is(err, queue.ErrNotFound):
		http.Error(w, "no such sheet", http.StatusNotFound)
		return
	case err != nil:
		refuse(w, "state not read", api.NewError("QUEUE_UNAVAILABLE", "", "the status store did not answer", "try again"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (m *Main) getNotices(w http.ResponseWriter, r *http.Request, c *caller) {
	billing, ok := billingOf(w, r, c)
	if !ok {
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			refuse(w, "bad wait", api.NewError("REQUEST_INVALID", "wait", "wait is a duration like 30s", ""))
			return
		}
		wait = min(d, 60*time.Second)
	}
	ctx := r.Context()
	ns, err := m.queue.Notices(ctx, billing, 100, wait)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		refuse(w, "notices not read", api.NewError("QUEUE_UNAVAILABLE", "", "the notice stream did not answer", "try again"))
		return
	}
	cur, _ := m.queue.NoticeCursor(ctx, billing)
	if ns == nil {
		ns = []queue.Notice{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"billing": billing, "cursor": cur, "notices": ns})
}

func (m *Main) postNoticesAck(w http.ResponseWriter, r *http.Request, c *caller) {
	raw, ok := readBody(w, r, 4096)
	if !ok {
		return
	}
	var body struct {
		Billing string `json:"billing"`
		Seq     uint64 `json:"seq"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Seq == 0 {
		refuse(w, "bad confirmation", api.NewError("REQUEST_INVALID", "", `want {"billing": "…", "seq": N}`, ""))
		return
	}
	q := r.URL.Query()
	q.Set("billing", body.Billing)
	r.URL.RawQuery = q.Encode()
	billing, ok := billingOf(w, r, c)
	if !ok {
		return
	}
	cur, err := m.queue.ConfirmNotices(r.Context(), billing, body.Seq)
	if err != nil {
		refuse(w, "confirmation not kept", api.NewError("QUEUE_UNAVAILABLE", "", "the cursor store did not answer", "confirm again"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"billing": billing, "cursor": cur})
}

func (m *Main) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/sheets", m.authed(m.postSheet))
	mux.HandleFunc("POST /v1/batches", m.authed(m.postBatch))
	mux.HandleFunc("POST /v1/prescriptions", m.authed(m.postPrescription))
	mux.HandleFunc("GET /v1/sheets/{number}", m.readAuthed(m.getSheet))
	mux.HandleFunc("GET /v1/notices", m.readAuthed(m.getNotices))
	mux.HandleFunc("POST /v1/notices/ack", m.readAuthed(m.postNoticesAck))
	mux.HandleFunc("GET /openapi.yaml", serveOpenAPI)
	mux.HandleFunc("GET /v1/openapi.yaml", serveOpenAPI)
}
