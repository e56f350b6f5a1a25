package rxday

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/fsegate/fsegate/signature"
)

// ErrOtherPrescriber: the prescription names another prescriber than the
// card's holder who signs it.
var ErrOtherPrescriber = errors.New("the prescription names another prescriber than the card's holder")

var idRe = regexp.MustCompile(`^[A-Za-z0-9-]{4,40}$`)

// Check checks a prescription as its prescriber wrote it, before the card:
// an id of 4 to 40 letters, digits or dashes, the patient's name, at
// least one line. A missing date is set to now's.
func (rx *Prescription) Check(now time.Time) error {
	switch {
	case !idRe.MatchString(rx.ID):
		return fmt.Errorf("id %q: 4 to 40 letters, digits or dashes", rx.ID)
	case rx.Patient.Name == "":
		return errors.New("patient.name is required")
	case len(rx.Lines) == 0:
		return errors.New("no lines")
	}
	if rx.Date == "" {
		rx.Date = now.Format(time.DateOnly)
	}
	return nil
}

// SignedBy sets the prescriber to id, the holder of the card that signs
// it (from its signature certificate): ErrOtherPrescriber when the
// prescription names another one.
func (rx *Prescription) SignedBy(id signature.Identity) error {
	if rx.Prescriber.NationalID != "" && rx.Prescriber.NationalID != id.NationalID {
		return ErrOtherPrescriber
	}
	rx.Prescriber.NationalID, rx.Prescriber.Name, rx.Prescriber.Profession = id.NationalID, id.Name(), id.Profession
	return nil
}
