package problem_test

import (
	"errors"
	"fmt"

	"github.com/fsegate/fsegate/problem"
)

const codeDuplicate problem.Code = "DUPLICATE_SHEET"

var errDuplicate = problem.New(codeDuplicate, "another sheet with this billing number and number was received")

// A package defines its sentinels with their codes; a caller reads the code
// of whatever wraps one, and compares with errors.Is by sentinel or by code.
func Example() {
	err := fmt.Errorf("submit 751000019.000000042: %w", errDuplicate)
	fmt.Println(problem.CodeOf(err))
	fmt.Println(errors.Is(err, errDuplicate), errors.Is(err, codeDuplicate))
	fmt.Println(problem.CodeOf(errors.New("no code")) == "")

	p := problem.Problem{Code: "NIR_KEY", Path: "patient/nir", Message: "NIR key 12 does not match 18"}
	fmt.Println(p)
	fmt.Println(errors.Is(fmt.Errorf("check: %w", p), problem.Code("NIR_KEY")), p.Code.DocURL())
	// Output:
	// DUPLICATE_SHEET
	// true true
	// true
	// NIR_KEY at patient/nir: NIR key 12 does not match 18
	// true docs/errors.md#NIR_KEY
}
