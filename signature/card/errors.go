package card

import (
	"errors"
	"fmt"

	"github.com/fsegate/fsegate/signature/card/internal/apdu"
)

// StatusError is a card's refusal: the status word SW1 SW2 of a command.
// Compare with errors.Is against the sentinels below; ErrWrongPIN matches
// every 63 Cx (use TriesLeft for x).
type StatusError struct {
	SW uint16
	Op string // the command, e.g. "VERIFY", "PSO CDS"
}

func (e *StatusError) Error() string {
	sw := apdu.SW(e.SW)
	n, wrong := sw.TriesLeft()
	switch {
	case wrong && e.Op == "VERIFY":
		if n == 1 {
			return "wrong PIN: 1 try left before the card blocks"
		}
		return fmt.Sprintf("wrong PIN: %d tries left", n)
	case wrong && e.Op == "RESET RETRY COUNTER":
		return fmt.Sprintf("wrong unblock code: %d tries left", n)
	case sw == apdu.Blocked && e.Op == "RESET RETRY COUNTER":
		return "the unblock code is blocked: the card must be replaced (ANS, espace CPS)"
	case sw == apdu.Blocked:
		return "PIN blocked after too many wrong entries: unblock it with 'workstation card unblock' and the 8-digit unblock code from the card's letter"
	}
	name := sw.Name()
	if name == "" {
		name = "refused"
	}
	if e.Op == "" {
		return fmt.Sprintf("card: %s (SW %04X)", name, e.SW)
	}
	return fmt.Sprintf("card: %s: %s (SW %04X)", e.Op, name, e.SW)
}

// Is matches status words: any 63 Cx matches ErrWrongPIN.
func (e *StatusError) Is(target error) bool {
	t, ok := target.(*StatusError)
	if !ok {
		return false
	}
	return apdu.SW(e.SW).Is(apdu.SW(t.SW))
}

// TriesLeft reports the tries left that a wrong PIN (63 Cx) error carries.
func TriesLeft(err error) (int, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return apdu.SW(se.SW).TriesLeft()
	}
	return 0, false
}

// Status words the card answers.
var (
	ErrWrongPIN          = &StatusError{SW: uint16(apdu.WrongPIN)} // 63 Cx: wrong PIN (or unblock code), x tries left
	ErrPINBlocked        = &StatusError{SW: uint16(apdu.Blocked)}  // authentication method blocked
	ErrSecurityStatus    = &StatusError{SW: uint16(apdu.Security)} // security status not satisfied: PIN not verified
	ErrConditionsOfUse   = &StatusError{SW: uint16(apdu.Conditions)}
	ErrCommandNotAllowed = &StatusError{SW: uint16(apdu.NotAllowed)}
	ErrWrongData         = &StatusError{SW: uint16(apdu.WrongData)}
	ErrFileNotFound      = &StatusError{SW: uint16(apdu.NotFound)}
	ErrWrongP1P2         = &StatusError{SW: uint16(apdu.WrongP1P2)}
	ErrRefNotFound       = &StatusError{SW: uint16(apdu.RefNotFound)}
	ErrWrongLength       = &StatusError{SW: uint16(apdu.WrongLength)}
	ErrChannel           = &StatusError{SW: uint16(apdu.NoChannel)} // logical channel not supported
	ErrINSNotSupported   = &StatusError{SW: uint16(apdu.INSUnsupported)}
	ErrCLANotSupported   = &StatusError{SW: uint16(apdu.CLAUnsupported)}
)

// Errors of the reader and the card as a whole.
var (
	// ErrNoReader: pcscd lists no reader (or not the one asked for).
	ErrNoReader = errors.New("no card reader")
	// ErrNoCard: the reader is empty.
	ErrNoCard = errors.New("no card in the reader")
	// ErrSeveralCards: no reader was named and more than one holds a card.
	ErrSeveralCards = errors.New("cards in several readers")
	// ErrCardRemoved: the card left the reader during an operation; the
	// operation produced nothing.
	ErrCardRemoved = errors.New("card removed from the reader")
	// ErrNoPCSC: pcscd is not running.
	ErrNoPCSC = errors.New("PC/SC service (pcscd) not available")
	// ErrNotCPS: the card's ATR is not a CPx's.
	ErrNotCPS = errors.New("not a CPS card")
	// ErrContactless: a CPS read without contact signs nothing.
	ErrContactless = errors.New("the CPS is read without contact, and the card allows no signature without contact: put it in a contact reader")
	// ErrPSSNotSupported: the authentication key signs PKCS#1 v1.5 only
	// (so TLS with the card is TLS 1.2).
	ErrPSSNotSupported = errors.New("the CPS authentication key signs PKCS#1 v1.5 only, not RSA-PSS: cap TLS at 1.2")
	// ErrHashNotSupported: the card signs SHA-256 only.
	ErrHashNotSupported = errors.New("the CPS signs SHA-256 digests only")
	// ErrFinalHashRefused: the card refused PSO HASH with a final hash
	// code; real CPx cards may accept only the intermediate state.
	ErrFinalHashRefused = errors.New("the card refused a digest-only signature (PSO HASH with the final hash code, tag 90): it accepts only the intermediate hash state, sign the whole message (SignMessage) instead")
	// ErrNoPIN: the card needs the PIN and no prompt was given.
	ErrNoPIN = errors.New("the card needs the PIN and no PIN prompt is set")
	// ErrUsageExhausted: the card's usage counter says the PIN must be
	// entered again.
	ErrUsageExhausted = errors.New("the card's usage counter is exhausted: the PIN must be entered again")
)
