package outbox

import (
	"errors"
	"testing"
)

func TestPutSourceAndLock(t *testing.T) {
	o, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := o.PutSource("751000019", "000000001", []byte("<signed/>"), "abc")
	if err != nil || e.Source != "abc" {
		t.Fatalf("PutSource: %v %+v", err, e)
	}
	if got, _ := o.Get(e.Key); got.Source != "abc" {
		t.Errorf("Source not kept: %+v", got)
	}
	unlock, err := o.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Lock(); !errors.Is(err, ErrLocked) {
		t.Errorf("second Lock: %v, want ErrLocked", err)
	}
	unlock()
	unlock2, err := o.Lock()
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}
