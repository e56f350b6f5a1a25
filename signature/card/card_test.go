package card_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

func pin(s string) card.PINPrompt {
	return func(context.Context, card.PINRequest) ([]byte, error) { return []byte(s), nil }
}

// openVirtual makes a virtual card of profile and opens it in-process.
func openVirtual(t testing.TB, profile string, vopts virtual.Options, copts card.Options) (*card.Card, *virtual.CPS) {
	t.Helper()
	v, err := dev.Card(profile, vopts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := card.Open(context.Background(), card.Loopback(v), copts)
	if err != nil {
		t.Fatalf("open %s: %v", profile, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, v
}

func TestModelOf(t *testing.T) {
	for _, tc := range []struct {
		profile string
		want    card.Model
	}{
		{"doctor", card.ModelCPS3},
		{"cps4", card.ModelCPS4},
		{"contactless", card.ModelCPS3Contactless},
	} {
		v, err := dev.Card(tc.profile, virtual.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := card.ModelOf(v.ATR()); got != tc.want {
			t.Errorf("%s: got model %v, want %v", tc.profile, got, tc.want)
		}
	}
	if got := card.ModelOf([]byte{0x3B, 0x00}); got != card.ModelUnknown {
		t.Errorf("short ATR: got %v, want unknown", got)
	}
}

func TestSignBothKeys(t *testing.T) {
	for _, profile := range []string{"doctor", "cps4", "nurse"} {
		for _, gr := range []bool{false, true} {
			t.Run(profile, func(t *testing.T) {
				c, v := openVirtual(t, profile, virtual.Options{GetResponse: gr}, card.Options{PIN: pin("1234")})
				ctx := context.Background()
				sig, err := c.SignatureKey(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !sig.Certificate().Equal(v.Profile().SignatureCertificate()) {
					t.Fatal("signature certificate read from the card differs from the profile's")
				}
				pub := sig.Public().(*rsa.PublicKey)
				for _, n := range []int{0, 1, 63, 64, 65, 127, 128, 1000, 4096 + 17} {
					msg := bytes.Repeat([]byte{byte(n)}, n)
					s, err := sig.SignMessage(rand.Reader, msg, crypto.SHA256)
					if err != nil {
						t.Fatalf("SignMessage(%d bytes): %v", n, err)
					}
					d := sha256.Sum256(msg)
					if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], s); err != nil {
						t.Fatalf("SignMessage(%d bytes): signature does not verify: %v", n, err)
					}
					s2, err := sig.Sign(rand.Reader, d[:], crypto.SHA256)
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if !bytes.Equal(s, s2) {
						t.Fatal("Sign(digest) and SignMessage(msg) differ (PKCS#1 v1.5 is deterministic)")
					}
				}
				auth, err := c.AuthenticationKey(ctx)
				if err != nil {
					t.Fatal(err)
				}
				d := sha256.Sum256([]byte("tls transcript"))
				s, err := auth.Sign(rand.Reader, d[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if err := rsa.VerifyPKCS1v15(auth.Public().(*rsa.PublicKey), crypto.SHA256, d[:], s); err != nil {
					t.Fatalf("authentication signature does not verify: %v", err)
				}
				if _, err := auth.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: crypto.SHA256}); !errors.Is(err, card.ErrPSSNotSupported) {
					t.Fatalf("PSS: got %v, want ErrPSSNotSupported", err)
				}
			})
		}
	}
}

func TestPINErrors(t *testing.T) {
	ctx := context.Background()
	c, v := openVirtual(t, "doctor", virtual.Options{}, card.Options{})
	if st, err := c.PINStatus(ctx); err != nil || st.TriesLeft != 3 || st.MaxTries != 3 {
		t.Fatalf("PIN status: got %+v, %v, want 3 of 3 tries", st, err)
	}
	k, _ := c.SignatureKey(ctx)
	d := sha256.Sum256(nil)
	if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, card.ErrNoPIN) {
		t.Fatalf("sign without prompt: got %v, want ErrNoPIN", err)
	}
	for want := 2; want >= 1; want-- {
		err := c.VerifyPIN(ctx, []byte("0000"))
		if !errors.Is(err, card.ErrWrongPIN) {
			t.Fatalf("wrong PIN: got %v, want ErrWrongPIN", err)
		}
		if n, ok := card.TriesLeft(err); !ok || n != want {
			t.Fatalf("wrong PIN: tries left %d, want %d", n, want)
		}
		if !strings.Contains(err.Error(), "left") {
			t.Fatalf("wrong PIN message %q says nothing of the tries left", err)
		}
	}
	err := c.VerifyPIN(ctx, []byte("0000"))
	if !errors.Is(err, card.ErrPINBlocked) || !strings.Contains(err.Error(), "workstation card unblock") {
		t.Fatalf("third wrong PIN: got %v, want ErrPINBlocked saying how to unblock", err)
	}
	if err := c.VerifyPIN(ctx, []byte("1234")); !errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("right PIN on a blocked card: got %v, want ErrPINBlocked", err)
	}
	c.SetPINPrompt(func(context.Context, card.PINRequest) ([]byte, error) {
		t.Fatal("the PIN was asked for on a blocked card")
		return nil, nil
	})
	if err := c.Login(ctx); !errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("login on a blocked card: got %v, want ErrPINBlocked", err)
	}
	if err := c.Unblock(ctx, []byte("87654321"), nil); !errors.Is(err, card.ErrWrongPIN) {
		t.Fatalf("wrong unblock code: got %v, want a 63Cx error", err)
	}
	if err := c.Unblock(ctx, []byte("12345678"), []byte("4321")); err != nil {
		t.Fatal(err)
	}
	if v.PINTriesLeft() != 3 {
		t.Fatalf("after unblock: %d tries, want 3", v.PINTriesLeft())
	}
	if err := c.VerifyPIN(ctx, []byte("4321")); err != nil {
		t.Fatalf("new PIN: %v", err)
	}
}

func TestBlockedProfile(t *testing.T) {
	c, _ := openVirtual(t, "blocked", virtual.Options{}, card.Options{PIN: pin("1234")})
	k, err := c.SignatureKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.SignMessage(nil, []byte("x"), crypto.SHA256); !errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("got %v, want ErrPINBlocked", err)
	}
}

func TestContactlessRefusesToSign(t *testing.T) {
	c, _ := openVirtual(t, "contactless", virtual.Options{}, card.Options{PIN: pin("1234")})
	ctx := context.Background()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("a contactless card is still read: %v", err)
	}
	if info.Model != card.ModelCPS3Contactless {
		t.Fatalf("model %v", info.Model)
	}
	k, _ := c.SignatureKey(ctx)
	_, err = k.SignMessage(nil, []byte("x"), crypto.SHA256)
	if !errors.Is(err, card.ErrContactless) || !strings.Contains(err.Error(), "without contact") {
		t.Fatalf("got %v, want ErrContactless saying why", err)
	}
}

func TestNotCPS(t *testing.T) {
	v, _ := dev.Card("doctor", virtual.Options{})
	_, err := card.Open(context.Background(), card.Loopback(otherATR{v}), card.Options{})
	if !errors.Is(err, card.ErrNotCPS) {
		t.Fatalf("got %v, want ErrNotCPS", err)
	}
}

type otherATR struct{ *virtual.CPS }

func (otherATR) ATR() []byte { return []byte{0x3B, 0x02, 0x14, 0x50} }

func TestCardRemovedMidSignature(t *testing.T) {
	var v *virtual.CPS
	v, err := dev.Card("doctor", virtual.Options{OnAPDU: func(cmd []byte) {
		if len(cmd) >= 4 && cmd[1] == 0x2A && cmd[2] == 0x9E { // PSO CDS
			v.Remove()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := card.Open(context.Background(), card.Loopback(v), card.Options{PIN: pin("1234")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.SignatureKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.SignMessage(nil, []byte("hello"), crypto.SHA256)
	if !errors.Is(err, card.ErrCardRemoved) || sig != nil {
		t.Fatalf("got %x, %v; want no signature and ErrCardRemoved", sig, err)
	}
}

func TestInfo(t *testing.T) {
	for _, tc := range []struct{ profile, rpps, adeli, label, typ string }{
		{"doctor", "99700218896", "", "Médecin", "CPS"},
		{"nurse", "", "012800736", "Infirmier", "CPS"},
		{"cpe", "", "", "Carte de service santé ou social", "CPE"},
	} {
		c, v := openVirtual(t, tc.profile, virtual.Options{}, card.Options{})
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p := v.Profile()
		h := info.Holder
		if h.RPPS != tc.rpps || h.ADELI != tc.adeli || h.ProfessionLabel != tc.label || h.Surname != p.Surname || h.GivenName != p.GivenName || h.NationalID != p.NationalID {
			t.Errorf("%s: got holder %+v, want RPPS %q ADELI %q label %q of %s %s", tc.profile, h, tc.rpps, tc.adeli, tc.label, p.Surname, p.GivenName)
		}
		if info.PIN.TriesLeft != 3 {
			t.Errorf("%s: %d tries left, want 3", tc.profile, info.PIN.TriesLeft)
		}
	}
}

func TestStateFileKeepsCounter(t *testing.T) {
	state := t.TempDir() + "/card.json"
	c, _ := openVirtual(t, "doctor", virtual.Options{StateFile: state}, card.Options{})
	_ = c.VerifyPIN(context.Background(), []byte("9999"))
	c2, _ := openVirtual(t, "doctor", virtual.Options{StateFile: state}, card.Options{})
	if n, err := c2.PINTriesLeft(context.Background()); err != nil || n != 2 {
		t.Fatalf("after restart: %d tries left, %v; want 2", n, err)
	}
}
