package workstation_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/virtual"
	"github.com/fsegate/fsegate/workstation"
)

// A sheet that names another practitioner than the card's holder is
// refused from the card's certificate: the PIN is never asked for it.
func ExampleSession_Check() {
	ctx := context.Background()
	v, err := dev.Card("doctor", virtual.Options{})
	if err != nil {
		panic(err)
	}
	asked := 0
	sess, err := workstation.OpenSession(ctx, workstation.SessionConfig{
		Open: func(ctx context.Context) (card.Token, error) { return card.Open(ctx, card.Loopback(v), card.Options{}) },
		PIN: func(context.Context, card.PINRequest) ([]byte, error) {
			asked++
			return []byte("1234"), nil
		},
	})
	if err != nil {
		panic(err)
	}
	defer sess.Close()

	sh, err := workstation.ReadFile("testdata/pharmacist.xml")
	if err != nil {
		panic(err)
	}
	_, err = sess.Sign(ctx, sh)
	fmt.Println(errors.Is(err, signature.CodeSignerMismatch))
	for _, p := range workstation.ProblemsOf(err) {
		fmt.Println(p)
	}
	fmt.Println("PIN asked:", asked)
	// Output:
	// true
	// SIGNER_MISMATCH: the sheet names practitioner 899700075122, the card is 899700218896's
	// PIN asked: 0
}

// Every reason a sheet may not be signed, before the card: the caisse's
// rules, and a sheet already signed where signing is asked.
func ExampleFlow_Check() {
	raw, err := os.ReadFile("testdata/doctor.xml")
	if err != nil {
		panic(err)
	}
	sh, err := workstation.Decode("doctor.xml", raw)
	if err != nil {
		panic(err)
	}
	// No tariff table: every NGAP line is refused.
	f := &workstation.Flow{Rules: fse.Options{Now: func() time.Time { return time.Date(2026, 3, 18, 12, 0, 0, 0, time.UTC) }}}
	err = f.Check(sh)
	var se *workstation.SheetError
	if errors.As(err, &se) {
		for _, p := range se.Problems {
			fmt.Println(p.Code, p.Path)
		}
	}
	// Output:
	// NGAP_KEY_UNKNOWN lines/1/key
}
