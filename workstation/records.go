package workstation

import (
	"bytes"
	"errors"

	"github.com/fsegate/fsegate/workstation/outbox"
)

// What the outbox's records say, for the commands and the local API that
// read them: which record a sheet id names, what waits, what to send
// again.

// KeyFor finds the outbox key of sheet number: of billing when given, else
// the only outbox entry with that number (false when there is none, or
// several).
func KeyFor(ob *outbox.Outbox, billing, number string) (string, bool) {
	if billing != "" {
		k, err := outbox.Key(billing, number)
		return k, err == nil
	}
	all, err := ob.List()
	if err != nil {
		return "", false
	}
	found := ""
	for _, e := range all {
		if e.Number == number {
			if found != "" {
				return "", false
			}
			found = e.Key
		}
	}
	return found, found != ""
}

// Forgotten is what the outbox does when the gateway no longer knows the
// sheet of key: a receipted sheet is put back to be sent again (again is
// true, even when the outbox could not record it: err says why). Another
// entry, or none, stays as it is.
func Forgotten(ob *outbox.Outbox, key string) (again bool, err error) {
	e, err := ob.Get(key)
	if errors.Is(err, outbox.ErrNotFound) {
		return false, nil
	}
	if err != nil || e.State != outbox.Receipted {
		return false, err
	}
	return true, ob.Resend(key)
}

// Waiting counts the outbox's sheets of billing (all when empty) receipted
// and not final yet, and those final.
func Waiting(ob *outbox.Outbox, billing string) (waiting, final int, err error) {
	es, err := ob.List()
	if err != nil {
		return 0, 0, err
	}
	for _, e := range es {
		if billing != "" && e.Billing != billing {
			continue
		}
		switch e.State {
		case outbox.Receipted:
			waiting++
		case outbox.Final:
			final++
		}
	}
	return waiting, final, nil
}

// Pending lists the outbox's pending sheets other than keys, oldest
// first: what waits from earlier runs, sent before keys (their retry time
// not awaited: a command run by hand is a good time to try).
func Pending(ob *outbox.Outbox, keys []string) ([]string, error) {
	all, err := ob.List()
	if err != nil {
		return nil, err
	}
	skip := make(map[string]bool, len(keys))
	for _, k := range keys {
		skip[k] = true
	}
	var out []string
	for _, e := range all {
		if e.State == outbox.Pending && !skip[e.Key] {
			out = append(out, e.Key)
		}
	}
	return out, nil
}

// Due lists what 'outbox --send' sends: the pending sheets whose retry
// time has come, then the refused ones whose refusal had only external
// causes (Resendable: the cause may be gone).
func Due(ob *outbox.Outbox) ([]string, error) {
	due, err := ob.Due()
	if err != nil {
		return nil, err
	}
	again, err := Resendable(ob)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(due)+len(again))
	for _, e := range append(due, again...) {
		keys = append(keys, e.Key)
	}
	return keys, nil
}

// MayWait splits waiting into the sheets the card of sender may send and
// how many others stay (another practitioner's: their card sends them).
// The error is the outbox's.
func MayWait(sender *Sender, waiting []string) (ok []string, others int, err error) {
	for _, k := range waiting {
		err := sender.Hold(k)
		var se *SheetError
		switch {
		case errors.As(err, &se):
			others++
			continue
		case err != nil:
			return nil, 0, err
		}
		ok = append(ok, k)
	}
	return ok, others, nil
}

// IsPrescription reports whether b, given to send, is a signed
// prescription (a PDF from 'workstation prescribe'): it goes to the
// gateway as it is, not through the outbox (the prescriber keeps the
// signed file, and sending it again is harmless).
func IsPrescription(b []byte) bool { return bytes.HasPrefix(b, []byte("%PDF-")) }

// KeepSigned puts sh, a signed sheet given to send, in the outbox as it
// is: the same sheet signed again is the same sheet (already in the
// outbox, not a second one under its number). send is false for an entry
// already final: it is not sent again.
func KeepSigned(ob *outbox.Outbox, sh *Sheet, signed []byte) (e *outbox.Entry, send bool, err error) {
	e, err = ob.PutSheet(sh.Sheet.Practitioner.Billing, sh.Sheet.Number, signed, "", sh.Content)
	if err != nil {
		return nil, false, err
	}
	return e, e.State != outbox.Final, nil
}
