package mock

import (
	"testing"
	"time"

	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/insurers"
	"github.com/fsegate/fsegate/insurers/lot"
)

// TestSignatureVectors runs signature/testdata/vectors through the mock
// insurer's checker: the same code as signature.Verify and the gateway's
// intake (cmd/gateway TestSignatureVectorsAtIntake), as the cause of a
// signature reject.
func TestSignatureVectors(t *testing.T) {
	for _, v := range testenv.SignatureVectors(t) {
		if v.ClaimsSigner() {
			continue // the insurer does not take a claimed signer (signature's own test)
		}
		t.Run(v.Name, func(t *testing.T) {
			now := v.Now(t)
			c := devChecker(t, insurers.AMO, func() time.Time { return now })
			c.Verifier.Trust.MaxCRLAge = v.CRLMaxAge(t)
			got, err := c.Check(v.Data)
			if err != nil {
				t.Fatal(err)
			}
			if v.Expect == "VALID" {
				if got.Reject != nil && got.Reject.Code == lot.CodeSignature {
					t.Fatalf("got a signature reject %+v (cause %s), want none", got.Reject, got.Cause)
				}
				return
			}
			if got.Reject == nil || got.Reject.Code != lot.CodeSignature || got.Cause != v.Expect {
				t.Fatalf("got reject %+v cause %q, want a signature reject caused by %s", got.Reject, got.Cause, v.Expect)
			}
		})
	}
}
