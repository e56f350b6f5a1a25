package mock

import (
	"bytes"
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fsegate/fsegate/insurers/lot"
)

// CodeSCORPiece is the negative SCOR ARL of a piece that is not the PDF or
// JPEG it claims to be.
const CodeSCORPiece = "SCOR_PIECE"

// takeSCOR answers a SCOR lot with its ARL: positive when it decodes, its
// digests match and each piece starts as its kind says (%PDF- or a JPEG
// SOI marker); the scenario's delays, outages and rejections are for lots
// of sheets and do not apply.
func (i *Insurer) takeSCOR(ctx context.Context, m jetstream.Msg) {
	l, err := lot.DecodeSCORLot(m.Data())
	if l == nil || l.ID == "" {
		i.log.Warn("SCOR lot does not decode and names no lot id", "err", err)
		m.Term()
		return
	}
	var neg *lot.Reason
	switch {
	case err != nil:
		neg = &lot.Reason{Code: lot.CodeFormat, Label: label(err)}
	case l.Insurer != i.id:
		neg = &lot.Reason{Code: lot.CodeNotOurs, Label: "the SCOR lot names insurer " + l.Insurer}
	default:
		if verr := l.Verify(); verr != nil {
			neg = verr.(*lot.Reason)
		}
		for _, p := range l.Pieces {
			if neg != nil {
				break
			}
			if p.Kind == lot.PiecePDF && !bytes.HasPrefix(p.Data, []byte("%PDF-")) ||
				p.Kind == lot.PieceJPEG && !bytes.HasPrefix(p.Data, []byte{0xFF, 0xD8, 0xFF}) {
				neg = &lot.Reason{Code: CodeSCORPiece, Label: "the piece of sheet " + p.Key() + " is not a " + p.Kind}
			}
		}
	}
	a := &lot.Ack{
		ID: lot.AckID(i.id, l.ID, 1, lot.LevelARL, 1), Insurer: i.id, Lot: l.ID, Attempt: 1,
		Created: i.cfg.Now().UTC(),
		ARL:     &lot.ARL{ID: lot.ARLID(i.id, l.ID, 1), Positive: neg == nil, Reason: neg},
	}
	if err := i.publish(ctx, a); err != nil {
		i.log.Warn("publish SCOR ARL", "lot", l.ID, "err", err)
		return // not acked: the lot comes back and is answered again, same ids
	}
	if err := m.DoubleAck(ctx); err != nil && ctx.Err() == nil {
		i.log.Warn("ack SCOR lot", "lot", l.ID, "err", err)
		return
	}
	i.log.Info("SCOR lot answered", "lot", l.ID, "pieces", len(l.Pieces), "arl_positive", neg == nil)
}
