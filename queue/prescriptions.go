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

// PrescriptionKey is the FSE_RX key of a carried prescription.
func PrescriptionKey(prescriber, id string) string { return prescriber + "." + id }

// CreatePrescription keeps the record of a carried prescription, create
// only: the same record again is harmless (it returns nil), another one
// under the same prescriber and id is ErrConflict. same tells whether an
// existing record is the same prescription.
func (q *Queue) CreatePrescription(ctx context.Context, prescriber, id string, record []byte, same func(existing []byte) bool) error {
	if !ValidToken(prescriber) || !ValidToken(id) {
		return fmt.Errorf("%w: prescriber %q, prescription id %q", ErrInvalid, prescriber, id)
	}
	key := PrescriptionKey(prescriber, id)
	_, err := q.top.RxLedger.Create(ctx, key, record)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return q.writeErr(err)
	}
	e, gerr := q.top.RxLedger.Get(ctx, key)
	if gerr != nil {
		return q.writeErr(gerr)
	}
	if same(e.Value()) {
		return nil
	}
	return ErrConflict
}

// UpdatePrescription reads the record of a carried prescription, lets
// change compute the new one and writes it on the revision it read
// (compare-and-swap): of two updates racing on one record, the second
// reads the first's result and decides again. change returns nil to write
// nothing. A prescription never recorded gives ErrNotFound.
func (q *Queue) UpdatePrescription(ctx context.Context, prescriber, id string, change func(cur []byte) ([]byte, error)) error {
	if !ValidToken(prescriber) || !ValidToken(id) {
		return ErrNotFound
	}
	key := PrescriptionKey(prescriber, id)
	for attempt := 0; ; attempt++ {
		e, err := q.top.RxLedger.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read prescription %s: %w", key, err)
		}
		next, err := change(e.Value())
		if err != nil || next == nil {
			return err
		}
		_, err = q.top.RxLedger.Update(ctx, key, next, e.Revision())
		if err == nil {
			return nil
		}
		if !isWrongSeq(err) || attempt >= 50 {
			return q.writeErr(err)
		}
	}
}
