package rx

import (
	"encoding/csv"
	"fmt"
	"io"

	"github.com/fsegate/fsegate/fse"
)

// ParseGroups reads a generic groups table: CSV "cip13,group", a header
// line and '#' comments allowed (the gateway's --generics).
func ParseGroups(rd io.Reader) (Groups, error) {
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = 2
	cr.Comment = '#'
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("generic groups: %w", err)
	}
	g := Groups{}
	for i, r := range recs {
		if i == 0 && r[0] == "cip13" {
			continue
		}
		if !fse.ValidCIP13(r[0]) {
			return nil, fmt.Errorf("generic groups: line %d: %q is not a CIP13", i+1, r[0])
		}
		g[r[0]] = r[1]
	}
	return g, nil
}
