package lot

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleLot() *Lot {
	return &Lot{
		ID: NewID("cpam751", "cpam751.751000019", 42), Attempt: 1, Seq: 42,
		Key: "cpam751.751000019", Insurer: "cpam751", Billing: "751000019",
		Created: time.Date(2025, 6, 2, 17, 30, 0, 125000000, time.UTC),
		Sheets: []Sheet{
			NewSheet("751000019", "000000001", []byte("<fse>one\nwith a newline</fse>")),
			NewSheet("751000019", "000000002", []byte("<fse>two</fse>\n")),
		},
	}
}

func sampleAck() *Ack {
	return &Ack{
		ID: AckID("cpam751", "cpam751-751000019-000042", 1, LevelReturns, 1), Insurer: "cpam751",
		Lot: "cpam751-751000019-000042", Attempt: 1, Created: time.Date(2025, 6, 2, 17, 31, 0, 0, time.UTC),
		Returns: []Return{
			{ID: ReturnID("cpam751", "751000019", "000000001", [32]byte{1}, Paid), Billing: "751000019", Number: "000000001", Status: Paid, Amount: 2100, Date: "2025-06-05"},
			{ID: ReturnID("cpam751", "751000019", "000000002", [32]byte{1}, Rejected), Billing: "751000019", Number: "000000002", Status: Rejected, Reason: &Reason{Code: CodeRules, Label: "part AMO erronée (ligne 1)"}},
			{ID: ReturnID("cpam751", "751000019", "000000003", [32]byte{1}, Accepted), Billing: "751000019", Number: "000000003", Status: Accepted, Participation: 200},
			{ID: ReturnID("cpam751", "751000019", "000000004", [32]byte{1}, Signalement), Billing: "751000019", Number: "000000004", Status: Signalement, Reason: &Reason{Code: CodeSignalement, Label: ""}},
		},
	}
}

func TestLotRoundTrip(t *testing.T) {
	l := sampleLot()
	b, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeLot(b)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(got, l) {
		t.Fatalf("round trip: got %+v, want %+v", got, l)
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.Encode()
	if !bytes.Equal(b, b2) {
		t.Fatal("encoding is not deterministic")
	}
	if got.MsgID() != "cpam751-751000019-000042.1" {
		t.Fatalf("MsgID: got %s", got.MsgID())
	}
}

// TestNewID: the insurer is named once in a lot id (#22: lot ids read
// "cpam751-cpam751-751000019-000003").
func TestNewID(t *testing.T) {
	for _, tc := range []struct {
		insurer, key, want string
	}{
		{"cpam751", "cpam751.751000019", "cpam751-751000019-000042"},
		{"cpam751", "cpam751", "cpam751-000042"},
		{"cpam751", "cpam751.751000019.run1", "cpam751-751000019-run1-000042"},
		{"cpam751", "751000019", "cpam751-751000019-000042"},
		{"cpam75", "cpam751.751000019", "cpam75-cpam751-751000019-000042"},
	} {
		if got := NewID(tc.insurer, tc.key, 42); got != tc.want {
			t.Errorf("NewID(%q, %q): got %s, want %s", tc.insurer, tc.key, got, tc.want)
		}
	}
}

func TestLotVerify(t *testing.T) {
	l := sampleLot()
	l.Sheets[1].Digest[0] ^= 1
	if err := l.Verify(); !errors.Is(err, &Reason{Code: CodeDigest}) {
		t.Fatalf("got %v, want %s", err, CodeDigest)
	}
	l = sampleLot()
	l.Sheets[1] = NewSheet("751000019", "000000001", []byte("x"))
	if err := l.Verify(); !errors.Is(err, &Reason{Code: CodeDuplicateSheet}) {
		t.Fatalf("got %v, want %s", err, CodeDuplicateSheet)
	}
}

func TestDecodeLotStrict(t *testing.T) {
	good, err := sampleLot().Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	tests := []struct{ name, old, new string }{
		{"format", "urn:fsegate:lot:1 lot", "urn:fsegate:lot:2 lot"},
		{"leading zero", "attempt 1\n", "attempt 01\n"},
		{"attempt zero", "attempt 1\n", "attempt 0\n"},
		{"double space", "seq 42", "seq  42"},
		{"count high", "count 2\n", "count 3\n"},
		{"count low", "count 2\n", "count 1\n"},
		{"uppercase hex", "sheet 751000019 000000001 ", "sheet 751000019 000000001 X"},
		{"length short", " 29\n<fse>one", " 28\n<fse>one"},
		{"length long", " 29\n<fse>one", " 30\n<fse>one"},
		{"trailing", "end\n", "end\n\n"},
		{"no end", "end\n", ""},
		{"time not utc", "2025-06-02T17:30:00.125Z", "2025-06-02T19:30:00.125+02:00"},
		{"time trailing zero", "2025-06-02T17:30:00.125Z", "2025-06-02T17:30:00.1250Z"},
		{"billing", "billing 751000019", "billing 75100001"},
		{"insurer", "insurer cpam751", "insurer CPAM751"},
		{"unknown field", "key ", "kee "},
		{"crlf", "seq 42\n", "seq 42\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(s, tt.old, tt.new, 1)
			if bad == s {
				t.Fatalf("test does not change the lot (%q not found)", tt.old)
			}
			if _, err := DecodeLot([]byte(bad)); !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
		})
	}
}

func TestAckRoundTrip(t *testing.T) {
	acks := []*Ack{sampleAck(),
		{ID: "a1", Insurer: "amc1", Lot: "l1", Attempt: 2, Created: time.Unix(1, 0), ARL: &ARL{ID: "arl1", Positive: true}},
		{ID: "a2", Insurer: "amc1", Lot: "l1", Attempt: 2, Created: time.Unix(1, 0), ARL: &ARL{ID: "arl1", Reason: &Reason{Code: CodeFuture, Label: "lot daté dans le futur"}}},
	}
	for _, a := range acks {
		b, err := a.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAck(b)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, b)
		}
		a.Created = a.Created.UTC()
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip: got %+v, want %+v", got, a)
		}
	}
}

func TestDecodeAckStrict(t *testing.T) {
	good, _ := sampleAck().Encode()
	arl, _ := (&Ack{ID: "a1", Insurer: "amc1", Lot: "l1", Attempt: 1, Created: time.Unix(1, 0), ARL: &ARL{ID: "x", Positive: true}}).Encode()
	tests := []struct {
		name     string
		msg      []byte
		old, new string
	}{
		{"status", good, " accepted participation", " acceptd participation"},
		{"participation alone", good, " participation 200 franchises 0\n", " participation 200\n"},
		{"participation zero", good, " participation 200 franchises 0\n", " participation 0 franchises 0\n"},
		{"participation sign", good, " participation 200 ", " participation -200 "},
		{"amount sign", good, " paid 2100 ", " paid -2100 "},
		{"date", good, "2025-06-05", "2025-06-31"},
		{"label control", good, "erronée", "err\tonée"},
		{"code lowercase", good, "RET_RULES", "ret_rules"},
		{"arl and returns", good, "end\n", "arl x positive\nend\n"},
		{"two arls", arl, "end\n", "arl y positive\nend\n"},
		{"arl result", arl, "positive", "maybe"},
		{"negative without code", arl, "positive", "negative"},
		{"empty", arl, "arl x positive\n", ""},
		{"trailing", arl, "end\n", "end\nx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := bytes.Replace(tt.msg, []byte(tt.old), []byte(tt.new), 1)
			if bytes.Equal(bad, tt.msg) {
				t.Fatalf("%q not found", tt.old)
			}
			if _, err := DecodeAck(bad); !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
		})
	}
}

func TestInsurerPermissions(t *testing.T) {
	p := InsurerPermissions("cpam751", Live)
	want := []string{
		"$JS.API.CONSUMER.MSG.NEXT.FSE_LOTS.cpam751",
		"$JS.API.CONSUMER.INFO.FSE_LOTS.cpam751",
		"$JS.ACK.FSE_LOTS.cpam751.>",
		"fse.acks.cpam751",
	}
	if !reflect.DeepEqual(p.Publish, want) || !reflect.DeepEqual(p.Subscribe, []string{"_INBOX_cpam751.>"}) {
		t.Fatalf("got %+v", p)
	}
}

func FuzzDecodeLot(f *testing.F) {
	good, _ := sampleLot().Encode()
	f.Add(good)
	f.Add([]byte(Format + " lot\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLot(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: one canonical form.
		out, err := l.Encode()
		if err != nil {
			t.Fatalf("decoded lot does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n%q\n%q", b, out)
		}
	})
}

func FuzzDecodeAck(f *testing.F) {
	good, _ := sampleAck().Encode()
	f.Add(good)
	arl, _ := (&Ack{ID: "a2", Insurer: "amc1", Lot: "l1", Attempt: 2, Created: time.Unix(1, 0), ARL: &ARL{ID: "arl1", Reason: &Reason{Code: CodeFuture, Label: "x"}}}).Encode()
	f.Add(arl)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAck(b)
		if err != nil {
			return
		}
		out, err := a.Encode()
		if err != nil {
			t.Fatalf("decoded ack does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n%q\n%q", b, out)
		}
	})
}
