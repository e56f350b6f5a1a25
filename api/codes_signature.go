package api

import (
	"net/http"

	"github.com/fsegate/fsegate/signature"
)

// The signature's codes (docs/errors.md, "Signatures"), with the status
// signature.Codes gives each; plus the workstation's ALREADY_SIGNED.
func init() {
	for _, c := range signature.Codes() {
		Register(c.Status, false, string(c.Code), c.Title)
	}
	Register(http.StatusConflict, false, "ALREADY_SIGNED", "the care sheet is already signed")
}
