package card_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// insert puts a virtual card of profile in a leased vpcd reader and opens
// it through pcscd.
func insert(t testing.TB, profile string, vopts virtual.Options, copts card.Options) (*card.Card, *virtual.CPS, testenv.Reader) {
	t.Helper()
	v, err := dev.Card(profile, vopts)
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.InsertCard(t, v)
	c, err := card.OpenPCSC(context.Background(), r.Name, copts)
	if err != nil {
		t.Fatalf("open %s through pcscd: %v", r.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, v, r
}

func TestPCSCSignWithEachKey(t *testing.T) {
	for _, profile := range []string{"doctor", "cps4"} {
		t.Run(profile, func(t *testing.T) {
			ctx := context.Background()
			c, _, r := insert(t, profile, virtual.Options{}, card.Options{PIN: pin("1234")})
			if c.Reader() != r.Name {
				t.Fatalf("reader %q, want %q", c.Reader(), r.Name)
			}
			sigCert, authCert, err := c.Certificates(ctx)
			if err != nil {
				t.Fatal(err)
			}
			k, err := c.SignatureKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			msg := make([]byte, 1000)
			s, err := k.SignMessage(nil, msg, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if err := sigCert.CheckSignature(x509.SHA256WithRSA, msg, s); err != nil {
				t.Fatalf("signature key: %v", err)
			}
			a, err := c.AuthenticationKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256(msg)
			s, err = a.Sign(nil, d[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPKCS1v15(authCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], s); err != nil {
				t.Fatalf("authentication key: %v", err)
			}
		})
	}
}

func TestPCSCErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong PIN", func(t *testing.T) {
		c, _, _ := insert(t, "doctor", virtual.Options{}, card.Options{PIN: pin("9999")})
		k, _ := c.SignatureKey(ctx)
		_, err := k.SignMessage(nil, []byte("x"), crypto.SHA256)
		if n, ok := card.TriesLeft(err); !errors.Is(err, card.ErrWrongPIN) || !ok || n != 2 {
			t.Fatalf("got %v, want ErrWrongPIN with 2 tries left", err)
		}
	})
	t.Run("blocked PIN", func(t *testing.T) {
		c, _, _ := insert(t, "blocked", virtual.Options{}, card.Options{PIN: pin("1234")})
		k, _ := c.SignatureKey(ctx)
		if _, err := k.SignMessage(nil, []byte("x"), crypto.SHA256); !errors.Is(err, card.ErrPINBlocked) {
			t.Fatalf("got %v, want ErrPINBlocked", err)
		}
	})
	t.Run("card removed", func(t *testing.T) {
		var v *virtual.CPS
		v, err := dev.Card("doctor", virtual.Options{OnAPDU: func(cmd []byte) {
			if len(cmd) >= 4 && cmd[1] == 0x2A && cmd[2] == 0x9E {
				v.Remove()
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		r := testenv.InsertCard(t, v)
		c, err := card.OpenPCSC(ctx, r.Name, card.Options{PIN: pin("1234")})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		k, err := c.SignatureKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := k.SignMessage(nil, []byte("x"), crypto.SHA256)
		if !errors.Is(err, card.ErrCardRemoved) || sig != nil {
			t.Fatalf("got %x, %v; want no signature and ErrCardRemoved", sig, err)
		}
		testenv.WaitAbsent(t, r.Name)
		if _, err := card.OpenPCSC(ctx, r.Name, card.Options{}); !errors.Is(err, card.ErrNoCard) {
			t.Fatalf("empty reader: got %v, want ErrNoCard", err)
		}
		v.Insert()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := card.WaitForCard(wctx, r.Name); err != nil {
			t.Fatalf("card put back: %v", err)
		}
	})
	t.Run("no reader", func(t *testing.T) {
		if _, err := card.OpenPCSC(ctx, "no such reader 00 00", card.Options{}); !errors.Is(err, card.ErrNoReader) {
			t.Fatalf("got %v, want ErrNoReader", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := card.WaitForCard(wctx, "no such reader 00 00"); !errors.Is(err, card.ErrNoReader) {
			t.Fatalf("wait: got %v, want ErrNoReader", err)
		}
	})
}

func TestPCSCReaders(t *testing.T) {
	_, _, r := insert(t, "cps4", virtual.Options{}, card.Options{})
	rs, err := card.Readers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range rs {
		if x.Name == r.Name {
			if !x.CardPresent || x.Model != card.ModelCPS4 {
				t.Fatalf("reader %q: got %+v, want a CPS4 present", r.Name, x)
			}
			return
		}
	}
	t.Fatalf("reader %q not listed in %+v", r.Name, rs)
}

func BenchmarkSignThroughPCSCD(b *testing.B) {
	c, _, _ := insert(b, "doctor", virtual.Options{}, card.Options{PIN: pin("1234")})
	k, err := c.SignatureKey(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 2000)
	if _, err := k.SignMessage(nil, msg, crypto.SHA256); err != nil { // PIN entered once
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.SignMessage(nil, msg, crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignInProcess(b *testing.B) {
	c, _ := openVirtual(b, "doctor", virtual.Options{}, card.Options{PIN: pin("1234")})
	k, err := c.SignatureKey(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 2000)
	for b.Loop() {
		if _, err := k.SignMessage(nil, msg, crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPCSCSituations: the billing situations read through pcscd and vpcd
// (SELECT and READ BINARY of D120..D12F, no PIN), on channel 0 and on a
// CPS4's channel 1, contact or not.
func TestPCSCSituations(t *testing.T) {
	for _, tc := range []struct {
		profile string
		want    card.Situation
	}{
		{"doctor", card.Situation{Billing: "751000019", Mode: card.ModeLiberal, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true, MaySignLot: true}},
		{"remplacant", card.Situation{Billing: "751000019", Mode: card.ModeRemplacant, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true, MaySignLot: true}},
		{"cps4", card.Situation{Billing: "751000043", Mode: card.ModeLiberal, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true, MaySignLot: true}},
		{"contactless", card.Situation{Billing: "751000050", Mode: card.ModeLiberal, Convention: "1", Specialty: "01", Zone: "10", MaySignInvoice: true, MaySignLot: true}},
		{"cpe", card.Situation{Billing: "751000118", Mode: card.ModeSalaried, Convention: "1", Specialty: "00", Zone: "10"}},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			c, _, _ := insert(t, tc.profile, virtual.Options{}, card.Options{}) // no PIN prompt
			got, err := c.Situations(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("got %+v, want [%+v]", got, tc.want)
			}
		})
	}
}
