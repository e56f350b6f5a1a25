package api

import (
	"net/http"
	"sort"
)

// Code is one stable error code: what the API returns, what docs/errors.md
// documents under the anchor of the same name.
type Code struct {
	Name   string // e.g. NIR_KEY
	Status int    // HTTP status when this code is the reason of a refusal
	Title  string // one line, lowercase, no final period
	// Warning codes never refuse a sheet; they travel in the receipt.
	Warning bool
}

// DocURL is where a code is explained, relative to the repository.
func (c Code) DocURL() string { return "docs/errors.md#" + c.Name }

// registry is the one list of codes. Sections are owned by the package that
// emits them; a test checks it against fse.Codes, signature.Codes and
// docs/errors.md so none of the three drifts.
var registry = map[string]Code{}

func reg(status int, warning bool, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		registry[pairs[i]] = Code{Name: pairs[i], Status: status, Title: pairs[i+1], Warning: warning}
	}
}

func init() {
	// Transport and authentication (gateway).
	reg(http.StatusUnauthorized, false,
		"CLIENT_CERT_REQUIRED", "the sheet endpoints need a client certificate from a CPS card",
	)
	reg(http.StatusForbidden, false,
		"SIGNER_NOT_ALLOWED", "the signer may not sign for this billing number",
		"SENDER_MISMATCH", "the authenticated sender is not the signer of the sheet",
		"PROFESSION_MISMATCH", "the sheet's profession is not its billing number's, or not the signer certificate's",
		"SPECIALTY_MISMATCH", "the sheet's specialty is not its billing number's",
		"REMPLACANT_NOT_ALLOWED", "the remplaçant the sheet names may not replace on this billing number that day",
	)
	reg(http.StatusRequestEntityTooLarge, false,
		"BODY_TOO_LARGE", "the request body is over the size limit",
		"BATCH_TOO_LARGE", "the batch holds more items or bytes than allowed",
	)
	reg(http.StatusTooManyRequests, false,
		"TOO_MANY_REQUESTS", "the client has as many batches in progress as allowed",
	)
	reg(http.StatusConflict, false,
		"DUPLICATE_SHEET", "another sheet with the same billing number and number was already received",
	)
	reg(http.StatusServiceUnavailable, false,
		"QUEUE_UNAVAILABLE", "the queue did not confirm the write; nothing was kept, send again",
		"STORAGE_FULL", "the queue's storage is full; nothing was kept, send again later",
	)
	reg(http.StatusUnprocessableEntity, false,
		"INSURER_UNKNOWN", "no insurer of the directory serves this destination",
		"PRESCRIPTION_UNKNOWN", "the referenced prescription was never received",
	)
	reg(http.StatusBadRequest, false,
		"REQUEST_INVALID", "the request is not of the documented form",
	)
}

// Lookup returns the code named name.
func Lookup(name string) (Code, bool) {
	c, ok := registry[name]
	return c, ok
}

// Register adds codes emitted by a package (fse, signature) with the HTTP
// status they map to. It is called from init functions of the HTTP layer.
func Register(status int, warning bool, name, title string) {
	registry[name] = Code{Name: name, Status: status, Title: title, Warning: warning}
}

// Codes lists every code, sorted by name.
func Codes() []Code {
	out := make([]Code, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
