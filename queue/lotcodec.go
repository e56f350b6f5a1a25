package queue

import (
	"fmt"
	"strings"

	"github.com/fsegate/fsegate/insurers/lot"
)

// LotCodec is the production wire format, urn:fsegate:lot:1 (package
// insurers/lot).
type LotCodec struct{}

func (LotCodec) EncodeLot(l *Lot) ([]byte, error) {
	out := &lot.Lot{ID: l.ID, Attempt: l.Attempt, Seq: uint64(l.Seq), Key: l.LotKey, Insurer: l.Insurer, Created: l.Closed.UTC()}
	billing := ""
	for i, s := range l.Sheets {
		if i == 0 {
			billing = s.Billing
		} else if s.Billing != billing {
			billing = ""
		}
		out.Sheets = append(out.Sheets, lot.NewSheet(s.Billing, s.Number, s.Signed))
	}
	if _, b, ok := strings.Cut(l.LotKey, "."); ok && b == billing {
		out.Billing = billing
	}
	return out.Encode()
}

func (LotCodec) DecodeAcks(data []byte) ([]Ack, error) {
	if lot.IsTransfer(data) {
		t, err := lot.DecodeTransfer(data)
		if err != nil {
			return nil, err
		}
		x := &Transfer{ID: t.ID, Insurer: t.Insurer, Billing: t.Billing, Reference: t.Reference, Date: t.Date, Total: t.Total, Created: t.Created}
		for _, l := range t.Lines {
			tl := TransferLine{Kind: string(l.Kind), Number: l.Number, Lot: l.Lot, Amount: l.Amount}
			if l.Reason != nil {
				tl.Code, tl.Label = l.Reason.Code, l.Reason.Label
			}
			x.Lines = append(x.Lines, tl)
		}
		return []Ack{{ID: t.ID, Insurer: t.Insurer, Level: LevelTransfer, Time: t.Created, Transfer: x}}, nil
	}
	a, err := lot.DecodeAck(data)
	if err != nil {
		return nil, err
	}
	if a.ARL != nil {
		x := Ack{ID: a.ARL.ID, Insurer: a.Insurer, Level: LevelARL, Lot: a.Lot, Attempt: a.Attempt, Positive: a.ARL.Positive, Time: a.Created}
		if r := a.ARL.Reason; r != nil {
			x.Reason = r.Code + ": " + r.Label
		}
		return []Ack{x}, nil
	}
	out := make([]Ack, 0, len(a.Returns))
	for _, r := range a.Returns {
		x := Ack{ID: r.ID, Insurer: a.Insurer, Level: LevelReturn, Lot: a.Lot, Attempt: a.Attempt, Billing: r.Billing, Number: r.Number, Outcome: string(r.Status), Amount: r.Amount, Time: a.Created,
			Participation: r.Participation, Franchises: r.Franchises}
		if r.Reason != nil {
			x.Code, x.Detail = r.Reason.Code, r.Reason.Label
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("acknowledgement %s: neither ARL nor returns", a.ID)
	}
	return out, nil
}
