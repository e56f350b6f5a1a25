package dashboard

import (
	"context"
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/queue"
)

//go:embed templates/*.html static/*
var files embed.FS

// Config configures a Dashboard. Gatherer is required.
type Config struct {
	// Gatherer is the registry /metrics serves: every figure shown is
	// read from it.
	Gatherer prometheus.Gatherer
	// Store reads sheets, lots and rejections; nil: those pages answer
	// 503 and the pipeline page still works.
	Store Store
	// Insurers are the insurer ids of the directory: each is listed on the
	// pipeline page even before its first lot, and an insurer page of
	// another id answers 404. Nil: any id (its page lists its lots, if any).
	Insurers []string
	// Access decides who sees what (zero value: no one).
	Access Access
	// Interval between samples of the throughput series and between
	// Server-Sent Events (1 s).
	Interval time.Duration
	// Window is how much throughput history the chart shows (5 min).
	Window time.Duration
	// Now is the clock; nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Dashboard is the HTTP handler of the dashboard: mount it at "/" of the
// admin listener (it serves "/" and "/dashboard/...").
type Dashboard struct {
	cfg    Config
	ctx    context.Context // ends the event streams (the gateway stops)
	series *series
	mux    *http.ServeMux
	pages  map[string]*template.Template
	log    *slog.Logger
}

// New builds the dashboard and samples the metrics every Interval until
// ctx ends.
func New(ctx context.Context, cfg Config) (*Dashboard, error) {
	if cfg.Gatherer == nil {
		return nil, errors.New("dashboard: no metrics gatherer")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Window <= 0 {
		cfg.Window = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dashboard{cfg: cfg, ctx: ctx, series: newSeries(int(cfg.Window/cfg.Interval) + 1), log: cfg.Logger, pages: map[string]*template.Template{}}
	for _, p := range []string{"pipeline", "lots", "sheet", "rejects", "payments", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", p, err)
		}
		d.pages[p] = t
	}
	static, _ := fs.Sub(files, "static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.pipeline)
	mux.HandleFunc("GET /dashboard/{$}", d.pipeline)
	mux.HandleFunc("GET /dashboard/snapshot", d.snapshotJSON)
	mux.HandleFunc("GET /dashboard/events", d.events)
	mux.HandleFunc("GET /dashboard/insurers/{insurer}", d.lots)
	mux.HandleFunc("GET /dashboard/sheet", d.sheetLookup)
	mux.HandleFunc("GET /dashboard/sheets/{billing}/{number}", d.sheet)
	mux.HandleFunc("GET /dashboard/sheets/{id}", d.sheetByID)
	mux.HandleFunc("GET /dashboard/practices/{billing}/rejects", d.rejects)
	mux.HandleFunc("GET /dashboard/rejects", d.rejectsLookup)
	mux.HandleFunc("GET /dashboard/practices/{billing}/payments", d.payments)
	mux.HandleFunc("GET /dashboard/payments", d.paymentsLookup)
	mux.Handle("GET /dashboard/static/", http.StripPrefix("/dashboard/static/", http.FileServerFS(static)))
	d.mux = mux
	d.sample()
	go d.run(ctx)
	return d, nil
}

func (d *Dashboard) run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.sample()
		}
	}
}

func (d *Dashboard) sample() {
	s, err := Read(d.cfg.Gatherer, d.cfg.Now())
	if err != nil {
		d.log.Warn("dashboard sample", "err", err)
		return
	}
	d.series.add(s.Time, s.Received)
}

// Snapshot reads the metrics now, with the throughput series.
func (d *Dashboard) Snapshot() (*Snapshot, error) {
	s, err := Read(d.cfg.Gatherer, d.cfg.Now())
	if err != nil {
		return nil, err
	}
	s.Throughput = d.series.rates()
	for _, ins := range d.cfg.Insurers {
		if !slices.Contains(s.Insurers, ins) {
			s.Insurers = append(s.Insurers, ins)
		}
	}
	slices.Sort(s.Insurers)
	return s, nil
}

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if strings.HasPrefix(r.URL.Path, "/dashboard/static/") {
		d.mux.ServeHTTP(w, r)
		return
	}
	v, err := d.cfg.Access.Viewer(r)
	if err != nil {
		d.fail(w, r, accessStatus(err), err)
		return
	}
	d.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
}

type viewerKey struct{}

func viewerOf(r *http.Request) *Viewer {
	v, _ := r.Context().Value(viewerKey{}).(*Viewer)
	if v == nil {
		return &Viewer{}
	}
	return v
}

type page struct {
	Title  string
	Viewer *Viewer
	Snap   *Snapshot
	Data   any
	Error  string
	Status int
	// SignIn and SignOut: the e-CPS sign-in links (Access.SignIn, SignOut).
	SignIn, SignOut string
	// TokenSignIn and TokenSignOut: the operator token's (Access).
	TokenSignIn, TokenSignOut string
	// Code of the error shown (docs/errors.md), when it has one.
	Code string
}

func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	p.Viewer = viewerOf(r)
	p.SignIn, p.SignOut = d.cfg.Access.SignIn, d.cfg.Access.SignOut
	p.TokenSignIn, p.TokenSignOut = d.cfg.Access.TokenSignIn, d.cfg.Access.TokenSignOut
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := d.pages[name].Execute(w, p); err != nil {
		d.log.Warn("dashboard render", "page", name, "err", err)
	}
}

func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fsegate admin"`)
	}
	d.render(w, r, "error", status, page{Title: http.StatusText(status), Error: err.Error(), Status: status, Code: string(Code(err))})
}

// operator lets operators through; a practitioner is sent to their own
// rejects page.
func (d *Dashboard) operator(w http.ResponseWriter, r *http.Request) bool {
	v := viewerOf(r)
	if v.Operator {
		return true
	}
	if len(v.Billings) > 0 && r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/dashboard/snapshot") && r.URL.Path != "/dashboard/events" {
		http.Redirect(w, r, "/dashboard/practices/"+url.PathEscape(v.Billings[0])+"/rejects", http.StatusSeeOther)
		return false
	}
	d.fail(w, r, http.StatusForbidden, ErrOperatorOnly)
	return false
}

func (d *Dashboard) pipeline(w http.ResponseWriter, r *http.Request) {
	if !d.operator(w, r) {
		return
	}
	s, err := d.Snapshot()
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	d.render(w, r, "pipeline", http.StatusOK, page{Title: "Pipeline", Snap: s})
}

func (d *Dashboard) snapshotJSON(w http.ResponseWriter, r *http.Request) {
	if !d.operator(w, r) {
		return
	}
	s, err := d.Snapshot()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s)
}

// events streams a snapshot every Interval as Server-Sent Events until the
// client goes away or the dashboard's context ends (so a graceful shutdown
// of the listener is not held by an open browser).
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	if !d.operator(w, r) {
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: %d\n\n", d.cfg.Interval.Milliseconds()*2)
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		s, err := d.Snapshot()
		if err == nil {
			b, _ := json.Marshal(s)
			if _, err := fmt.Fprintf(w, "event: snapshot\ndata: %s\n\n", b); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Dashboard) store(w http.ResponseWriter, r *http.Request) bool {
	if d.cfg.Store == nil {
		d.fail(w, r, http.StatusServiceUnavailable, errors.New("the queue is not connected"))
		return false
	}
	return true
}

type lotsData struct {
	Insurer string
	Lots    []lotRow
	Max     int
}

type lotRow struct {
	*queue.LotRecord
	Count, Final int
	Short        string
}

func (d *Dashboard) lots(w http.ResponseWriter, r *http.Request) {
	if !d.operator(w, r) || !d.store(w, r) {
		return
	}
	ins := r.PathValue("insurer")
	if d.cfg.Insurers != nil && !slices.Contains(d.cfg.Insurers, ins) {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no insurer %q in the directory (%s)", ins, strings.Join(d.cfg.Insurers, ", ")))
		return
	}
	const max = 200
	lots, err := d.cfg.Store.Lots(r.Context(), ins, max)
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	s, err := d.Snapshot()
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	data := lotsData{Insurer: ins, Max: max}
	for _, l := range lots {
		data.Lots = append(data.Lots, lotRow{LotRecord: l, Count: len(l.Sheets), Final: len(l.Done)})
	}
	d.render(w, r, "lots", http.StatusOK, page{Title: "Lots of " + ins, Snap: s, Data: data})
}

// sheetLookup finds the sheet of the form's "sheet" field, named as every
// fsegate tool prints it (751000019-000100002), with a dot, or by its
// number alone for a viewer of one billing number; or of the "billing"
// and "number" fields.
func (d *Dashboard) sheetLookup(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.FormValue("sheet"))
	if id == "" {
		id = strings.TrimSpace(r.FormValue("number"))
		if b := strings.TrimSpace(r.FormValue("billing")); b != "" && id != "" {
			id = b + "-" + id
		} else if id == "" {
			id = b
		}
	}
	b, n, err := fse.ParseSheetID(id)
	if err == nil && b == "" {
		if v := viewerOf(r); len(v.Billings) == 1 {
			b = v.Billings[0]
		} else {
			err = errors.New("want the sheet's billing number too: 751000019-000100002")
		}
	}
	if err != nil {
		d.fail(w, r, http.StatusBadRequest, err)
		return
	}
	http.Redirect(w, r, "/dashboard/sheets/"+url.PathEscape(b)+"/"+url.PathEscape(n), http.StatusSeeOther)
}

// sheetByID is a sheet's page under its printed id,
// /dashboard/sheets/751000019-000100002: a redirect to its page.
func (d *Dashboard) sheetByID(w http.ResponseWriter, r *http.Request) {
	b, n, err := fse.ParseSheetID(r.PathValue("id"))
	if err != nil || b == "" {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no sheet %s: name it as 751000019-000100002", r.PathValue("id")))
		return
	}
	http.Redirect(w, r, "/dashboard/sheets/"+url.PathEscape(b)+"/"+url.PathEscape(n), http.StatusSeeOther)
}

func (d *Dashboard) rejectsLookup(w http.ResponseWriter, r *http.Request) {
	b := strings.TrimSpace(r.FormValue("billing"))
	if b == "" {
		d.fail(w, r, http.StatusBadRequest, errors.New("want a billing number"))
		return
	}
	http.Redirect(w, r, "/dashboard/practices/"+url.PathEscape(b)+"/rejects", http.StatusSeeOther)
}

func (d *Dashboard) sheet(w http.ResponseWriter, r *http.Request) {
	billing, number := r.PathValue("billing"), r.PathValue("number")
	if !viewerOf(r).MaySee(billing) {
		d.fail(w, r, http.StatusForbidden, ErrNotYourSheets)
		return
	}
	if !d.store(w, r) {
		return
	}
	st, err := d.cfg.Store.Status(r.Context(), billing, number)
	if errors.Is(err, queue.ErrNotFound) {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no sheet %s", fse.SheetID(billing, number)))
		return
	}
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	d.render(w, r, "sheet", http.StatusOK, page{Title: "Sheet " + fse.SheetID(billing, number), Data: st})
}

// Reject is one sheet an insurer rejected and that was not corrected yet.
type Reject struct {
	Billing, Number, Insurer, Code, Detail string
	Time                                   time.Time
	State                                  queue.State
}

type rejectsData struct {
	Billing  string
	Rejects  []Reject
	Refusals []IntakeRefusal
	Others   []string
}

// IntakeRefusal is a sheet the gateway's intake refused, with its state
// since ("" when it was never queued: still to send again or correct).
type IntakeRefusal struct {
	queue.Refusal
	State queue.State
}

// intakeRefusals lists a billing number's intake refusals when the store
// keeps them (RefusalStore).
func (d *Dashboard) intakeRefusals(ctx context.Context, billing string) ([]IntakeRefusal, error) {
	rs, ok := d.cfg.Store.(RefusalStore)
	if !ok {
		return nil, nil
	}
	list, err := rs.Refusals(ctx, billing, 500)
	if err != nil {
		return nil, err
	}
	out := make([]IntakeRefusal, 0, len(list))
	for _, r := range list {
		ir := IntakeRefusal{Refusal: r}
		if st, err := d.cfg.Store.Status(ctx, r.Billing, r.Number); err == nil {
			ir.State = st.State
		}
		out = append(out, ir)
	}
	return out, nil
}

func (d *Dashboard) rejects(w http.ResponseWriter, r *http.Request) {
	billing := r.PathValue("billing")
	v := viewerOf(r)
	if !v.MaySee(billing) {
		d.fail(w, r, http.StatusForbidden, ErrNotYourSheets)
		return
	}
	if !d.store(w, r) {
		return
	}
	rs, err := d.Rejects(r.Context(), billing)
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if r.FormValue("format") == "csv" {
		writeCSV(w, billing, rs)
		return
	}
	refusals, err := d.intakeRefusals(r.Context(), billing)
	if err != nil {
		d.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	data := rejectsData{Billing: billing, Rejects: rs, Refusals: refusals}
	for _, b := range v.Billings {
		if b != billing {
			data.Others = append(data.Others, b)
		}
	}
	d.render(w, r, "rejects", http.StatusOK, page{Title: "Rejects of " + billing, Data: data})
}

// Rejects lists a billing number's sheets still rejected by an insurer
// (one row per rejected destination), oldest number first. A sheet
// corrected since (sent again with the same number) no longer appears.
func (d *Dashboard) Rejects(ctx context.Context, billing string) ([]Reject, error) {
	nums, err := d.cfg.Store.Rejected(ctx, billing, 5000)
	if err != nil {
		return nil, err
	}
	slices.Sort(nums)
	var out []Reject
	for _, n := range nums {
		st, err := d.cfg.Store.Status(ctx, billing, n)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		for _, dst := range st.Destinations {
			if dst.State != queue.Rejected {
				continue
			}
			rj := Reject{Billing: billing, Number: n, Insurer: dst.Insurer, Code: dst.Code, Time: dst.Updated, State: st.State}
			for _, e := range st.History {
				if e.State == queue.Rejected && e.Insurer == dst.Insurer {
					rj.Detail = e.Detail
					if rj.Code == "" {
						rj.Code = e.Code
					}
				}
			}
			out = append(out, rj)
		}
	}
	return out, nil
}

func writeCSV(w http.ResponseWriter, billing string, rs []Reject) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="rejects-`+safeName(billing)+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"billing", "number", "insurer", "code", "detail", "rejected_at", "state"})
	for _, r := range rs {
		_ = cw.Write([]string{cell(r.Billing), cell(r.Number), cell(r.Insurer), cell(r.Code), cell(r.Detail), r.Time.UTC().Format(time.RFC3339), cell(string(r.State))})
	}
	cw.Flush()
}

// cell defuses spreadsheet formulas in text that came from outside.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"seconds": func(f float64) string {
		if f != f || f == 0 { // NaN or nothing yet
			return "–"
		}
		if f < 10 {
			return strconv.FormatFloat(f, 'f', 2, 64) + " s"
		}
		return strconv.FormatFloat(f, 'f', 0, 64) + " s"
	},
	"euros": func(c int64) string {
		if c == 0 {
			return ""
		}
		return fmt.Sprintf("%d.%02d €", c/100, c%100)
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"json": func(v any) (template.JS, error) {
		b, err := json.Marshal(v)
		return template.JS(b), err
	},
	"sum": func(m map[string]int64) int64 {
		var n int64
		for _, v := range m {
			n += v
		}
		return n
	},
	"final": func(s queue.State) bool {
		switch s {
		case queue.Accepted, queue.Paid, queue.Rejected, queue.DeliveryFailed, queue.ReturnsOverdue:
			return true
		}
		return false
	},
}
