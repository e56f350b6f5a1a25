package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/fse"
	pdir "github.com/fsegate/fsegate/gateway/practices"
	"github.com/fsegate/fsegate/gateway/rx"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

// pipeline checks one signed care sheet and queues it: strict decode →
// signature and trust → signer = caller, allowed for the billing number →
// fse rules → route → intake (queue.Submit: receipt only after the PubAck).
// The sheet is parsed once; fse and signature share the tree.
type pipeline struct {
	verifier  *signature.Verifier
	practices *practices
	dir       *insurers.Directory
	rules     fse.Options
	groups    rx.Groups // generic groups (CIP13 → group), for substitution
	queue     *queue.Queue
	metrics   *metrics
	// inflight counts the sheets being checked and queued right now: the
	// batcher yields to a busy intake (--drain-yield).
	inflight *atomic.Int64
}

// result is the outcome for one sheet: a receipt, or the errors.
type result struct {
	Receipt  *queue.Receipt
	Warnings []api.Error
	Errors   []api.Error
	rx       *rxClaim // a claim against a carried prescription, recorded at submit
}

func (r *result) status() int {
	if len(r.Errors) == 0 {
		return http.StatusOK
	}
	return api.StatusOf(r.Errors)
}

// sheetReceipt is the JSON of a receipt: the queue's receipt and the
// warnings of the rules.
type sheetReceipt struct {
	*queue.Receipt
	Warnings []api.Error `json:"warnings,omitempty"`
}

func fseErrors(err error) []api.Error {
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
		out = append(out, api.NewError("SHEET_MALFORMED", "", err.Error(), ""))
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

func sigErrors(err error) []api.Error {
	var ve *signature.VerifyError
	if errors.As(err, &ve) {
		out := make([]api.Error, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			out = append(out, api.NewError(string(p.Code), p.Path, p.Message, sigHints[p.Code]))
		}
		return out
	}
	return []api.Error{api.NewError("SIGNATURE_INVALID", "", err.Error(), "")}
}

// check runs every check of one sheet for caller (a national id) and
// returns what to queue, with every error found.
func (p *pipeline) check(ctx context.Context, raw []byte, caller string) (queue.Sheet, *result) {
	res := &result{}
	// The one parse of signed bytes (the same as gateway verify's and the
	// insurers'): what it refuses, every reader refuses.
	doc, err := signature.ParseDocument(raw)
	if err != nil {
		res.Errors = append(res.Errors, sigErrors(err)...)
		return queue.Sheet{}, res
	}
	sheet, derr := fse.DecodeElement(doc.Root())
	if derr != nil {
		res.Errors = append(res.Errors, fseErrors(derr)...)
	}
	vres, verr := p.verifier.VerifyDocument(doc)
	if verr != nil {
		res.Errors = append(res.Errors, sigErrors(verr)...)
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
				res.Errors = append(res.Errors, sigErrors(err)...)
			}
		}
		if signer := vres.Signer.NationalID; signer != "" && signer != caller {
			res.Errors = append(res.Errors, api.NewError("SENDER_MISMATCH", "", fmt.Sprintf("the connection is authenticated as %s, the sheet is signed by %s", caller, signer), "send with the card that signed"))
		}
	}
	claim := pdir.Claim{
		Billing: billing, Profession: sheet.Practitioner.Profession, Specialty: sheet.Practitioner.Specialty,
		Practitioner: sheet.Practitioner.NationalID, CareDate: sheet.CareDate.Time(time.UTC),
		SignerProfession: signerProfession, Sender: caller,
	}
	if r := sheet.Practitioner.Remplacant; r != nil {
		claim.Remplacant = r.NationalID
	}
	for _, pb := range p.practices.d.Check(claim) {
		res.Errors = append(res.Errors, api.NewError(pb.Code, pb.Path, pb.Message, pb.Hint))
	}
	warnings, rerr := fse.Validate(sheet, p.rules)
	if rerr != nil {
		res.Errors = append(res.Errors, fseErrors(rerr)...)
	}
	res.Warnings = fieldWarnings(warnings)
	out := queue.Sheet{
		Billing: billing, Number: sheet.Number, Signer: caller,
		RulesVersion: p.rules.Version(), Signed: raw,
	}
	d := sheet.ContentDigest()
	out.Digest = hex.EncodeToString(d[:])
	for _, dest := range sheet.Destinations() {
		ins, err := p.dir.Route(insurers.Destination(dest))
		if err != nil {
			path := "patient/caisse"
			if dest.Kind == "AMC" {
				path = "patient/amc"
			}
			res.Errors = append(res.Errors, api.NewError("INSURER_UNKNOWN", path, err.Error(), "check the patient's rights or the insurer directory"))
			continue
		}
		out.Destinations = append(out.Destinations, queue.Destination{Insurer: ins.ID, Kind: dest.Kind, ExpectPayment: sheet.TiersPayant()})
	}
	p.prescriptionRef(sheet, res, &out)
	return out, res
}

// submit checks and queues one sheet (or only checks it on a dry run).
func (p *pipeline) submit(ctx context.Context, raw []byte, caller string, dryRun bool) *result {
	p.metrics.received.Inc()
	if p.inflight != nil {
		p.inflight.Add(1)
		defer p.inflight.Add(-1)
	}
	s, res := p.check(ctx, raw, caller)
	if len(res.Errors) == 0 && res.rx != nil {
		res.Errors = append(res.Errors, p.dispense(ctx, res.rx, dryRun)...)
	}
	if len(res.Errors) == 0 {
		var r queue.Receipt
		var err error
		switch {
		case dryRun:
			r, err = p.queue.Preview(ctx, s)
		case receiptFirst:
			// The broken build (hooks.go): the receipt now, the write
			// a second later, whatever happens in between.
			r, err = p.queue.Preview(ctx, s)
			r.DryRun = false
			go func() {
				time.Sleep(time.Second)
				_, _ = p.queue.Submit(context.WithoutCancel(ctx), s)
			}()
		default:
			r, err = p.queue.Submit(ctx, s)
		}
		if err != nil && res.rx != nil && !dryRun {
			p.release(context.WithoutCancel(ctx), res.rx)
		}
		switch {
		case err == nil:
			res.Receipt = &r
		case errors.Is(err, queue.ErrDuplicate):
			res.Errors = append(res.Errors, api.NewError("DUPLICATE_SHEET", "number", "billing number "+s.Billing+" already has another sheet "+s.Number, "give the new sheet a new number"))
		case errors.Is(err, queue.ErrStorageFull):
			res.Errors = append(res.Errors, api.NewError("STORAGE_FULL", "", "the queue's storage is full", "send again later"))
		default:
			res.Errors = append(res.Errors, api.NewError("QUEUE_UNAVAILABLE", "", "the queue did not confirm the write", "send the same sheet again"))
		}
	}
	for _, e := range res.Errors {
		p.metrics.refused.WithLabelValues(e.Code).Inc()
	}
	if len(res.Errors) > 0 && !dryRun {
		p.recordRefusal(ctx, s, caller, res.Errors)
	}
	return res
}
