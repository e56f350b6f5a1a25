package fse

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSheetID is returned by ParseSheetID for a text that names no sheet.
var ErrSheetID = errors.New("not a sheet id (want BILLING-NUMBER, e.g. 751000019-000100002, or the sheet number alone)")

// SheetID is how a care sheet is named to people, on the command line, in
// the APIs and on the dashboard: its billing number (numéro AM) and its
// number joined by a dash, "751000019-000100002". The pair is the sheet's
// idempotency key.
func SheetID(billing, number string) string { return billing + "-" + number }

// ParseSheetID reads a sheet's name as SheetID prints it, or with a dot
// (the gateway's status keys, "751000019.000100002"), a slash, a colon or
// spaces between the billing number and the number. A number alone gives
// an empty billing number: the caller's only one. Both parts are digits
// (the billing number 9 of them, the number at most 20).
func ParseSheetID(s string) (billing, number string, err error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "-./: ")
	if i < 0 {
		number = s
	} else {
		billing, number = s[:i], strings.TrimLeft(s[i+1:], " ")
	}
	if (billing != "" && !digits(billing, 9)) || number == "" || len(number) > 20 || !allDigits(number) {
		return "", "", fmt.Errorf("%q: %w", s, ErrSheetID)
	}
	return billing, number, nil
}
