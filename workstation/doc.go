// Package workstation is the one path a care sheet takes on the
// practitioner's computer: prepare, sign, keep, send, follow. The commands
// of cmd/workstation (check, sign, batch, send, outbox --send, status,
// notices) and the local API (package workstation/localapi) are
// front-ends over it: they choose flags, output, HTTP statuses and exit
// codes; this package decides what may be signed and sent.
//
// Contract, in order, with nothing asked of the card before it is needed:
//
//  1. Prepare, without the card: ReadFile or Decode read an XML sheet
//     (signed input only through signature.ParseDocument, decoded from its
//     tree with fse.DecodeElement) or a JSON one; Flow.Plan says what the
//     outbox already knows of it (StepSign, StepSend, StepDone,
//     StepRefused); Flow.Check runs the caisse's rules (fse.Validate),
//     refuses a signed sheet where signing is asked, and verifies a signed
//     sheet's signature when a Verifier is set.
//  2. The card, without the PIN: OpenSession reads the holder from the
//     signature certificate and the card's billing situations;
//     Session.Check refuses a sheet that names another practitioner, a
//     card type that may not bill, and a billing number the card holds no
//     situation for, or whose situation may not sign invoices (a
//     remplaçant's sheet needs a remplaçant situation for it).
//  3. Sign: Session.Sign checks again and signs with one PIN entry per
//     session (SessionConfig.PIN is the prompt hook; PINEntries counts);
//     a card reset in the middle is opened again.
//  4. Keep: Flow.Put writes the signed bytes to the outbox, fsync'd,
//     before anything is sent.
//  5. Send: Sender checks each outbox entry against the card holder
//     before it opens the gateway client (TLS with the card, so the PIN),
//     sends it and records the outcome in the outbox. An entry of another
//     practitioner is Held: reported, left pending and untouched.
//     Batch runs 3 to 5 for many sheets, sending while it signs.
//  6. Follow: Follow and FollowNotices mark final, in the outbox, what the
//     gateway says is final; ReadNotices confirms notices only once they
//     are written; UntilFinal follows them until every sheet the outbox
//     sent is final.
//
// Around the path: a batch folder's conventions (SheetFiles,
// PrescriptionFiles, SCORFile; Flow.PlanFiles and Tally plan and count a
// batch; Pieces sends its prescriptions and SCOR pieces), and what the
// outbox's records mean (KeyFor, Pending, Due, Waiting, Forgotten: a
// receipted sheet the gateway no longer knows is sent again).
//
// The package prints nothing: it returns data and errors and calls the
// hooks its caller gives (the PIN prompt, Batch.Kept and Batch.Sent, the
// notices' write, a refused prescription's report).
//
// Errors: a sheet that may not go on gives a *SheetError holding every
// Problem (a code, a path, a message, a hint), each unwrapping to what it
// comes from: an *fse.FieldError (the rules' codes), a signature.Problem
// (signature codes; SIGNER_MISMATCH and CARD_TYPE_FORBIDDEN for the card
// holder check) or a Code of this package (FILE_UNREADABLE,
// ALREADY_SIGNED, ALREADY_IN_OUTBOX; SITUATION_UNKNOWN and
// SITUATION_MAY_NOT_SIGN for the card's billing situations), so errors.Is
// works with each. The
// card's errors (card.ErrWrongPIN, card.ErrNoCard, …) and the outbox's
// (outbox.ErrConflict) come as they are, wrapped. docs/errors.md lists
// every code.
package workstation
