package queue_test

import (
	"testing"

	"github.com/fsegate/fsegate/insurers/lot"
	"github.com/fsegate/fsegate/queue"
)

// TestWireMatchesInsurers keeps the topology on the names insurers see.
func TestWireMatchesInsurers(t *testing.T) {
	if lot.Live.Stream != queue.StreamLots || lot.Live.LotPrefix != queue.SubjectLots || lot.Live.AckPrefix != queue.SubjectAcks {
		t.Fatalf("insurers/lot.Live %+v differs from queue's %s %s %s", lot.Live, queue.StreamLots, queue.SubjectLots, queue.SubjectAcks)
	}
	if got := queue.LotID("cpam751.751000019", 42); got != lot.NewID("cpam751", "cpam751.751000019", 42) {
		t.Fatalf("lot id %s", got)
	}
}
