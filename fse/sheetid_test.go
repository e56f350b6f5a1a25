package fse

import (
	"errors"
	"testing"
)

// TestParseSheetID: the printed form and the others name the same sheet
// (#22: the CLI printed 751000019-000100002, the dashboard wanted
// 751000019.000100002, status refused both).
func TestParseSheetID(t *testing.T) {
	for _, tc := range []struct {
		in, billing, number string
		wantErr             error
	}{
		{in: "751000019-000100002", billing: "751000019", number: "000100002"},
		{in: "751000019.000100002", billing: "751000019", number: "000100002"},
		{in: "751000019/000100002", billing: "751000019", number: "000100002"},
		{in: "751000019:000100002", billing: "751000019", number: "000100002"},
		{in: " 751000019 000100002 ", billing: "751000019", number: "000100002"},
		{in: "000100002", number: "000100002"},
		{in: "", wantErr: ErrSheetID},
		{in: "75100001-000100002", wantErr: ErrSheetID},
		{in: "751000019-", wantErr: ErrSheetID},
		{in: "751000019-0001x0002", wantErr: ErrSheetID},
		{in: "abc", wantErr: ErrSheetID},
		{in: "751000019-000100002-1", wantErr: ErrSheetID},
	} {
		b, n, err := ParseSheetID(tc.in)
		if !errors.Is(err, tc.wantErr) || b != tc.billing || n != tc.number {
			t.Errorf("ParseSheetID(%q): got %q, %q, %v; want %q, %q, %v", tc.in, b, n, err, tc.billing, tc.number, tc.wantErr)
		}
	}
	if got := SheetID("751000019", "000100002"); got != "751000019-000100002" {
		t.Errorf("SheetID: got %s", got)
	}
}
