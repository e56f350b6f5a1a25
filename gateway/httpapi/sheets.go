package httpapi

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
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/intake"
	"github.com/fsegate/fsegate/gateway/practices"
	"github.com/fsegate/fsegate/queue"
)

// sheetReceipt is the JSON of a receipt: the queue's receipt and the
// warnings of the rules.
type sheetReceipt struct {
	*queue.Receipt
	Warnings []api.Error `json:"warnings,omitempty"`
}

func (s *Server) postSheet(w http.ResponseWriter, r *http.Request, c *caller) {
	raw, ok := readBody(w, r, s.MaxBody)
	if !ok {
		s.Intake.Refused(string(api.CodeBodyTooLarge))
		return
	}
	res := s.Intake.Submit(r.Context(), raw, c.NationalID, dryRun(r))
	if len(res.Errors) > 0 {
		Error(w, r, Refuse("care sheet refused", res.Errors...))
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

// batchLimit is what ends the reading of a batch early: the item where
// reading stopped gets it as its problem (the items before it are
// processed, the rest are not read).
type batchLimit struct {
	err api.Error
}

// readBatch reads a batch item by item, handing each to fn as it comes
// (index from 1; raw nil when the item is not base64): NDJSON (one base64
// sheet per line, as a JSON string or {"id": …, "sheet": …}) or multipart
// (one sheet per part). Nothing but the item being read is held: a batch
// is not buffered whole. Past --max-batch items or --max-batch-bytes, it
// stops and returns the limit; a body that cannot be read at all returns
// errs (then fn was not called).
func (s *Server) readBatch(w http.ResponseWriter, r *http.Request, fn func(i int, id string, raw []byte)) (stop *batchLimit, errs []api.Error) {
	body := &capReader{r: http.MaxBytesReader(w, r.Body, s.MaxBatchBytes)}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	n := 0
	tooMany := &batchLimit{api.NewError(api.CodeBatchTooLarge, "", fmt.Sprintf("more than %d items: this item and the next were not read", s.MaxBatch), "send them in another batch")}
	readErr := func(err error, what string) (*batchLimit, []api.Error) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &batchLimit{api.NewError(api.CodeBatchTooLarge, "", fmt.Sprintf("the batch is over %d bytes: this item and the next were not read", s.MaxBatchBytes), "send them in another batch")}, nil
		}
		if n == 0 {
			return nil, []api.Error{api.NewError(api.CodeRequestInvalid, "", what+": "+err.Error(), "")}
		}
		return &batchLimit{api.NewError(api.CodeRequestInvalid, "", what+": "+err.Error()+": this item and the next were not read", "")}, nil
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil, nil
			}
			if err != nil {
				return readErr(err, "multipart body")
			}
			if n >= s.MaxBatch {
				return tooMany, nil
			}
			b, err := io.ReadAll(io.LimitReader(p, s.MaxBody+1))
			if err != nil {
				return readErr(err, "multipart body")
			}
			n++
			fn(n, p.FileName(), b)
		}
	case mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/json-seq" || mt == "":
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), int(s.MaxBody)*2)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			if n >= s.MaxBatch {
				return tooMany, nil
			}
			var item struct {
				ID    string `json:"id"`
				Sheet string `json:"sheet"`
			}
			var err error
			if line[0] == '"' {
				err = json.Unmarshal(line, &item.Sheet)
			} else {
				err = json.Unmarshal(line, &item)
			}
			if err != nil {
				if body.err != nil {
					// The line was cut by the byte cap: the scanner hands
					// over what it had read (complete lines parse).
					return readErr(body.err, "NDJSON body")
				}
				what := "not a JSON object"
				if line[0] == '"' {
					what = "not a JSON string"
				}
				return readErr(errors.New(what), fmt.Sprintf("items/%d", n+1))
			}
			b, err := base64.StdEncoding.DecodeString(item.Sheet)
			if err != nil {
				b = nil // refused per item
			}
			n++
			fn(n, item.ID, b)
		}
		if err := sc.Err(); err != nil {
			return readErr(err, "NDJSON body")
		}
		return nil, nil
	}
	return nil, []api.Error{api.NewError(api.CodeRequestInvalid, "", "content type "+mt+": want application/x-ndjson or multipart/form-data", "")}
}

// capReader remembers the byte cap's error, so that a line it cut is not
// taken for an item.
type capReader struct {
	r   io.Reader
	err error
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		c.err = err
	}
	return n, err
}

// postBatch checks and queues each item as it is read, a few at a time:
// every item read gets its own result; a bad item never sinks the good
// ones; where reading stopped (a limit, a broken body) is the last result.
func (s *Server) postBatch(w http.ResponseWriter, r *http.Request, c *caller) {
	release, ok := s.slots.take(c.NationalID)
	if !ok {
		Error(w, r, Refuse("too many batches at once", api.NewError(api.CodeTooManyRequests, "", fmt.Sprintf("%s already has %d batches in progress", c.NationalID, s.MaxBatchesPerClient), "wait for them to end, then send this one")))
		return
	}
	defer release()
	if r.ContentLength > s.MaxBatchBytes {
		closeUnread(w, r)
		Error(w, r, Refuse("batch refused", api.NewError(api.CodeBatchTooLarge, "", fmt.Sprintf("the batch is %d bytes, over the limit of %d", r.ContentLength, s.MaxBatchBytes), "split the batch")))
		return
	}
	dry := dryRun(r)
	var (
		mu    sync.Mutex
		items []batchItem
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0)*2)
	stop, errs := s.readBatch(w, r, func(i int, id string, raw []byte) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			it := batchItem{Index: i, ID: id}
			var res *intake.Result
			switch {
			case raw == nil:
				res = &intake.Result{Errors: []api.Error{api.NewError(api.CodeRequestInvalid, fmt.Sprintf("items/%d", i), "not base64", "")}}
			case int64(len(raw)) > s.MaxBody:
				res = &intake.Result{Errors: []api.Error{api.NewError(api.CodeBodyTooLarge, fmt.Sprintf("items/%d", i), "the sheet is over the size limit", "")}}
			default:
				res = s.Intake.Submit(r.Context(), raw, c.NationalID, dry)
			}
			if len(res.Errors) > 0 {
				it.Status, it.Problem = problemOf(Refuse("care sheet refused", res.Errors...))
			} else {
				it.Status = http.StatusOK
				it.Receipt = &sheetReceipt{Receipt: res.Receipt, Warnings: res.Warnings}
				if !res.Receipt.Again && !dry {
					it.Status = http.StatusCreated
				}
			}
			mu.Lock()
			items = append(items, it)
			mu.Unlock()
		}()
	})
	wg.Wait()
	if len(errs) > 0 {
		Error(w, r, Refuse("batch refused", errs...))
		return
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Index < items[j].Index })
	if stop != nil {
		st, p := problemOf(Refuse("batch not read to the end", stop.err))
		items = append(items, batchItem{Index: len(items) + 1, Status: st, Problem: p})
	}
	accepted := 0
	for _, it := range items {
		if it.Problem == nil {
			accepted++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "accepted": accepted, "refused": len(items) - accepted})
}

// batchSlots bounds the batches one client has in progress at once
// (--max-batches-per-client): a batch holds workers and a connection for
// as long as it is read.
type batchSlots struct {
	max  int
	mu   sync.Mutex
	busy map[string]int
}

func (s *batchSlots) take(client string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy == nil {
		s.busy = map[string]int{}
	}
	if s.busy[client] >= s.max {
		return nil, false
	}
	s.busy[client]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.busy[client]--; s.busy[client] == 0 {
			delete(s.busy, client)
		}
	}, true
}

// billingOf picks the billing number a read request is about: the query's,
// if the caller acts for it, or the caller's only one.
func billingOf(w http.ResponseWriter, r *http.Request, c *caller) (string, bool) {
	return billingCheck(w, r, r.URL.Query().Get("billing"), c)
}

// billingCheck is billingOf for a billing number b given otherwise.
func billingCheck(w http.ResponseWriter, r *http.Request, b string, c *caller) (string, bool) {
	if b == "" && len(c.Billings) == 1 {
		b = c.Billings[0]
	}
	if b == "" {
		Error(w, r, Refuse("billing number needed", api.NewError(api.CodeRequestInvalid, "billing", "give ?billing=", "")))
		return "", false
	}
	if !slices.Contains(c.Billings, b) {
		Error(w, r, Refuse("not your billing number", api.NewError(practices.CodeSenderMismatch, "billing", "the caller does not act for billing number "+b, "")))
		return "", false
	}
	return b, true
}

func (s *Server) getSheet(w http.ResponseWriter, r *http.Request, c *caller) {
	// {number} is the sheet number, or the sheet's id as printed
	// (BILLING-NUMBER, or BILLING.NUMBER), whose billing number stands for
	// ?billing=.
	idBilling, number, err := fse.ParseSheetID(r.PathValue("number"))
	if err != nil {
		Error(w, r, Refuse("bad sheet id", api.NewError(api.CodeRequestInvalid, "number", err.Error(), "name the sheet as 751000019-000100002 or by its number")))
		return
	}
	b := r.URL.Query().Get("billing")
	if idBilling != "" {
		if b != "" && b != idBilling {
			Error(w, r, Refuse("billing numbers differ", api.NewError(api.CodeRequestInvalid, "billing", "?billing= names another billing number than the sheet id", "")))
			return
		}
		b = idBilling
	}
	billing, ok := billingCheck(w, r, b, c)
	if !ok {
		return
	}
	st, err := s.Queue.Status(r.Context(), billing, number)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		Error(w, r, errNoSuchSheet)
		return
	case err != nil:
		Error(w, r, Refuse("state not read", api.NewError(queue.CodeUnavailable, "", "the status store did not answer", "try again")))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) getNotices(w http.ResponseWriter, r *http.Request, c *caller) {
	billing, ok := billingOf(w, r, c)
	if !ok {
		return
	}
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			Error(w, r, Refuse("bad wait", api.NewError(api.CodeRequestInvalid, "wait", "wait is a duration like 30s", "")))
			return
		}
		wait = min(d, 60*time.Second)
	}
	ctx := r.Context()
	ns, err := s.Queue.Notices(ctx, billing, 100, wait)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		Error(w, r, Refuse("notices not read", api.NewError(queue.CodeUnavailable, "", "the notice stream did not answer", "try again")))
		return
	}
	cur, _ := s.Queue.NoticeCursor(ctx, billing)
	if ns == nil {
		ns = []queue.Notice{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"billing": billing, "cursor": cur, "notices": ns})
}

func (s *Server) postNoticesAck(w http.ResponseWriter, r *http.Request, c *caller) {
	raw, ok := readBody(w, r, 4096)
	if !ok {
		return
	}
	var body struct {
		Billing string `json:"billing"`
		Seq     uint64 `json:"seq"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Seq == 0 {
		Error(w, r, Refuse("bad confirmation", api.NewError(api.CodeRequestInvalid, "", `want {"billing": "…", "seq": N}`, "")))
		return
	}
	q := r.URL.Query()
	q.Set("billing", body.Billing)
	r.URL.RawQuery = q.Encode()
	billing, ok := billingOf(w, r, c)
	if !ok {
		return
	}
	cur, err := s.Queue.ConfirmNotices(r.Context(), billing, body.Seq)
	if err != nil {
		Error(w, r, Refuse("confirmation not kept", api.NewError(queue.CodeUnavailable, "", "the cursor store did not answer", "confirm again")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"billing": billing, "cursor": cur})
}
