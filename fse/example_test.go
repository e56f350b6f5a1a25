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
	tariffs, _ := fse.ParseTariffs(strings.NewReader("key,cents,valid_from,professions\nG,3000,2024-12-22,10\n"))
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

func ExampleMaskNIR() {
	fmt.Println(fse.MaskNIR("255081416802538"))
	// Output: 2 55 08 ** *** *** 38
}
