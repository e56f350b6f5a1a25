package workstation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
	"github.com/fsegate/fsegate/workstation/outbox"
)

func TestDecode(t *testing.T) {
	doctor, err := os.ReadFile("testdata/doctor.xml")
	if err != nil {
		t.Fatal(err)
	}
	json, err := os.ReadFile("testdata/doctor.json")
	if err != nil {
		t.Fatal(err)
	}
	signed := signedBy(t, "doctor", "doctor.xml")
	for _, tc := range []struct {
		name       string
		raw        []byte
		wantSigned bool
		wantXML    bool // Doc is XML, not the JSON input
		wantErr    error
	}{
		{name: "unsigned XML", raw: doctor, wantXML: true},
		{name: "JSON", raw: json, wantXML: true},
		{name: "signed", raw: signed, wantSigned: true, wantXML: true},
		{name: "signed, duplicate attribute", raw: bytes.Replace(signed, []byte("<ds:Signature "), []byte(`<ds:Signature Id="a" Id="b" `), 1), wantErr: signature.CodeXMLMalformed},
		{name: "signed twice", raw: bytes.Replace(signed, []byte("</CareSheet>"), signed[bytes.Index(signed, []byte("<ds:Signature ")):], 1), wantErr: signature.CodeSignatureWrapping},
		{name: "not XML", raw: []byte("hello"), wantErr: fse.ErrMalformed},
		{name: "not a sheet", raw: []byte(`{"colour": "blue"}`), wantErr: fse.ErrUnknownElement},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sh, err := Decode("in.xml", tc.raw)
			if tc.wantErr != nil {
				var se *SheetError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &se) || se.Name != "in.xml" {
					t.Fatalf("got %v, want a *SheetError with %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sh.Signed != tc.wantSigned {
				t.Errorf("got Signed %v, want %v", sh.Signed, tc.wantSigned)
			}
			if tc.wantXML && !bytes.HasPrefix(sh.Doc, []byte("<?xml")) {
				t.Errorf("got Doc %.40q, want XML", sh.Doc)
			}
			if sh.Sheet.Practitioner.NationalID != "899700218896" || len(sh.Source) != 64 {
				t.Errorf("got practitioner %q, source %q", sh.Sheet.Practitioner.NationalID, sh.Source)
			}
			if tc.wantSigned && !bytes.Equal(sh.Doc, tc.raw) {
				t.Error("a signed sheet's Doc is not the bytes as read")
			}
		})
	}

	_, err = ReadFile(filepath.Join(t.TempDir(), "missing.xml"))
	if !errors.Is(err, CodeFileUnreadable) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want FILE_UNREADABLE", err)
	}
}

func TestCheck(t *testing.T) {
	signed, err := Decode("signed.xml", signedBy(t, "doctor", "doctor.xml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := testSheet(t, "doctor.xml")
	bad.Sheet.Totals.Billed++
	late := testRules(t)
	late.Now = func() time.Time { return testNow.AddDate(0, 1, 0) }
	for _, tc := range []struct {
		name     string
		flow     Flow
		sheet    *Sheet
		wantErr  error
		wantWarn string
	}{
		{name: "valid", flow: Flow{Rules: testRules(t)}, sheet: testSheet(t, "doctor.xml")},
		{name: "JSON", flow: Flow{Rules: testRules(t)}, sheet: testSheet(t, "doctor.json")},
		{name: "rule broken", flow: Flow{Rules: testRules(t)}, sheet: bad, wantErr: fse.ErrTotalBilled},
		{name: "late", flow: Flow{Rules: late}, sheet: testSheet(t, "doctor.xml"), wantWarn: "LATE"},
		{name: "signed, to sign", flow: Flow{Rules: testRules(t)}, sheet: signed, wantErr: CodeAlreadySigned},
		{name: "signed, to send", flow: Flow{Rules: testRules(t), AcceptSigned: true}, sheet: signed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.flow.Check(tc.sheet)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			var codes []string
			for _, w := range tc.sheet.Warnings {
				codes = append(codes, string(w.Code))
			}
			if got := strings.Join(codes, ","); tc.wantWarn != "" && got != tc.wantWarn {
				t.Errorf("got warnings %s, want %s", got, tc.wantWarn)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	signed := signedBy(t, "doctor", "doctor.xml")
	corrected := testSheet(t, "doctor.xml")
	corrected.Source = strings.Repeat("0", 64)  // other bytes under the same number,
	corrected.Content = strings.Repeat("1", 64) // and another content
	resigned := testSheet(t, "doctor.xml")
	resigned.Source = strings.Repeat("2", 64) // the same sheet signed again: other bytes, the same content
	for _, tc := range []struct {
		name    string
		state   func(ob *outbox.Outbox, key string) error // nil: not in the outbox
		sheet   *Sheet
		want    Step
		wantErr error
	}{
		{name: "new", sheet: testSheet(t, "doctor.xml"), want: StepSign},
		{name: "pending", state: func(*outbox.Outbox, string) error { return nil }, sheet: testSheet(t, "doctor.xml"), want: StepSend},
		{name: "receipted", state: func(ob *outbox.Outbox, k string) error { return ob.Receipted(k, []byte("{}")) }, sheet: testSheet(t, "doctor.xml"), want: StepDone},
		{name: "paid", state: func(ob *outbox.Outbox, k string) error { return ob.Finalize(k, "paid") }, sheet: testSheet(t, "doctor.xml"), want: StepDone},
		{name: "refused", state: func(ob *outbox.Outbox, k string) error { return ob.Refused(k, []string{"NIR_KEY"}) }, sheet: testSheet(t, "doctor.xml"), want: StepRefused},
		{name: "rejected", state: func(ob *outbox.Outbox, k string) error { return ob.Finalize(k, "rejected") }, sheet: testSheet(t, "doctor.xml"), want: StepRefused},
		{name: "refused, corrected", state: func(ob *outbox.Outbox, k string) error { return ob.Refused(k, []string{"NIR_KEY"}) }, sheet: corrected, want: StepSign},
		{name: "another sheet pending", state: func(*outbox.Outbox, string) error { return nil }, sheet: corrected, wantErr: CodeAlreadyInOutbox},
		{name: "another sheet receipted", state: func(ob *outbox.Outbox, k string) error { return ob.Receipted(k, []byte("{}")) }, sheet: corrected, wantErr: CodeAlreadyInOutbox},
		{name: "the same sheet signed again, receipted", state: func(ob *outbox.Outbox, k string) error { return ob.Receipted(k, []byte("{}")) }, sheet: resigned, want: StepDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Flow{Outbox: testOutbox(t)}
			const key = "751000019-000100001"
			if tc.state != nil {
				sh := testSheet(t, "doctor.xml")
				if _, err := f.Put(sh, signed); err != nil {
					t.Fatal(err)
				}
				if err := tc.state(f.Outbox, key); err != nil {
					t.Fatal(err)
				}
			}
			step, _, err := f.Plan(tc.sheet)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || step != tc.want || tc.sheet.Key != key {
				t.Errorf("got step %d, key %q, err %v; want step %d, key %s", step, tc.sheet.Key, err, tc.want, key)
			}
		})
	}
}

// TestSessionRefusesBeforePIN: a sheet of another practitioner, a card
// that may not bill, or a billing number the card's situations do not
// allow, is refused from the certificate and the situations: the PIN is
// never asked and nothing is signed.
func TestSessionRefusesBeforePIN(t *testing.T) {
	ctx := context.Background()
	const (
		doctorID     = "899700218896"
		remplacantID = "810107592585"
		cps4ID       = "810107592544"
		cpfID        = "899900023351"
	)
	for _, tc := range []struct {
		name, profile, sheet string
		edit                 func(*fse.Sheet)       // nil: the sheet as it is
		card                 func(*virtual.Profile) // nil: the profile as it is
		wantErr              []error
	}{
		{name: "another practitioner", profile: "doctor", sheet: "pharmacist.xml", wantErr: []error{signature.CodeSignerMismatch}},
		{name: "remplaçant", profile: "remplacant", sheet: "doctor.xml", wantErr: []error{signature.CodeSignerMismatch}},
		{name: "student card", profile: "cpf", sheet: "doctor.xml", wantErr: []error{signature.CodeSignerMismatch, signature.CodeCardTypeForbidden}},
		{name: "billing number outside the situations", profile: "doctor", sheet: "doctor.xml", edit: billedUnder("751000043"), wantErr: []error{CodeSituationUnknown}},
		{name: "remplaçant without a remplaçant situation", profile: "cps4", sheet: "doctor.xml", edit: replacedBy(cps4ID), wantErr: []error{CodeSituationUnknown}},
		{name: "remplaçant situation, no remplaçant named", profile: "remplacant", sheet: "doctor.xml", edit: practitioner(remplacantID, "751000019"), wantErr: []error{CodeSituationUnknown}},
		{name: "remplaçant on another billing number", profile: "remplacant", sheet: "doctor.xml", edit: func(s *fse.Sheet) { replacedBy(remplacantID)(s); s.Practitioner.Billing = "751000043" }, wantErr: []error{CodeSituationUnknown}},
		{name: "titulaire named as remplaçant", profile: "doctor", sheet: "pharmacist.xml", edit: func(s *fse.Sheet) { replacedBy(doctorID)(s); s.Practitioner.Billing = "751000019" }, wantErr: []error{CodeSituationUnknown}},
		{name: "student card, its own sheet", profile: "cpf", sheet: "doctor.xml", edit: practitioner(cpfID, "751000118"), wantErr: []error{signature.CodeCardTypeForbidden, CodeSituationMayNotSign}},
		{name: "situation that may not sign", profile: "doctor", sheet: "doctor.xml", card: func(p *virtual.Profile) { p.Situations[0].MaySignInvoice = false }, wantErr: []error{CodeSituationMayNotSign}},
		{name: "remplaçant situation that may not sign", profile: "remplacant", sheet: "doctor.xml", edit: replacedBy(remplacantID), card: func(p *virtual.Profile) { p.Situations[0].MaySignInvoice = false }, wantErr: []error{CodeSituationMayNotSign}},
		{name: "card without situations", profile: "doctor", sheet: "doctor.xml", card: func(p *virtual.Profile) { p.Situations = nil }, wantErr: []error{CodeSituationUnknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := dev.Profile(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			if tc.card != nil {
				tc.card(p)
			}
			s, asked := testSessionOf(t, p)
			sh := testSheet(t, tc.sheet)
			if tc.edit != nil {
				sh = editedSheet(t, tc.sheet, tc.edit)
			}
			for what, err := range map[string]error{"Check": s.Check(sh), "Sign": signErr(s.Sign(ctx, sh))} {
				var se *SheetError
				if !errors.As(err, &se) || len(se.Problems) != len(tc.wantErr) {
					t.Fatalf("%s: got %v, want a *SheetError with %v", what, err, tc.wantErr)
				}
				for _, want := range tc.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("%s: got %v, want %v", what, err, want)
					}
				}
			}
			if n := asked.Load(); n != 0 {
				t.Errorf("the PIN was asked %d times, want 0", n)
			}
		})
	}

	// The holder's own sheets: one PIN entry for all.
	s, asked := testSession(t, "doctor")
	signOwnSheets(ctx, t, s)
	if n := asked.Load(); n != 1 {
		t.Errorf("the PIN was asked %d times, want 1", n)
	}
	if s.PINEntries() != 1 {
		t.Errorf("got PINEntries %d, want 1", s.PINEntries())
	}
}

// TestSessionRemplacant: the remplaçant's card, whose remplaçant situation
// names the doctor's billing number, signs a sheet that names the doctor
// as practitioner and the card's holder as remplaçant (with the PIN).
func TestSessionRemplacant(t *testing.T) {
	s, asked := testSession(t, "remplacant")
	if got := s.Situations(); len(got) != 1 || got[0].Billing != "751000019" || got[0].Mode != card.ModeRemplacant || !got[0].MaySignInvoice {
		t.Fatalf("got situations %+v, want one remplaçant situation on 751000019 that may sign", got)
	}
	sh := editedSheet(t, "doctor.xml", replacedBy("810107592585"))
	if sh.Sheet.Practitioner.NationalID != "899700218896" || sh.Sheet.SignerID() != "810107592585" {
		t.Fatalf("got practitioner %s, signer %s", sh.Sheet.Practitioner.NationalID, sh.Sheet.SignerID())
	}
	b, err := s.Sign(context.Background(), sh)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Decode("signed.xml", b)
	if err != nil || !signed.Signed || signed.Sheet.SignerID() != "810107592585" {
		t.Fatalf("got %v, %+v; want the sheet signed, naming the remplaçant", err, signed)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the PIN was asked %d times, want 1", n)
	}
}

// TestOpenSessionSituationMalformed: a card whose situation file is not in
// fsegate's layout does not open a session (before any PIN).
func TestOpenSessionSituationMalformed(t *testing.T) {
	v, err := dev.Card("doctor", virtual.Options{Files: map[uint16][]byte{card.FirstSituationFile: []byte("garbage")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenSession(context.Background(), SessionConfig{
		Open: func(ctx context.Context) (card.Token, error) { return card.Open(ctx, card.Loopback(v), card.Options{}) },
	})
	if !errors.Is(err, card.ErrSituationMalformed) || !strings.Contains(err.Error(), "D120") {
		t.Fatalf("got %v, want ErrSituationMalformed naming file D120", err)
	}
}

func signErr(_ []byte, err error) error { return err }

// TestBatchRun: the holder's sheets are signed with one PIN entry and
// kept; a sheet of another practitioner makes Run refuse before the PIN.
func TestBatchRun(t *testing.T) {
	ctx := context.Background()
	f := &Flow{Rules: testRules(t), AcceptSigned: true, Outbox: testOutbox(t)}

	s, asked := testSession(t, "doctor")
	var kept []string
	b := &Batch{Flow: f, Session: s, Kept: func(done, total int, key string) { kept = append(kept, fmt.Sprintf("%d/%d %s", done, total, key)) }}
	_, err := b.Run(ctx, []*Sheet{testSheet(t, "doctor.xml"), testSheet(t, "pharmacist.xml")}, nil)
	if !errors.Is(err, signature.CodeSignerMismatch) || asked.Load() != 0 || len(kept) != 0 {
		t.Fatalf("got %v, %d PIN entries, kept %v; want SIGNER_MISMATCH before the PIN, nothing kept", err, asked.Load(), kept)
	}
	if all, _ := f.Outbox.List(); len(all) != 0 {
		t.Fatalf("the outbox holds %d sheets, want 0", len(all))
	}

	signed, err := Decode("signed.xml", signedBy(t, "doctor", "doctor.xml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.Run(ctx, []*Sheet{testSheet(t, "doctor.json"), signed}, []string{"751000019-000900009"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Signed != 1 || st.Kept != 2 || st.Queued != 3 || asked.Load() != 1 {
		t.Errorf("got %+v, %d PIN entries; want 1 signed, 2 kept, 3 queued, 1 PIN entry", st, asked.Load())
	}
	if want := "1/2 751000019-000300001,2/2 751000019-000100001"; strings.Join(kept, ",") != want {
		t.Errorf("got progress %v, want %s", kept, want)
	}
	got, err := f.Outbox.Signed("751000019-000100001")
	if err != nil || !bytes.Equal(got, signed.Doc) {
		t.Errorf("a signed sheet was not kept as it is (%v)", err)
	}
}

// gatewayStub answers POST /v1/sheets: 201 for the numbers in receipt,
// 422 with NIR_KEY for those in refuse, else 503.
func gatewayStub(t *testing.T, receipt, refuse string) (*httptest.Server, *sync.Map) {
	t.Helper()
	got := &sync.Map{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		sh, err := Decode("", body.Bytes())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.Store(sh.Sheet.Number, true)
		switch {
		case strings.Contains(receipt, sh.Sheet.Number):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"billing":%q,"number":%q,"state":"queued"}`, sh.Sheet.Practitioner.Billing, sh.Sheet.Number)
		case strings.Contains(refuse, sh.Sheet.Number):
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"status":422,"title":"care sheet refused","errors":[{"code":"NIR_KEY","path":"patient/nir"}]}`)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":503,"title":"queue unavailable","errors":[{"code":"QUEUE_UNAVAILABLE"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// TestSenderHoldsOtherPractitioner: an outbox entry signed by another
// practitioner (an older version's, a copied outbox) is held before the
// client is opened: no PIN, no connection, the entry left pending and
// untouched; the holder's own entries are sent and their outcome recorded.
func TestSenderHoldsOtherPractitioner(t *testing.T) {
	ctx := context.Background()
	ob := testOutbox(t)
	for _, sh := range []struct{ billing, number, profile, file string }{
		{"751000027", "000200001", "pharmacist", "pharmacist.xml"},
		{"751000019", "000100001", "doctor", "doctor.xml"},
		{"751000019", "000300001", "doctor", "doctor.json"},
	} {
		if _, err := ob.Put(sh.billing, sh.number, signedBy(t, sh.profile, sh.file)); err != nil {
			t.Fatal(err)
		}
	}
	const other = "751000027-000200001"

	s, asked := testSession(t, "doctor")
	connected := 0
	sender := &Sender{Outbox: ob, Session: s, Connect: func(context.Context, card.Token) (*client.Client, error) {
		connected++
		return nil, errors.New("no gateway in this test")
	}}
	var results []SendResult
	err := sender.SendAll(ctx, []string{other}, func(r SendResult) bool { results = append(results, r); return true })
	if err != nil || len(results) != 1 || results[0].Outcome != Held || !errors.Is(results[0].Held, signature.CodeSignerMismatch) {
		t.Fatalf("got %v, %+v; want one Held result with SIGNER_MISMATCH", err, results)
	}
	if connected != 0 || asked.Load() != 0 {
		t.Errorf("connected %d times, PIN asked %d times; want neither", connected, asked.Load())
	}
	if e, err := ob.Get(other); err != nil || e.State != outbox.Pending || e.Attempts != 0 {
		t.Errorf("got %+v, %v; want the entry pending, untouched", e, err)
	}
	res, err := sender.Send(ctx, other)
	if err != nil || res.Outcome != Held || connected != 0 {
		t.Errorf("Send: got %+v, %v, connected %d times; want Held, not connected", res, err, connected)
	}

	// The holder's entries go; the other one stays.
	srv, seen := gatewayStub(t, "000100001", "000300001")
	sender = &Sender{Outbox: ob, Session: s, Connect: func(context.Context, card.Token) (*client.Client, error) {
		connected++
		roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		return client.New(client.Config{URL: srv.URL, Roots: roots})
	}}
	defer sender.Close()
	results = nil
	err = sender.SendAll(ctx, []string{other, "751000019-000100001", "751000019-000300001"}, func(r SendResult) bool { results = append(results, r); return true })
	if err != nil || len(results) != 3 {
		t.Fatalf("got %v, %d results", err, len(results))
	}
	for i, want := range []Outcome{Held, Receipted, Refused} {
		if results[i].Outcome != want {
			t.Errorf("result %d (%s): got outcome %d, want %d", i, results[i].Key, results[i].Outcome, want)
		}
	}
	if _, ok := seen.Load("000200001"); ok {
		t.Error("the gateway received the sheet of another practitioner")
	}
	for key, want := range map[string]outbox.State{other: outbox.Pending, "751000019-000100001": outbox.Receipted, "751000019-000300001": outbox.Refused} {
		if e, err := ob.Get(key); err != nil || e.State != want {
			t.Errorf("%s: got %+v, %v; want %s", key, e, err, want)
		}
	}
	if connected != 1 {
		t.Errorf("connected %d times, want 1", connected)
	}
}

// TestSenderHoldsOutsideSituations: an outbox entry of the card's holder
// billed under a number the card holds no situation for (signed with
// another card of the same holder, or before a situation ended) is held
// before the client is opened: no PIN, no connection, left pending.
func TestSenderHoldsOutsideSituations(t *testing.T) {
	p, err := dev.Profile("doctor")
	if err != nil {
		t.Fatal(err)
	}
	p.Situations[0].Billing = "751000043"
	old, _ := testSessionOf(t, p)
	signed, err := old.Sign(context.Background(), editedSheet(t, "doctor.xml", billedUnder("751000043")))
	if err != nil {
		t.Fatal(err)
	}
	ob := testOutbox(t)
	if _, err := ob.Put("751000043", "000100001", signed); err != nil {
		t.Fatal(err)
	}
	const key = "751000043-000100001"

	s, asked := testSession(t, "doctor")
	sender := &Sender{Outbox: ob, Session: s, Connect: func(context.Context, card.Token) (*client.Client, error) {
		t.Error("the sender connected to the gateway")
		return nil, errors.New("no gateway in this test")
	}}
	res, err := sender.Send(context.Background(), key)
	if err != nil || res.Outcome != Held || !errors.Is(res.Held, CodeSituationUnknown) {
		t.Fatalf("got %+v, %v; want Held with SITUATION_UNKNOWN", res, err)
	}
	if asked.Load() != 0 {
		t.Errorf("the PIN was asked %d times, want 0", asked.Load())
	}
	if e, err := ob.Get(key); err != nil || e.State != outbox.Pending || e.Attempts != 0 {
		t.Errorf("got %+v, %v; want the entry pending, untouched", e, err)
	}
}

// TestSenderOffline: a gateway that answers 503 or cannot be reached
// leaves the sheet pending with a retry time.
func TestSenderOffline(t *testing.T) {
	ob := testOutbox(t)
	if _, err := ob.Put("751000019", "000100001", signedBy(t, "doctor", "doctor.xml")); err != nil {
		t.Fatal(err)
	}
	s, _ := testSession(t, "doctor")
	srv, _ := gatewayStub(t, "", "")
	sender := &Sender{Outbox: ob, Session: s, Connect: func(context.Context, card.Token) (*client.Client, error) {
		roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
		return client.New(client.Config{URL: srv.URL, Roots: roots})
	}}
	defer sender.Close()
	res, err := sender.Send(context.Background(), "751000019-000100001")
	if err != nil || res.Outcome != Offline || res.Cause == nil {
		t.Fatalf("got %+v, %v; want Offline with a cause", res, err)
	}
	if e, _ := ob.Get("751000019-000100001"); e.State != outbox.Pending || e.Attempts != 1 || e.NextTry.IsZero() {
		t.Errorf("got %+v; want pending, 1 attempt, a retry time", e)
	}
}

// TestCodesRegistered: every code of this package is in the API's
// registry, which a test keeps in step with docs/errors.md.
func TestCodesRegistered(t *testing.T) {
	for _, c := range Codes() {
		if _, ok := api.Lookup(c.Code); !ok {
			t.Errorf("code %s is not registered in package api (api/codes.go)", c.Code)
		}
	}
}
