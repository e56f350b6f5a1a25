package workstation

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/pkcs11"
)

// TestSessionPKCS11: a session on a PKCS#11 token (SoftHSM2 holding the
// doctor's keys) signs the doctor's sheets with one PIN entry; the holder
// check still refuses another practitioner's sheet before the PIN; the
// token shows no billing situations, so a billing number the virtual
// card's situations would refuse is left to the gateway.
func TestSessionPKCS11(t *testing.T) {
	ctx := context.Background()
	mod := testenv.SoftHSM(t, "doctor", "1234")
	var asked atomic.Int32
	s, err := OpenSession(ctx, SessionConfig{
		Open: func(ctx context.Context) (card.Token, error) { return pkcs11.Open(ctx, pkcs11.Config{Module: mod}) },
		PIN: func(context.Context, card.PINRequest) ([]byte, error) {
			asked.Add(1)
			return []byte("1234"), nil
		},
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Card().Backend(); got != card.BackendPKCS11 {
		t.Errorf("backend = %q", got)
	}
	if _, err := s.Sign(ctx, testSheet(t, "pharmacist.xml")); !errors.Is(err, signature.CodeSignerMismatch) {
		t.Errorf("another practitioner's sheet: got %v, want SIGNER_MISMATCH", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("PIN asked %d times before any signature", n)
	}
	if err := s.Check(editedSheet(t, "doctor.xml", billedUnder("751000043"))); err != nil {
		t.Errorf("billing number outside the virtual card's situations: %v (a PKCS#11 token has none to check)", err)
	}
	signOwnSheets(ctx, t, s)
	if n := asked.Load(); n != 1 {
		t.Errorf("PIN asked %d times, want 1", n)
	}
}
