package httpapi

import (
	"net/http"

	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/queue"
)

// postPrescription takes a signed prescription PDF and keeps it
// (intake.Service.SubmitPrescription).
func (s *Server) postPrescription(w http.ResponseWriter, r *http.Request, c *caller) {
	raw, ok := readBody(w, r, s.MaxBody*8)
	if !ok {
		return
	}
	p, errs := s.Intake.SubmitPrescription(r.Context(), raw, dryRun(r))
	if len(errs) > 0 {
		Error(w, r, Refuse("prescription refused", errs...))
		return
	}
	rec := p.Record
	body := map[string]any{"id": rec.ID, "prescriber": rec.Prescriber, "signed_at": p.SignedAt, "lines": len(rec.Lines)}
	status := http.StatusCreated
	if dryRun(r) {
		body["dry_run"], status = true, http.StatusOK
	}
	writeJSON(w, status, body)
}

// postSCOR takes the SCOR piece of a sheet (PDF or JPEG) for its insurer
// (intake.Service.SubmitSCOR).
func (s *Server) postSCOR(w http.ResponseWriter, r *http.Request, c *caller) {
	billing, ok := billingOf(w, r, c)
	if !ok {
		return
	}
	raw, ok := readBody(w, r, int64(lot.MaxPieceBytes))
	if !ok {
		return
	}
	number := r.PathValue("number")
	rc, errs := s.Intake.SubmitSCOR(r.Context(), billing, number, raw)
	if len(errs) > 0 {
		title := "SCOR piece refused"
		if errs[0].Code == queue.CodeUnavailable {
			title = "SCOR piece not kept"
		}
		Error(w, r, Refuse(title, errs...))
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"billing": billing, "number": number, "pages": rc.Pages, "scor": rc.SCOR})
}
