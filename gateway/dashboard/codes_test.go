package dashboard

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fsegate/fsegate/gateway/operator"
	"github.com/fsegate/fsegate/problem"
	"github.com/fsegate/fsegate/signature"
)

// TestAccessCodes: an access error's code is its sentinel's, and only
// this package's sentinels count: a refused certificate wraps the
// signature's reason, whose code is not the answer's.
func TestAccessCodes(t *testing.T) {
	for err, want := range map[error]problem.Code{
		ErrSignInRequired: CodeOperatorRequired,
		ErrCertRequired:   CodeOperatorRequired,
		fmt.Errorf("%w: bad token", ErrTokenRefused): operator.CodeTokenInvalid,
		ErrOperatorOnly: CodeOperatorOnly,
		ErrNoBillings:   "",
		errors.Join(ErrCertRefused, signature.Problem{Code: signature.CodeCertRevoked}): "",
	} {
		if got := Code(err); got != want {
			t.Errorf("%v: got %q, want %q", err, got, want)
		}
	}
}
