package pkcs11_test

import (
	"context"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/pkcs11"
	"github.com/fsegate/fsegate/signature/card/virtual"
)

// openscToken puts a virtual card of profile in a vpcd reader of pcscd and
// opens it through OpenSC's PKCS#11 module, the token named by its slot
// description (the reader's name). OPENSC_CONF gives OpenSC room for
// every reader of pcscd.
func openscToken(t testing.TB, profile string, prompt card.PINPrompt) (*pkcs11.Token, *virtual.CPS, string) {
	t.Helper()
	mod := testenv.OpenSCModule(t)
	v, err := dev.Card(profile, virtual.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.InsertCard(t, v)
	conf := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(conf, []byte("app default {\n}\napp opensc-pkcs11 {\n\tpkcs11 {\n\t\tmax_virtual_slots = 64;\n\t\tslots_per_card = 1;\n\t}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENSC_CONF", conf)
	tok, err := pkcs11.Open(t.Context(), pkcs11.Config{Module: mod, Token: pkcs11.URI{SlotDescription: r.Name}, PIN: prompt})
	if err != nil {
		t.Fatalf("open through OpenSC: %v", err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok, v, r.Name
}

// TestOpenSCTLSClientAuth: TLS 1.2 client authentication with the virtual
// card's authentication key through OpenSC's module and pcscd is accepted
// by the gateway's trust store.
func TestOpenSCTLSClientAuth(t *testing.T) {
	tok, _, _ := openscToken(t, "doctor", pin("1234"))
	if id := tlsHandshake(t, tok); id.NationalID != "899700218896" {
		t.Errorf("the gateway saw %q", id.NationalID)
	}
}

// TestOpenSCSignatureKeyNotOffered: OpenSC does not run the CPx's PSO HASH
// (domain.md §2): the signature key fails with ErrKeyNotOffered, whose
// message says what to use instead.
func TestOpenSCSignatureKeyNotOffered(t *testing.T) {
	tok, _, _ := openscToken(t, "doctor", pin("1234"))
	key, err := tok.SigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	_, err = key.SignMessage(nil, []byte("<a/>"), crypto.SHA256)
	if !errors.Is(err, pkcs11.ErrKeyNotOffered) {
		t.Fatalf("got %v, want ErrKeyNotOffered", err)
	}
}

// TestOpenSCPINFlags: the PIN flags OpenSC reads from the virtual card
// (count low, final try, locked) map to the card's codes: 63 C2, 63 C1,
// then 69 83, and a locked PIN is not asked for.
func TestOpenSCPINFlags(t *testing.T) {
	ctx := t.Context()
	asked := 0
	tok, _, _ := openscToken(t, "doctor", func(context.Context, card.PINRequest) ([]byte, error) {
		asked++
		return []byte("9999"), nil
	})
	for i, want := range []struct {
		err   error
		tries int
	}{{card.ErrWrongPIN, 2}, {card.ErrWrongPIN, 1}, {card.ErrPINBlocked, -1}} {
		err := tok.Login(ctx)
		if !errors.Is(err, want.err) {
			t.Fatalf("wrong PIN %d: got %v, want %v", i+1, err, want.err)
		}
		if n, ok := card.TriesLeft(err); want.tries >= 0 && (!ok || n != want.tries) {
			t.Errorf("wrong PIN %d: tries left %d, %v; want %d", i+1, n, ok, want.tries)
		}
		info, err := tok.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if wantLeft := max(want.tries, 0); info.PIN.TriesLeft != wantLeft {
			t.Errorf("after wrong PIN %d: Info says %d tries left, want %d", i+1, info.PIN.TriesLeft, wantLeft)
		}
	}
	before := asked
	if err := tok.Login(ctx); !errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("locked: got %v, want ErrPINBlocked", err)
	}
	if asked != before {
		t.Errorf("the PIN was asked for on a locked token")
	}
}

// TestOpenSCTokenRemoved: a card pulled out of the reader is
// card.ErrCardRemoved through OpenSC, as through pcscd directly.
func TestOpenSCTokenRemoved(t *testing.T) {
	tok, v, reader := openscToken(t, "doctor", pin("1234"))
	if err := tok.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	v.Remove()
	testenv.WaitAbsent(t, reader)
	cert, err := tok.TLSCertificate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = cert.PrivateKey.(crypto.Signer).Sign(nil, make([]byte, 32), crypto.SHA256)
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // pcscd sees the card gone within ~0.4 s
	}
	if !errors.Is(err, card.ErrCardRemoved) {
		t.Fatalf("got %v, want card.ErrCardRemoved", err)
	}
}
