package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StorePrescription keeps a signed prescription in FSE_PRESCRIPTIONS under
// its prescriber (RPPS) and id. Storing the same bytes again is harmless.
func (q *Queue) StorePrescription(ctx context.Context, prescriber, id string, signed []byte) error {
	if !ValidToken(prescriber) || !ValidToken(id) {
		return fmt.Errorf("%w: prescriber %q, prescription id %q", ErrInvalid, prescriber, id)
	}
	sum := sha256.Sum256(signed)
	msg := &nats.Msg{Subject: PrescriptionSubject(prescriber, id), Data: signed, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "rx."+prescriber+"."+id+"."+hex.EncodeToString(sum[:8]))
	if _, err := q.js.PublishMsg(ctx, msg); err != nil {
		return q.writeErr(err)
	}
	return nil
}

// PrescriptionKnown reports whether a prescription was received.
func (q *Queue) PrescriptionKnown(ctx context.Context, prescriber, id string) (bool, error) {
	if !ValidToken(prescriber) || !ValidToken(id) {
		return false, nil
	}
	_, err := q.top.Rx.GetLastMsgForSubject(ctx, PrescriptionSubject(prescriber, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	return err == nil, err
}
