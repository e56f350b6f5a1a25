package api

import (
	"net/http"

	"github.com/fsegate/fsegate/fse"
)

// The care sheet's codes (docs/errors.md, "Care sheet (fse)"): every
// refusal is a 422 with every violation listed; warnings travel in the
// receipt of an accepted sheet.
func init() {
	for _, c := range fse.Codes() {
		Register(http.StatusUnprocessableEntity, c.Warning, c.Code, c.Title)
	}
}
