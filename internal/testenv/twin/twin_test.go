package twin_test

import (
	"testing"

	"github.com/fsegate/fsegate/internal/testenv"
)

// TestCardThroughPCSCD is the harness test of internal/testenv run from a
// second test binary: go test runs both packages at once and each must
// lease its own reader.
func TestCardThroughPCSCD(t *testing.T) { testenv.ProveCardHarness(t) }
