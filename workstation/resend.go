package workstation

import (
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/workstation/outbox"
)

// externalCauses are the gateway's refusals whose cause lies outside the
// sheet's content, with what to do: the same signed sheet is receipted
// once the cause is gone, so batch and 'outbox --send' send it again
// rather than ask for a correction. The codes are the gateway's (gateway/rx,
// insurers), received as data: named here, not imported, so that the
// workstation links no gateway package.
var externalCauses = map[problem.Code]string{
	"PRESCRIPTION_UNKNOWN": "the prescription is not at the gateway yet: send it (its .rx.pdf in the batch folder, or 'workstation send RX.pdf'); batch and 'outbox --send' then send the sheet again",
	"INSURER_UNKNOWN":      "the gateway's insurer directory does not serve this patient's caisse yet: once it is updated, batch and 'outbox --send' send the sheet again",
}

// External reports whether a refusal's codes all have a cause outside the
// sheet's content (PRESCRIPTION_UNKNOWN, INSURER_UNKNOWN): the sheet is
// sent again as it is, not corrected.
func External(codes []string) bool {
	for _, c := range codes {
		if _, ok := externalCauses[problem.Code(c)]; !ok {
			return false
		}
	}
	return len(codes) > 0
}

// ExternalHint says what to do about an external refusal code, "" for
// another code.
func ExternalHint(code problem.Code) string { return externalCauses[code] }

// Resendable lists the outbox's refused sheets whose refusal had only
// external causes: to be sent again as they are.
func Resendable(ob *outbox.Outbox) ([]*outbox.Entry, error) {
	all, err := ob.List()
	if err != nil {
		return nil, err
	}
	var out []*outbox.Entry
	for _, e := range all {
		if e.State == outbox.Refused && External(e.Codes) {
			out = append(out, e)
		}
	}
	return out, nil
}
