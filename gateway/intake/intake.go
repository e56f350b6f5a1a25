package intake

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/fse"
	pdir "github.com/fsegate/fsegate/gateway/practices"
	"github.com/fsegate/fsegate/gateway/rx"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

// Metrics are the hooks the intake calls as it decides; the gateway
// registers the Prometheus series behind them (cmd/gateway). Codes and
// counts only: never patient data.
type Metrics interface {
	// SheetReceived counts one care sheet received (each attempt).
	SheetReceived()
	// SheetRefused counts one refusal reason of a sheet, by its code.
	SheetRefused(code string)
}

// Service checks one signed care sheet and queues it: strict decode →
// signature and trust → signer = sender, allowed for the billing number →
// fse rules → route → intake (queue.Submit: receipt only after the
// PubAck). The sheet is parsed once; fse and signature share the tree.
//
// Set the fields before the first call; a Service is then safe for
// concurrent use.
type Service struct {
	// Verifier checks signatures and the signer's certificate.
	Verifier *signature.Verifier
	// Practices says who may sign and send for which billing number.
	Practices *Practices
	// Directory routes each destination of a sheet to its insurer.
	Directory *insurers.Directory
	// Rules are the fse rules every sheet is validated with.
	Rules fse.Options
	// Groups are the generic groups (CIP13 → group), for substitution on
	// carried prescriptions; nil: no substitution.
	Groups rx.Groups
	// Queue keeps what is accepted (and the prescriptions, the refusals).
	Queue *queue.Queue
	// Metrics, when set, counts what is received and refused.
	Metrics Metrics
	// Logger takes the causes of the queue's failures (the sender is only
	// told to send again); nil: nothing is logged.
	Logger *slog.Logger
	// ReceiptFirst gives the receipt before the queue confirmed the
	// write: the fault campaign's deliberately broken build only
	// (cmd/gateway hooks_broken.go). Never set it otherwise.
	ReceiptFirst bool

	// inflight counts the sheets being checked and queued right now: the
	// batcher yields to a busy intake (--drain-yield).
	inflight atomic.Int64
}

// Inflight is the number of sheets being checked and queued right now.
func (s *Service) Inflight() int64 { return s.inflight.Load() }

// Result is the outcome for one sheet: a receipt (with the rules'
// warnings), or every error found.
type Result struct {
	Receipt  *queue.Receipt
	Warnings []api.Error
	Errors   []api.Error
	rx       *rxClaim // a claim against a carried prescription, recorded at submit
}

// FSEErrors are the coded errors of an fse decode or validation error.
func FSEErrors(err error) []api.Error {
	var out []api.Error
	var ve *fse.ValidationError
	var fe *fse.FieldError
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Errors {
			out = append(out, api.NewError(f.Code, f.Path, f.Message, f.Hint))
		}
	case errors.As(err, &fe):
		out = append(out, api.NewError(fe.Code, fe.Path, fe.Message, fe.Hint))
	default:
		out = append(out, api.NewError(fse.CodeMalformed, "", err.Error(), ""))
	}
	return out
}

func fieldWarnings(ws []*fse.FieldError) []api.Error {
	var out []api.Error
	for _, f := range ws {
		out = append(out, api.NewError(f.Code, f.Path, f.Message, f.Hint))
	}
	return out
}

// queueCode is the code of a queue error: the one its sentinel carries
// (queue.ErrDuplicate, ErrStorageFull …), QUEUE_UNAVAILABLE for any other
// error; "" for nil.
func queueCode(err error) problem.Code {
	if err == nil {
		return ""
	}
	if c := problem.CodeOf(err); c != "" {
		return c
	}
	return queue.CodeUnavailable
}

// sigHints say what a sender can do about a signature problem.
var sigHints = map[signature.Code]string{
	signature.CodeSignatureMissing:  "sign the sheet with the card first (workstation sign), then send the signed bytes untouched",
	signature.CodeDigestMismatch:    "sign the sheet again after any change: never edit a signed sheet",
	signature.CodeXMLTooLarge:       "send the signed bytes untouched: nothing may be added to them",
	signature.CodeXMLEncoding:       "write the sheet in UTF-8 (encoding=\"UTF-8\" or none), then sign it",
	signature.CodeSignatureWrapping: "sign once, with fsegate or an equivalent XAdES-BES signer, and send the bytes untouched",
	signature.CodeCertExpired:       "the card's certificate was not valid at the signing time: sign with a valid card",
	signature.CodeCertRevoked:       "the card is revoked: sign with another card, and ask for a new one",
	signature.CodeSignerMismatch:    "sign with the card of the practitioner (or the remplaçant) the sheet names",
}

// SignatureErrors are the coded errors of a signature or certificate
// error (signature.VerifyError's problems, with the sender's hints), or
// SIGNATURE_INVALID.
func SignatureErrors(err error) []api.Error {
	var ve *signature.VerifyError
	if errors.As(err, &ve) {
		out := make([]api.Error, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			out = append(out, api.NewError(p.Code, p.Path, p.Message, sigHints[p.Code]))
		}
		return out
	}
	return []api.Error{api.NewError(signature.CodeSignatureInvalid, "", err.Error(), "")}
}

// Check runs every check of one sheet for sender (a national id) and
// returns what to queue, with every error found. It queues nothing.
func (s *Service) Check(ctx context.Context, raw []byte, sender string) (queue.Sheet, *Result) {
	res := &Result{}
	// The one parse of signed bytes (the same as gateway verify's and the
	// insurers'): what it refuses, every reader refuses.
	doc, err := signature.ParseDocument(raw)
	if err != nil {
		res.Errors = append(res.Errors, SignatureErrors(err)...)
		return queue.Sheet{}, res
	}
	sheet, derr := fse.DecodeElement(doc.Root())
	if derr != nil {
		res.Errors = append(res.Errors, FSEErrors(derr)...)
	}
	vres, verr := s.Verifier.VerifyDocument(doc)
	if verr != nil {
		res.Errors = append(res.Errors, SignatureErrors(verr)...)
	}
	if sheet == nil {
		return queue.Sheet{}, res
	}
	billing := sheet.Practitioner.Billing
	// Who may bill: the signer's certificate and the practices directory
	// decide, never what the sheet says of itself (docs/who-may-bill.md).
	var signerProfession string
	if vres != nil && vres.Signer.Certificate != nil {
		signerProfession = vres.Signer.ProfessionCode
		if verr == nil {
			// The signer is the practitioner, or the remplaçant the sheet
			// names; a certificate naming nobody is refused.
			if err := signature.CheckSigner(vres.Signer, sheet.SignerID(), true); err != nil {
				res.Errors = append(res.Errors, SignatureErrors(err)...)
			}
		}
		if signer := vres.Signer.NationalID; signer != "" && signer != sender {
			res.Errors = append(res.Errors, api.NewError(pdir.CodeSenderMismatch, "", fmt.Sprintf("the connection is authenticated as %s, the sheet is signed by %s", sender, signer), "send with the card that signed"))
		}
	}
	claim := pdir.Claim{
		Billing: billing, Profession: sheet.Practitioner.Profession, Specialty: sheet.Practitioner.Specialty,
		Practitioner: sheet.Practitioner.NationalID, CareDate: sheet.CareDate.Time(time.UTC),
		SignerProfession: signerProfession, Sender: sender,
	}
	if r := sheet.Practitioner.Remplacant; r != nil {
		claim.Remplacant = r.NationalID
	}
	for _, pb := range s.Practices.Directory.Check(claim) {
		res.Errors = append(res.Errors, api.NewError(pb.Code, pb.Path, pb.Message, pb.Hint))
	}
	warnings, rerr := fse.Validate(sheet, s.Rules)
	if rerr != nil {
		res.Errors = append(res.Errors, FSEErrors(rerr)...)
	}
	res.Warnings = fieldWarnings(warnings)
	out := queue.Sheet{
		Billing: billing, Number: sheet.Number, Signer: sender,
		RulesVersion: s.Rules.Version(), Signed: raw,
	}
	d := sheet.ContentDigest()
	out.Digest = hex.EncodeToString(d[:])
	for _, dest := range sheet.Destinations() {
		ins, err := s.Directory.Route(insurers.Destination(dest))
		if err != nil {
			path := "patient/caisse"
			if dest.Kind == "AMC" {
				path = "patient/amc"
			}
			res.Errors = append(res.Errors, api.NewError(insurers.CodeUnknown, path, err.Error(), "check the patient's rights or the insurer directory"))
			continue
		}
		out.Destinations = append(out.Destinations, queue.Destination{Insurer: ins.ID, Kind: dest.Kind, ExpectPayment: sheet.TiersPayant()})
	}
	s.prescriptionRef(sheet, res, &out)
	return out, res
}

// Submit checks and queues one sheet of sender (or only checks it on a
// dry run): a receipt once the queue confirmed the write, or every error.
func (s *Service) Submit(ctx context.Context, raw []byte, sender string, dryRun bool) *Result {
	s.received()
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	sh, res := s.Check(ctx, raw, sender)
	if len(res.Errors) == 0 && res.rx != nil {
		res.Errors = append(res.Errors, s.dispense(ctx, res.rx, dryRun)...)
	}
	if len(res.Errors) == 0 {
		var r queue.Receipt
		var err error
		switch {
		case dryRun:
			r, err = s.Queue.Preview(ctx, sh)
		case s.ReceiptFirst:
			// The broken build: the receipt now, the write a second
			// later, whatever happens in between.
			r, err = s.Queue.Preview(ctx, sh)
			r.DryRun = false
			go func() {
				time.Sleep(time.Second)
				_, _ = s.Queue.Submit(context.WithoutCancel(ctx), sh)
			}()
		default:
			r, err = s.Queue.Submit(ctx, sh)
		}
		if err != nil && res.rx != nil && !dryRun {
			s.release(context.WithoutCancel(ctx), res.rx)
		}
		switch code := queueCode(err); {
		case err == nil:
			res.Receipt = &r
		case code == queue.CodeDuplicate:
			res.Errors = append(res.Errors, api.NewError(code, "number", "billing number "+sh.Billing+" already has another sheet "+sh.Number, "give the new sheet a new number"))
		case code == queue.CodeStorageFull:
			res.Errors = append(res.Errors, api.NewError(code, "", "the queue's storage is full", "send again later"))
		default:
			s.queueFailure("sheet not queued", err)
			res.Errors = append(res.Errors, api.NewError(queue.CodeUnavailable, "", "the queue did not confirm the write", "send the same sheet again"))
		}
	}
	for _, e := range res.Errors {
		s.Refused(string(e.Code))
	}
	if len(res.Errors) > 0 && !dryRun {
		s.recordRefusal(ctx, sh, sender, res.Errors)
	}
	return res
}

// queueFailure logs why the queue failed a write the sender is told to
// send again (the answer names no cause). Queue errors carry no patient
// data.
func (s *Service) queueFailure(msg string, err error) {
	if s.Logger != nil {
		s.Logger.Warn(msg+": the queue did not confirm the write", "err", err)
	}
}

func (s *Service) received() {
	if s.Metrics != nil {
		s.Metrics.SheetReceived()
	}
}

// Refused counts a refusal reason decided before the intake saw the sheet
// (a body over the size limit): the same series as the intake's own.
func (s *Service) Refused(code string) {
	if s.Metrics != nil {
		s.Metrics.SheetRefused(code)
	}
}
