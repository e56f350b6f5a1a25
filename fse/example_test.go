package fse_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fsegate/fsegate/fse"
)

func ExampleValidate() {
	data, _ := os.ReadFile("testdata/cases/gen-nir-key.xml")
	sheet, err := fse.Decode(data)
	if err != nil {
		panic(err)
	}
	tariffs, err := fse.ParseTariffs(strings.NewReader("key,profession,valid_from,cents,rate,kind\nG,10,2024-12-22,3000,70,act\n"))
	if err != nil {
		panic(err)
	}
	_, err = fse.Validate(sheet, fse.Options{
		Now:     func() time.Time { return time.Date(2026, 3, 18, 10, 30, 0, 0, time.UTC) },
		Tariffs: tariffs,
	})
	var ve *fse.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Errors {
			fmt.Println(fe.Code, fe.Path, fe.Value)
		}
	}
	fmt.Println(errors.Is(err, fse.ErrNIRKey))
	// Output:
	// NIR_KEY patient/nir 2 04 03 ** *** *** 02
	// true
}

// A G under tiers payant: the AMO pays the practitioner its whole share;
// the participation forfaitaire is recorded, to be recovered from the
// patient, not deducted.
func ExampleCompute() {
	tariffs, err := fse.ParseTariffs(strings.NewReader("key,profession,valid_from,cents,rate,kind\nG,10,2024-12-22,3000,70,act\n"))
	if err != nil {
		panic(err)
	}
	sheet := &fse.Sheet{
		CareDate:     fse.Date{Year: 2026, Month: time.March, Day: 18},
		Practitioner: fse.Practitioner{Profession: fse.ProfessionDoctor},
		Patient:      fse.Patient{BirthDate: fse.Date{Year: 1970, Month: time.May, Day: 4}, Coverage: fse.CoverageStandard},
		Lines:        []fse.Line{{Kind: fse.KindNGAP, Key: "G", Coefficient: 100, Amount: 3000}},
		Totals:       fse.Totals{TiersPayantAMO: true},
	}
	b := fse.Compute(sheet, fse.Tables{NGAP: tariffs})
	fmt.Println("rate", b.Lines[0].Rate, "AMO", b.AMO, "patient", b.Patient)
	fmt.Println("paid by the AMO", b.PaidByAMO(sheet), "participation due", b.Participation)
	// Output:
	// rate 70 AMO 21.00 patient 9.00
	// paid by the AMO 21.00 participation due 2.00
}

func ExampleMaskNIR() {
	fmt.Println(fse.MaskNIR("255081416802538"))
	// Output: 2 55 08 ** *** *** 38
}
