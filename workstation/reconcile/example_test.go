package reconcile_test

import (
	"fmt"
	"strings"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/workstation/reconcile"
)

func ExampleMatch() {
	statement := `date;amount;label
23/11/2026;37,00;VIR CPAM PARIS CPAM751-20261123-3F2A9C1B04
25/11/2026;12,00;VIR INCONNU
`
	lines, err := reconcile.ReadCSV(strings.NewReader(statement))
	if err != nil {
		fmt.Println(err)
		return
	}
	transfers := []client.Transfer{ // as GET /v1/payments gives them
		{Reference: "CPAM751-20261123-3F2A9C1B04", Insurer: "cpam751", Date: "2026-11-23", Total: 3700,
			Lines: []client.TransferLine{{Kind: "paid", Number: "000000101", Amount: 2100}, {Kind: "paid", Number: "000000102", Amount: 1600}}},
		{Reference: "CPAM751-20261124-0A1B2C3D4E", Insurer: "cpam751", Date: "2026-11-24", Total: 2100,
			Lines: []client.TransferLine{{Kind: "paid", Number: "000000103", Amount: 2100}}},
	}
	rep := reconcile.Match(lines, transfers, reconcile.Options{})
	for _, r := range rep.Results {
		fmt.Printf("%s %s: %s\n", r.Status, r.Date(), r.Detail)
	}
	// Output:
	// matched 2026-11-23: row 2: 2 sheets, matched by reference
	// missing 2026-11-24: transfer of cpam751 (1 sheet) is not on the statement
	// unexpected 2026-11-25: row 3: no transfer known to the gateway has this reference, or this amount within 2 days
}
