package card_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

func batchItems(n int) []card.BatchItem {
	items := make([]card.BatchItem, n)
	for i := range items {
		items[i] = card.BatchItem{ID: fmt.Sprint(i), Message: []byte(fmt.Sprintf("care sheet %d %0100d", i, i))}
	}
	return items
}

func TestSignBatch(t *testing.T) {
	ctx := context.Background()
	var cdsCount int
	tests := []struct {
		name       string
		vopts      virtual.Options
		cfg        card.BatchConfig
		removeAt   int // remove the card at this PSO CDS (1-based); 0 never
		wantSigned int
		wantReason card.StopReason
		wantErr    error
	}{
		{name: "all", wantSigned: 5, wantReason: card.StopDone},
		{name: "count", cfg: card.BatchConfig{MaxCount: 3}, wantSigned: 3, wantReason: card.StopCount},
		{name: "usage counter", vopts: virtual.Options{UsageLimit: 2}, wantSigned: 2, wantReason: card.StopUsage},
		{name: "time", cfg: card.BatchConfig{MaxDuration: 150 * time.Second}, wantSigned: 2, wantReason: card.StopTime},
		{name: "removed", removeAt: 3, wantSigned: 2, wantReason: card.StopRemoved, wantErr: card.ErrCardRemoved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cdsCount = 0
			var v *virtual.CPS
			vopts := tc.vopts
			vopts.OnAPDU = func(cmd []byte) {
				if len(cmd) >= 4 && cmd[1] == 0x2A && cmd[2] == 0x9E {
					cdsCount++
					if cdsCount == tc.removeAt {
						v.Remove()
					}
				}
			}
			var err error
			if v, err = dev.Card("pharmacist", vopts); err != nil {
				t.Fatal(err)
			}
			prompts := 0
			c, err := card.Open(ctx, card.Loopback(v), card.Options{PIN: func(context.Context, card.PINRequest) ([]byte, error) {
				prompts++
				return []byte("1234"), nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			clock := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
			cfg := tc.cfg
			cfg.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
			signed := map[string]int{}
			sigCert, _, _ := c.Certificates(ctx)
			cfg.Signed = func(it card.BatchItem, sig []byte) error {
				signed[it.ID]++
				return sigCert.CheckSignature(x509.SHA256WithRSA, it.Message, sig)
			}
			items := batchItems(5)
			rep, err := c.SignBatch(ctx, items, cfg)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if rep.Signed != tc.wantSigned || rep.Next != tc.wantSigned || rep.Reason != tc.wantReason {
				t.Fatalf("got %+v, want %d signed, stop %v", rep, tc.wantSigned, tc.wantReason)
			}
			if prompts != 1 {
				t.Fatalf("PIN asked %d times, want once", prompts)
			}
			if tc.removeAt > 0 {
				v.Insert()
				c, err = card.Open(ctx, card.Loopback(v), card.Options{PIN: func(context.Context, card.PINRequest) ([]byte, error) {
					prompts++
					return []byte("1234"), nil
				}})
				if err != nil {
					t.Fatal(err)
				}
			} else if v.PINTriesLeft() != 3 {
				t.Fatal("PIN counter changed")
			}
			// Resume: nothing signed twice, everything signed once.
			cfg.MaxCount, cfg.MaxDuration = 0, 0
			if tc.vopts.UsageLimit > 0 {
				cfg.MaxCount = tc.vopts.UsageLimit
			}
			for rep.Next < len(items) {
				more, err := c.SignBatch(ctx, items[rep.Next:], cfg)
				if err != nil {
					t.Fatalf("resume: %v", err)
				}
				if more.Signed == 0 {
					t.Fatalf("resume signed nothing: %+v", more)
				}
				rep.Next += more.Next
			}
			for _, it := range items {
				if signed[it.ID] != 1 {
					t.Fatalf("item %s signed %d times, want once", it.ID, signed[it.ID])
				}
			}
			// The batch reset the card: the next signature asks for the PIN.
			before := prompts
			k, _ := c.SignatureKey(ctx)
			if _, err := k.SignMessage(nil, []byte("after"), crypto.SHA256); err != nil {
				t.Fatal(err)
			}
			if prompts != before+1 {
				t.Fatal("the card kept its security state after the batch (no reset)")
			}
		})
	}
}
