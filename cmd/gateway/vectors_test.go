package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures/testenv"
	"github.com/fsegate/fsegate/gateway/verify"
	"github.com/fsegate/fsegate/internal/cli"
)

// TestSignatureVectors runs signature/testdata/vectors through the
// gateway's two readers of signed care sheets, each expected to give the
// vector's code as signature.Verify and the mock insurers do (one parse,
// signature.ParseDocument): the intake, over HTTPS with the doctor's card
// key, and 'gateway verify'.
func TestSignatureVectors(t *testing.T) {
	vectors := testenv.SignatureVectors(t)
	t.Run("verify", func(t *testing.T) {
		dir := t.TempDir()
		for _, v := range vectors {
			if v.ClaimsSigner() {
				continue // gateway verify claims the sheet's own practitioner
			}
			t.Run(v.Name, func(t *testing.T) {
				file := filepath.Join(dir, v.Name+".xml")
				if err := os.WriteFile(file, v.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{"verify", "--dev", "--json", "--at", v.Now(t).Format(time.RFC3339)}
				if d := v.CRLMaxAge(t); d > 0 {
					args = append(args, "--crl-max-age", d.String())
				}
				var out, errOut bytes.Buffer
				code := program.Main(t.Context(), append(args, file), &cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
				var r verify.Report
				if err := json.Unmarshal(out.Bytes(), &r); err != nil {
					t.Fatalf("exit %d, output %q %q: %v", code, out.String(), errOut.String(), err)
				}
				var got []string
				for _, e := range r.Errors {
					if !slices.Contains(got, string(e.Code)) {
						got = append(got, string(e.Code))
					}
				}
				if v.Expect == "VALID" {
					if !r.Valid || code != 0 {
						t.Fatalf("got exit %d, %v, want valid", code, got)
					}
					return
				}
				if code != 1 || len(got) != 1 || got[0] != v.Expect {
					t.Fatalf("got exit %d, %v, want exit 1 and exactly %s", code, got, v.Expect)
				}
			})
		}
	})
	t.Run("intake", func(t *testing.T) {
		// One gateway per clock, living as long as this test.
		gateways := map[time.Time]*client.Client{}
		for _, v := range vectors {
			if v.ClaimsSigner() || v.CRLMaxAge(t) > 0 {
				continue // a claimed signer, or a CRL age the gateway does not take
			}
			now := v.Now(t)
			if gateways[now] == nil {
				m := startGatewayWith(t, func(m *Main) { m.Now = func() time.Time { return now } })
				gateways[now] = newClient(t, m, "doctor")
			}
			c := gateways[now]
			t.Run(v.Name, func(t *testing.T) {
				_, err := c.SendSheet(t.Context(), v.Data)
				if v.Expect == "VALID" {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				var p *client.Problem
				if !errors.As(err, &p) {
					t.Fatalf("got %v, want a refusal with %s", err, v.Expect)
				}
				var got []string
				for _, e := range p.Errors {
					got = append(got, string(e.Code))
				}
				// Bytes refused by the one parse get its code alone; a sheet
				// signed by another card than the sender's also gets the
				// sender's codes.
				if !slices.Contains(got, v.Expect) || (len(v.Name) > 6 && v.Name[:6] == "parse-" && len(got) != 1) {
					t.Fatalf("got %v, want %s", got, v.Expect)
				}
				// A refusal a sender can act on says how.
				if v.Expect == "SIGNATURE_MISSING" && !strings.Contains(p.Errors[0].Hint, "workstation sign") {
					t.Fatalf("SIGNATURE_MISSING without its hint: %+v", p.Errors[0])
				}
			})
		}
	})
}
