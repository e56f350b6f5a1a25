package queue

import (
	"errors"

	"github.com/fsegate/fsegate/problem"
)

// The codes of the queue's refusals, declared once; Codes lists them.
// Each sentinel below carries its code: problem.CodeOf(err) reads it,
// errors.Is(err, queue.ErrDuplicate) and errors.Is(err, CodeDuplicate)
// both match.
const (
	CodeDuplicate     problem.Code = "DUPLICATE_SHEET"
	CodeUnavailable   problem.Code = "QUEUE_UNAVAILABLE"
	CodeStorageFull   problem.Code = "STORAGE_FULL"
	CodeNotFound      problem.Code = "SHEET_NOT_FOUND"
	CodeSCORNotNeeded problem.Code = "SCOR_NOT_NEEDED"
	CodeSCORTaken     problem.Code = "SCOR_TAKEN"
	CodeSCORTooLarge  problem.Code = "SCOR_TOO_LARGE"
	// CodeConflict: a prescription record under the same prescriber and id
	// holds another prescription.
	CodeConflict problem.Code = "PRESCRIPTION_CONFLICT"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeDuplicate, Title: "another sheet with the same billing number and number was already received"},
		{Code: CodeUnavailable, Title: "the queue did not confirm the write; nothing was kept, send again"},
		{Code: CodeStorageFull, Title: "the queue's storage is full; nothing was kept, send again later"},
		{Code: CodeNotFound, Title: "the gateway has no sheet under this billing number and number"},
		{Code: CodeSCORNotNeeded, Title: "the sheet needs no SCOR piece"},
		{Code: CodeSCORTaken, Title: "the sheet already has another SCOR piece on its way"},
		{Code: CodeSCORTooLarge, Title: "the SCOR piece is over the size limit"},
		{Code: CodeConflict, Title: "another prescription was received under this prescriber and id"},
	}
}

// Errors of Submit.
var (
	// ErrDuplicate: another sheet has the same billing number and number.
	ErrDuplicate = problem.New(CodeDuplicate, "another sheet with this billing number and number was received")
	// ErrUnavailable: JetStream did not confirm the write.
	ErrUnavailable = problem.New(CodeUnavailable, "queue did not confirm the write")
	// ErrStorageFull: JetStream refused the write for lack of room.
	ErrStorageFull = problem.New(CodeStorageFull, "queue storage is full")
	// ErrInvalid: the sheet lacks what the queue needs (a bug upstream). It
	// carries no code: no caller can do anything about it.
	ErrInvalid = errors.New("sheet not queueable")
)

// ErrNotFound says no sheet has that key.
var ErrNotFound = problem.New(CodeNotFound, "no such sheet")

// Errors of SubmitSCOR.
var (
	ErrSCORNotNeeded = problem.New(CodeSCORNotNeeded, "the sheet needs no SCOR piece")
	ErrSCORTaken     = problem.New(CodeSCORTaken, "the sheet already has another SCOR piece")
	ErrSCORTooLarge  = problem.New(CodeSCORTooLarge, "the piece is over the message size limit")
)

// ErrConflict: another prescription is already kept under that prescriber
// and id (CreatePrescription).
var ErrConflict = problem.New(CodeConflict, "another value is kept under this key")
