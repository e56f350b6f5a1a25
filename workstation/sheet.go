package workstation

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"

	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/signature"
)

// Sheet is one care sheet read for the flow.
type Sheet struct {
	// Name is where it came from (a file name, an outbox key), for
	// messages; may be empty.
	Name string
	// Sheet is the decoded care sheet.
	Sheet *fse.Sheet
	// Doc is the XML that is signed (JSON input is encoded to XML), or,
	// when Signed, the signed document exactly as read.
	Doc []byte
	// Signed: the input carries an XML signature. It was read through
	// signature.ParseDocument and is sent as it is.
	Signed bool
	// Source is the hex SHA-256 of Doc: the outbox records it
	// (outbox.Entry.Source) to know a sheet it already holds.
	Source string
	// Content is the hex digest of the sheet's content without any
	// signature (fse.Sheet.ContentDigest): the same sheet signed again has
	// the same Content (outbox.Entry.Content), as the gateway sees it.
	Content string
	// Key is the outbox key (billing-number), set by Flow.Plan.
	Key string
	// Warnings are the rules' warnings (LATE, DEGRADED_MODE), set by
	// Flow.Check; they never stop a sheet.
	Warnings []Problem

	doc *signature.Document // the one parse of a signed input
}

// IsSigned reports whether raw carries an XML signature: whether it names
// the XMLDSig namespace anywhere. A signed document is read only through
// signature.ParseDocument, which then refuses anything but one enveloped
// signature.
func IsSigned(raw []byte) bool {
	return bytes.Contains(raw, []byte(signature.NSDSig))
}

// isJSON: the first character that is not white space opens an object.
func isJSON(raw []byte) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// Decode reads a care sheet: JSON (fse.DecodeJSON, then encoded to XML),
// signed XML (signature.ParseDocument, then fse.DecodeElement on its
// tree), or unsigned XML (fse.Decode). The error is a *SheetError whose
// problems carry fse's codes (SHEET_MALFORMED, …) or, for a signed input,
// signature's (XML_MALFORMED, SIGNATURE_WRAPPING, …).
func Decode(name string, raw []byte) (*Sheet, error) {
	sh := &Sheet{Name: name, Doc: raw}
	var err error
	switch {
	case isJSON(raw):
		if sh.Sheet, err = fse.DecodeJSON(raw); err == nil {
			sh.Doc = sh.Sheet.Encode()
		}
	case IsSigned(raw):
		sh.Signed = true
		if sh.doc, err = signature.ParseDocument(raw); err == nil {
			sh.Sheet, err = fse.DecodeElement(sh.doc.Root())
		}
	default:
		sh.Sheet, err = fse.Decode(raw)
	}
	if err != nil {
		return nil, sheetError(name, ProblemsOf(err))
	}
	sum := sha256.Sum256(sh.Doc)
	sh.Source = hex.EncodeToString(sum[:])
	content := sh.Sheet.ContentDigest()
	sh.Content = hex.EncodeToString(content[:])
	return sh, nil
}

// ReadFile reads and decodes the care sheet of file name: a file that
// cannot be read is FILE_UNREADABLE, otherwise as Decode.
func ReadFile(name string) (*Sheet, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, &SheetError{Name: name, Problems: []Problem{{Code: CodeFileUnreadable, Message: err.Error(), Err: errors.Join(CodeFileUnreadable, err)}}}
	}
	return Decode(name, raw)
}
