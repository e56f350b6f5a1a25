package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/gateway/rx"
	"github.com/fsegate/fsegate/queue"
	"github.com/fsegate/fsegate/signature"
)

// rxClaim is a sheet that claims against a carried prescription: checked
// and recorded by dispense, after every other check passed.
type rxClaim struct {
	sheet *fse.Sheet
}

func rxErrors(ps []rx.Problem) []api.Error {
	out := make([]api.Error, 0, len(ps))
	for _, p := range ps {
		out = append(out, api.NewError(p.Code, p.Path, p.Message, p.Hint))
	}
	return out
}

// prescriptionRef applies the sheet's prescription reference (docs/care-sheet.md,
// "Prescription"): a national number travels with a warning, a paper one
// makes the sheet wait for its SCOR piece (sent to its AMO), a carried one
// is checked and recorded at submit. A pharmacy sheet always needs a
// reference (fse's PRESCRIPTION_REQUIRED).
func (s *Service) prescriptionRef(sheet *fse.Sheet, res *Result, out *queue.Sheet) {
	ref := sheet.Prescription
	if ref == nil {
		return
	}
	switch ref.RxKind() {
	case fse.RxNational:
		res.Warnings = append(res.Warnings, api.NewError(rx.CodeNotVerified, "prescription/id",
			"prescription "+ref.ID+" is a national e-prescription number, not verified by fsegate", "the dispensation is recorded in the national base by the pharmacy software"))
	case fse.RxPaper:
		for _, d := range out.Destinations {
			if d.Kind == "AMO" {
				out.SCORInsurer = d.Insurer
			}
		}
		res.Warnings = append(res.Warnings, api.NewError(rx.CodeSCORRequired, "prescription",
			"a paper prescription: the sheet waits for its SCOR piece", "send the scanned prescription (workstation scor, or a .scor.pdf / .scor.jpg beside the sheet for batch)"))
	case fse.RxCarried:
		res.rx = &rxClaim{sheet: sheet}
	}
}

// dispense checks a claim against its carried prescription and, unless
// dry, records its dispensations, atomically (compare-and-swap on the
// prescription's record): of two claims racing on one line, the second
// sees the first.
func (s *Service) dispense(ctx context.Context, c *rxClaim, dry bool) []api.Error {
	sh := c.sheet
	ref := sh.Prescription
	dispenser := sh.Practitioner.ID
	if r := sh.Practitioner.Remplacant; r != nil {
		dispenser = r.ID
	}
	var problems []rx.Problem
	err := s.Queue.UpdatePrescription(ctx, ref.Prescriber, ref.ID, func(cur []byte) ([]byte, error) {
		var rec rx.Record
		if err := json.Unmarshal(cur, &rec); err != nil {
			return nil, fmt.Errorf("prescription record: %w", err)
		}
		changed, ps := rec.Dispense(rx.Claim{Sheet: sh, Dispenser: dispenser, Groups: s.Groups})
		problems = ps
		if !changed || dry || len(ps) > 0 {
			return nil, nil
		}
		return json.Marshal(&rec)
	})
	switch {
	case errors.Is(err, queue.ErrNotFound):
		// No record under the id: for the claim, the prescription is unknown.
		return []api.Error{api.NewError(rx.CodeUnknown, "prescription/id", "prescription "+ref.ID+" of "+ref.Prescriber+" was never received",
			"the prescriber (or the patient's copy) sends the signed prescription first: POST /v1/prescriptions, or a .rx.pdf in the batch folder; the sheet is sent again once it is there")}
	case err != nil:
		s.queueFailure("dispensation not recorded", err)
		return []api.Error{api.NewError(queue.CodeUnavailable, "", "prescription record not read or written", "send again")}
	}
	return rxErrors(problems)
}

// release undoes the dispensations of a sheet whose intake failed after
// they were recorded.
func (s *Service) release(ctx context.Context, c *rxClaim) {
	sh := c.sheet
	key := sh.Practitioner.Billing + "." + sh.Number
	_ = s.Queue.UpdatePrescription(ctx, sh.Prescription.Prescriber, sh.Prescription.ID, func(cur []byte) ([]byte, error) {
		var rec rx.Record
		if json.Unmarshal(cur, &rec) != nil || !rec.Release(key) {
			return nil, nil
		}
		return json.Marshal(&rec)
	})
}

// Prescription is a signed prescription kept (or, on a dry run, that
// would be kept).
type Prescription struct {
	Record   *rx.Record
	SignedAt time.Time
}

// SubmitPrescription verifies a signed prescription PDF and keeps it
// (unless dryRun): the signature and the signer's certificate, then
// keepPrescription's checks. Whoever holds it may carry it (the
// prescriber, or the pharmacy the patient brings it to): the signature,
// not the sender, binds it.
func (s *Service) SubmitPrescription(ctx context.Context, raw []byte, dryRun bool) (*Prescription, []api.Error) {
	res, err := s.Verifier.VerifyPDF(raw)
	if err != nil {
		return nil, SignatureErrors(err)
	}
	rec, errs := s.keepPrescription(ctx, raw, res, dryRun)
	if len(errs) > 0 {
		return nil, errs
	}
	return &Prescription{Record: rec, SignedAt: res.SigningTime}, nil
}

// keepPrescription checks a verified prescription PDF and keeps it: the
// signer must be of a prescribing profession; its structured data
// (prescription.json) must name the patient and the lines.
func (s *Service) keepPrescription(ctx context.Context, raw []byte, res *signature.PDFResult, dry bool) (*rx.Record, []api.Error) {
	var errs []api.Error
	if !rx.Prescribing(res.Signer.ProfessionCode) {
		errs = append(errs, api.NewError(rx.CodeNotPrescriber, "", "a "+res.Signer.Profession+" may not issue a prescription", "prescriptions are signed with a doctor's, dentist's or midwife's card"))
	}
	data, err := res.Attachment("prescription.json")
	if err != nil {
		return nil, append(errs, api.NewError(rx.CodeContent, "prescription.json", "the PDF carries no structured prescription (prescription.json)", "sign prescriptions made by 'workstation prescribe'"))
	}
	content, ps := rx.ParseContent(data)
	errs = append(errs, rxErrors(ps)...)
	if content != nil && content.Prescriber.NationalID != "" && content.Prescriber.NationalID != res.Signer.NationalID {
		errs = append(errs, api.NewError(signature.CodeSignerMismatch, "prescriber/national_id", "the prescription names another prescriber than its signer", "sign with the prescriber's card"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	prescriber := strings.TrimPrefix(res.Signer.NationalID, "8") // RPPS from the IDNPS
	sum := sha256.Sum256(raw)
	rec := rx.NewRecord(content, prescriber, hex.EncodeToString(sum[:]))
	if dry {
		return rec, nil
	}
	b, _ := json.Marshal(rec)
	err = s.Queue.CreatePrescription(ctx, prescriber, rec.ID, b, func(existing []byte) bool {
		var old rx.Record
		return json.Unmarshal(existing, &old) == nil && old.Digest == rec.Digest
	})
	switch code := queueCode(err); {
	case code == queue.CodeConflict:
		return nil, []api.Error{api.NewError(code, "id", "another prescription "+rec.ID+" of this prescriber was received", "give each prescription its own id")}
	case err != nil:
		s.queueFailure("prescription not kept", err)
		return nil, []api.Error{api.NewError(queue.CodeUnavailable, "", "the queue did not confirm the write", "send again")}
	}
	// The signed PDF itself, kept as the prescription's legal copy (the
	// same bytes again are not stored twice).
	if err := s.Queue.StorePrescription(ctx, prescriber, rec.ID, raw); err != nil {
		s.queueFailure("prescription PDF not kept", err)
		return nil, []api.Error{api.NewError(queue.CodeUnavailable, "", "the queue did not confirm the write", "send again")}
	}
	return rec, nil
}

// SCORReceipt is a SCOR piece queued for its sheet's insurer.
type SCORReceipt struct {
	Pages int
	SCOR  *queue.SCOR
}

// SubmitSCOR takes the SCOR piece of sheet billing.number (PDF or JPEG),
// checked with the bounded reader, and queues it for the sheet's insurer.
// The caller checked that the sender acts for billing.
func (s *Service) SubmitSCOR(ctx context.Context, billing, number string, raw []byte) (*SCORReceipt, []api.Error) {
	scan, err := signature.InspectScan(raw)
	if err != nil {
		return nil, []api.Error{api.NewError(signature.CodeScanInvalid, "", err.Error(), "scan the prescription again, as a PDF or JPEG of at most 5 MiB")}
	}
	st, err := s.Queue.SubmitSCOR(ctx, billing, number, scan.Kind, raw)
	// The queue's sentinels carry their codes; the messages and hints are
	// the sender's.
	switch code := queueCode(err); code {
	case "":
	case queue.CodeNotFound:
		return nil, []api.Error{api.NewError(code, "number", "no sheet "+number+" for billing number "+billing, "send the sheet first, then its piece")}
	case queue.CodeSCORNotNeeded:
		return nil, []api.Error{api.NewError(code, "", "the sheet's prescription is not on paper", "")}
	case queue.CodeSCORTaken:
		return nil, []api.Error{api.NewError(code, "", "another piece of this sheet is on its way", "wait for its ARL; a refused piece may be sent again")}
	case queue.CodeSCORTooLarge:
		return nil, []api.Error{api.NewError(code, "", fmt.Sprintf("the piece is over the %d bytes this deployment's NATS carries", s.Queue.MaxPiece()), "scan at a lower resolution, or raise the NATS server's max_payload")}
	default:
		s.queueFailure("SCOR piece not queued", err)
		return nil, []api.Error{api.NewError(queue.CodeUnavailable, "", "the queue did not confirm the write", "send again")}
	}
	return &SCORReceipt{Pages: scan.Pages, SCOR: st}, nil
}
