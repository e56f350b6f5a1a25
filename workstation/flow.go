package workstation

import (
	"errors"
	"fmt"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// Flow is what the workstation does with care sheets before the card
// signs them and after: the caisse's rules and the outbox. Its zero value
// checks with no tariff table (every NGAP line refused), refuses signed
// input and has no outbox.
type Flow struct {
	// Rules are the caisse's rules' options: tables, the current time.
	Rules fse.Options
	// AcceptSigned lets a sheet that is already signed through, to be sent
	// as it is (batch, serve, check). False: it is refused with
	// ALREADY_SIGNED (sign: a sheet is not signed twice).
	AcceptSigned bool
	// Verifier, when set, verifies the signature of a signed sheet in Check
	// and that its signer is the sheet's practitioner with a card that may
	// bill (check). Nil: the gateway verifies it.
	Verifier *signature.Verifier
	// Untrusted, when set, is why the trust anchors to verify signatures
	// with could not be loaded (check): a signed sheet is then refused
	// CERT_UNTRUSTED, before the rules' problems.
	Untrusted error
	// Outbox keeps the signed sheets until their final state (Plan, Put);
	// nil for a flow that writes no outbox (sign).
	Outbox *outbox.Outbox
}

// Check runs the caisse's rules on sh (its warnings go to sh.Warnings),
// refuses it when it is signed and the flow does not accept signed sheets,
// and verifies its signature when the flow has a Verifier (or refuses it
// when the flow's trust anchors are Untrusted). It needs no card. The
// error is a *SheetError with every problem.
func (f *Flow) Check(sh *Sheet) error {
	warns, err := fse.Validate(sh.Sheet, f.Rules)
	sh.Warnings = sh.Warnings[:0]
	for _, w := range warns {
		sh.Warnings = append(sh.Warnings, fieldProblem(w))
	}
	var ps []Problem
	if sh.Signed && f.Untrusted != nil {
		ps = append(ps, Problem{Code: signature.CodeCertUntrusted, Path: "Signature", Message: f.Untrusted.Error(), Err: signature.CodeCertUntrusted})
	}
	ps = append(ps, ProblemsOf(err)...)
	if sh.Signed {
		switch {
		case !f.AcceptSigned:
			ps = append(ps, Problem{Code: CodeAlreadySigned, Message: "the sheet is already signed", Hint: "sign the unsigned sheet", Err: CodeAlreadySigned})
		case f.Verifier != nil:
			res, err := f.Verifier.VerifyDocument(sh.doc)
			if err == nil {
				err = signature.CheckSigner(res.Signer, sh.Sheet.SignerID(), true)
			}
			ps = append(ps, ProblemsOf(err)...)
		}
	}
	return sheetError(sh.Name, ps)
}

// Step is what the flow does next with a sheet, given what the outbox holds.
type Step int

const (
	// StepSign: the outbox does not hold it, or holds a refused or
	// rejected sheet of that number that this one corrects: check it, sign
	// it (or keep it as it is when signed), keep it, send it.
	StepSign Step = iota
	// StepSend: the outbox holds it signed and not sent yet (signed before
	// a crash or an offline run): send it.
	StepSend
	// StepDone: the outbox holds it receipted or final: nothing to do.
	StepDone
	// StepRefused: the outbox holds it refused by the gateway or rejected
	// by the insurer, and it was not corrected since: nothing to do until
	// it is.
	StepRefused
)

// Plan says what to do with sh given the outbox, and sets sh.Key. The
// entry is the outbox's record of that number when there is one. A sheet
// whose number the outbox holds for another sheet, not refused, is
// refused with ALREADY_IN_OUTBOX (*SheetError): a number is used once.
// An outbox that cannot be read is an error of another type.
func (f *Flow) Plan(sh *Sheet) (Step, *outbox.Entry, error) {
	key, err := outbox.Key(sh.Sheet.Practitioner.Billing, sh.Sheet.Number)
	if err != nil {
		return StepSign, nil, sheetError(sh.Name, []Problem{{Code: fse.ErrMalformed.Code, Message: err.Error(), Err: err}})
	}
	sh.Key = key
	e, err := f.Outbox.Get(key)
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		return StepSign, nil, nil
	case err != nil:
		return StepSign, nil, err
	}
	same := e.Source == sh.Source || e.Digest == sh.Source || (sh.Content != "" && e.Content == sh.Content)
	rejected := e.State == outbox.Refused || (e.State == outbox.Final && e.FinalState == "rejected")
	switch {
	case e.State == outbox.Pending && same, e.State == outbox.Refused && same && External(e.Codes):
		// Pending, or refused for a cause outside its content (resend.go):
		// sent as it is.
		return StepSend, e, nil
	case !rejected && !same:
		return StepSign, e, sheetError(sh.Name, []Problem{{
			Code:    CodeAlreadyInOutbox,
			Message: fmt.Sprintf("another sheet %s is in the outbox (%s): a number is used once", key, e.State),
			Hint:    "give the sheet a new number; a refused or rejected sheet may be corrected under its number",
			Err:     CodeAlreadyInOutbox,
		}})
	case !rejected:
		return StepDone, e, nil
	case same:
		return StepRefused, e, nil
	}
	return StepSign, e, nil // the correction of a refused or rejected sheet
}

// Put writes the signed document of sh to the outbox, fsync'd, with sh's
// Source, before it is sent (outbox.PutSource: outbox.ErrConflict when the
// outbox holds another sheet of that number that is not refused).
func (f *Flow) Put(sh *Sheet, signed []byte) (*outbox.Entry, error) {
	return f.Outbox.PutSheet(sh.Sheet.Practitioner.Billing, sh.Sheet.Number, signed, sh.Source, sh.Content)
}
