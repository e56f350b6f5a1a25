package lot

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleTransfer() *Transfer {
	lot := "cpam751-cpam751-751000019-000042"
	lines := []TransferLine{
		{Kind: LinePaid, Billing: "751000019", Number: "000000101", Lot: lot, Amount: 2100},
		{Kind: LinePaid, Billing: "751000019", Number: "000000102", Lot: lot, Amount: 1600},
		{Kind: LineWithheld, Billing: "751000019", Number: "000000102", Lot: lot, Amount: 500, Reason: &Reason{Code: CodePartial, Label: "dépassement non remboursable"}},
		{Kind: LineReversed, Billing: "751000019", Number: "000000099", Lot: "cpam751-cpam751-751000019-000041", Amount: -1900, Reason: &Reason{Code: CodeReversal, Label: "paiement annulé"}},
	}
	return &Transfer{
		ID: TransferID("cpam751", "751000019", "2026-11-23", lines), Insurer: "cpam751", Billing: "751000019",
		Reference: "CPAM751-20261123-3F2A9C1B", Date: "2026-11-23", Total: 1800,
		Created: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), Lines: lines,
	}
}

func TestTransferRoundTrip(t *testing.T) {
	tr := sampleTransfer()
	b, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !IsTransfer(b) {
		t.Fatal("IsTransfer: false for a transfer")
	}
	if ack, _ := sampleAck().Encode(); IsTransfer(ack) {
		t.Fatal("IsTransfer: true for an acknowledgement")
	}
	got, err := DecodeTransfer(b)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(got, tr) {
		t.Fatalf("round trip: got %+v, want %+v", got, tr)
	}
	b2, _ := got.Encode()
	if !bytes.Equal(b, b2) {
		t.Fatal("encoding is not deterministic")
	}
	if !strings.Contains(string(b), "\nreversed 751000019 000000099 cpam751-cpam751-751000019-000041 -1900 X_REVERSAL paiement annulé\n") {
		t.Fatalf("reversal line not as documented:\n%s", b)
	}
	// The id is a digest of the content: another amount, another id.
	lines := append([]TransferLine(nil), tr.Lines...)
	lines[0].Amount++
	if TransferID("cpam751", "751000019", "2026-11-23", lines) == tr.ID {
		t.Fatal("TransferID ignores the amounts")
	}
}

func TestTransferRules(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(*Transfer)
	}{
		{"total differs", func(t *Transfer) { t.Total++ }},
		{"negative paid", func(t *Transfer) { t.Lines[0].Amount = -1; t.Total = t.Sum() }},
		{"positive reversal", func(t *Transfer) { t.Lines[3].Amount = 1900; t.Total = t.Sum() }},
		{"withheld without reason", func(t *Transfer) { t.Lines[2].Reason = nil }},
		{"withheld without payment", func(t *Transfer) { t.Lines[2].Number = "000000103" }},
		{"paid twice", func(t *Transfer) { t.Lines[1].Number = "000000101" }},
		{"paid and reversed", func(t *Transfer) { t.Lines[3].Number = "000000101" }},
		{"another practice", func(t *Transfer) { t.Lines[0].Billing = "751000018" }},
		{"reference with a space", func(t *Transfer) { t.Reference = "VIR 1" }},
		{"reference too long", func(t *Transfer) { t.Reference = strings.Repeat("A", MaxReference+1) }},
		{"no lines", func(t *Transfer) { t.Lines, t.Total = nil, 0 }},
		{"bad date", func(t *Transfer) { t.Date = "2026-02-30" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := sampleTransfer()
			tt.break_(tr)
			if _, err := tr.Encode(); err == nil {
				t.Fatal("encoded, want an error")
			}
		})
	}
}

func TestDecodeTransferStrict(t *testing.T) {
	good, err := sampleTransfer().Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	for name, bad := range map[string]string{
		"total differs":   strings.Replace(s, "total 1800", "total 1801", 1),
		"plus sign":       strings.Replace(s, "total 1800", "total +1800", 1),
		"minus zero":      strings.Replace(s, "paid 751000019 000000101 cpam751-cpam751-751000019-000042 2100", "paid 751000019 000000101 cpam751-cpam751-751000019-000042 -0", 1),
		"leading zero":    strings.Replace(s, " 2100\n", " 02100\n", 1),
		"unknown kind":    strings.Replace(s, "paid 751000019 000000101", "refunded 751000019 000000101", 1),
		"paid reason":     strings.Replace(s, " 2100\n", " 2100 R X\n", 1),
		"trailing bytes":  s + "x",
		"no end":          strings.TrimSuffix(s, "end\n"),
		"fields swapped":  strings.Replace(s, "billing 751000019\nreference CPAM751-20261123-3F2A9C1B", "reference CPAM751-20261123-3F2A9C1B\nbilling 751000019", 1),
		"an ack":          strings.Replace(s, " transfer\n", " ack\n", 1),
		"reversed paid":   strings.Replace(s, "reversed 751000019 000000099", "reversed 751000019 000000101", 1),
		"withheld orphan": strings.Replace(s, "withheld 751000019 000000102", "withheld 751000019 000000104", 1),
	} {
		if _, err := DecodeTransfer([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
	}
	if _, err := DecodeTransfer(make([]byte, MaxAckBytes+1)); !errors.Is(err, ErrFormat) {
		t.Errorf("oversized: got %v", err)
	}
}

func FuzzDecodeTransfer(f *testing.F) {
	good, _ := sampleTransfer().Encode()
	f.Add(good)
	f.Add([]byte(Format + " transfer\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := DecodeTransfer(b)
		if err != nil {
			return
		}
		out, err := tr.Encode()
		if err != nil {
			t.Fatalf("decoded transfer does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("not canonical:\n%q\n%q", b, out)
		}
	})
}

// TestTransferLinesBound: a transfer of more than MaxTransferLines lines
// is neither written nor read (the gateway keeps it as one message).
func TestTransferLinesBound(t *testing.T) {
	tr := sampleTransfer()
	tr.Lines = nil
	for i := 0; i <= MaxTransferLines; i++ {
		tr.Lines = append(tr.Lines, TransferLine{Kind: LinePaid, Billing: "751000019", Number: fmt.Sprintf("%09d", i+1), Lot: "l1", Amount: 100})
	}
	tr.Total = tr.Sum()
	if _, err := tr.Encode(); err == nil {
		t.Fatal("encoded a transfer over the bound")
	}
	tr.Lines = tr.Lines[:MaxTransferLines]
	tr.Total = tr.Sum()
	b, err := tr.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeTransfer(b); err != nil {
		t.Fatalf("at the bound: %v", err)
	}
	over := strings.Replace(string(b), "end\n", "paid 751000019 999999999 l1 100\nend\n", 1)
	over = strings.Replace(over, fmt.Sprintf("total %d\n", tr.Total), fmt.Sprintf("total %d\n", tr.Total+100), 1)
	if _, err := DecodeTransfer([]byte(over)); !errors.Is(err, ErrFormat) {
		t.Fatalf("over the bound: got %v, want ErrFormat", err)
	}
}
