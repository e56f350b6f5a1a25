package queue

import "testing"

// TestBudgetShares: every stream and bucket has a share of the byte budget,
// the shares fit in it, and the status bucket gets room comparable to the
// sheets (a 1 % share froze every sheet in flight at 150,000 sheets).
func TestBudgetShares(t *testing.T) {
	names := []string{StreamSheets, StreamLots, StreamAcks, StreamNotices, StreamHistory, StreamPrescriptions, StreamDead, StreamAudit, StreamPayments, BucketStatus, BucketBatches, BucketCursors, StreamSCOR, BucketPrescriptions, BucketRefusals}
	var sum int64
	for _, n := range names {
		if budgetShare[n] <= 0 {
			t.Errorf("%s has no share of the byte budget", n)
		}
		sum += budgetShare[n]
	}
	if sum > 100 {
		t.Errorf("shares add up to %d %%, over the budget", sum)
	}
	if budgetShare[BucketStatus] < budgetShare[StreamSheets]/2 {
		t.Errorf("FSE_STATUS gets %d %%, under half of FSE_SHEETS' %d %%", budgetShare[BucketStatus], budgetShare[StreamSheets])
	}
}
