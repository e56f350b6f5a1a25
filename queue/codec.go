package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Lot is what the batcher sends to an insurer: the frozen manifest of one
// lot key with the sheets' signed bytes untouched.
type Lot struct {
	ID      string     `json:"id"`
	Seq     int        `json:"seq"`     // sequence of the lot within its lot key
	Attempt int        `json:"attempt"` // 1, then 2… on re-sends
	Insurer string     `json:"insurer"`
	LotKey  string     `json:"lot_key"`
	Closed  time.Time  `json:"closed"`
	Sheets  []LotSheet `json:"sheets"`
}

// LotSheet is one sheet in a lot.
type LotSheet struct {
	Billing string `json:"billing"`
	Number  string `json:"number"`
	Digest  string `json:"digest"` // content digest (without signature)
	Signed  []byte `json:"signed"`
}

// AckLevel tells an ARL from a per-sheet return.
type AckLevel string

const (
	LevelARL    AckLevel = "arl"
	LevelReturn AckLevel = "return"
	// LevelTransfer is a payment return naming its bank transfer (Ack.Transfer).
	LevelTransfer AckLevel = "transfer"
)

// Outcomes of a per-sheet return.
const (
	OutcomeAccepted    = "accepted"
	OutcomeRejected    = "rejected"
	OutcomePaid        = "paid"
	OutcomeSignalement = "signalement"
)

// Ack is one acknowledgement from an insurer, as the ack router applies
// it. Its ID makes duplicates harmless.
type Ack struct {
	ID    string   `json:"id"`
	Level AckLevel `json:"level"`
	// Insurer is who the message says answers; when set it must be the
	// owner of the subject it came on.
	Insurer string `json:"insurer,omitempty"`
	Lot     string `json:"lot"`
	Attempt int    `json:"attempt,omitempty"`
	// ARL
	Positive bool   `json:"positive,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Return
	Billing string    `json:"billing,omitempty"`
	Number  string    `json:"number,omitempty"`
	Outcome string    `json:"outcome,omitempty"`
	Code    string    `json:"code,omitempty"`
	Amount  int64     `json:"amount,omitempty"` // cents
	Detail  string    `json:"detail,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	// Accepted return: what the patient owes the AMO for the sheet after
	// the yearly caps (recorded, never deducted from a payment).
	Participation int64 `json:"participation,omitempty"`
	Franchises    int64 `json:"franchises,omitempty"`
	// Transfer: a payment return paying sheets of any lots (Lot is empty).
	Transfer *Transfer `json:"transfer,omitempty"`
}

// Codec is the wire format between the gateway and insurers: lots out,
// acknowledgements in. LotCodec (package insurers/lot's format) is the real
// one and Config's default; JSONCodec is a plain stand-in that tests choose
// explicitly.
type Codec interface {
	EncodeLot(l *Lot) ([]byte, error)
	// DecodeAcks decodes one message of fse.acks.<insurer>, which may
	// carry several acknowledgements (an ARL, a batch of returns, or one
	// transfer).
	DecodeAcks(data []byte) ([]Ack, error)
}

// JSONCodec encodes lots and acks as JSON: a stand-in for tests, which set
// it in Config.Codec; no insurer speaks it.
type JSONCodec struct{}

func (JSONCodec) EncodeLot(l *Lot) ([]byte, error) { return json.Marshal(l) }

func (JSONCodec) DecodeAcks(data []byte) ([]Ack, error) {
	var acks []Ack
	if len(data) > 0 && data[0] == '{' {
		var a Ack
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, fmt.Errorf("decode ack: %w", err)
		}
		acks = []Ack{a}
	} else if err := json.Unmarshal(data, &acks); err != nil {
		return nil, fmt.Errorf("decode acks: %w", err)
	}
	for _, a := range acks {
		if a.ID == "" || (a.Lot == "" && a.Transfer == nil) {
			return nil, errors.New("decode ack: no id or lot")
		}
	}
	return acks, nil
}
