package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/gateway/verify"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature"
)

func init() {
	program.Add(&cli.Command{Name: "verify", Summary: "verify signed care sheets and prescriptions offline", Run: runVerify})
}

const verifyUsage = `gateway verify — verify signed care sheets and prescriptions offline

Usage:
  gateway verify [--json] [--dev | --trust DIR] [--at RFC3339] FILE...

Each FILE is a care sheet signed with XAdES (XML) or a signed prescription
(PDF). The signature, the certificate chain to the trusted roots, the key
usage, the validity at the signing time and the revocation (CRLs of the trust
directory) are checked; for a care sheet, also that the signer is the
practitioner the sheet names and that the card type may bill; for a
prescription, that the signature covers the whole file and the embedded data
matches its 2D code. Codes: docs/errors.md.

Exit status: 0 when every file is valid, 1 when one is not, 2 on misuse.

Examples:
  gateway verify --dev signed.xml
  gateway verify --trust /etc/fsegate/trust --json in/*.xml rx.pdf
  gateway verify --dev --at 2026-11-20T12:00:00Z old.xml
`

// signatureDevTrust is the fixtures' test PKI: the root, the persons and
// organisations CAs and their CRLs (never the rogue CA).
func signatureDevTrust() (*signature.TrustStore, error) {
	return signature.LoadFS(fixtures.FS(), "pki", "root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl")
}

func runVerify(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "verify", verifyUsage)
	asJSON := fs.Bool("json", false, "print one JSON object per file")
	dev := fs.Bool("dev", env.Dev(), "trust the fixtures' test PKI")
	trustDir := fs.String("trust", "", "trust directory: root and CA certificates (*.crt, *.pem), CRLs (*.crl)")
	at := fs.String("at", "", "verify as if at this time (RFC 3339); default: now")
	maxAge := fs.Duration("max-signing-age", signature.DefaultMaxSigningAge, "how far back a signing time may lie")
	crlMaxAge := fs.Duration("crl-max-age", 0, "a CRL older than this is stale (0: only its next update counts)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return cli.Usagef("verify: no file given (gateway verify FILE...)")
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return cli.Usagef("--at %q is not an RFC 3339 time (2026-11-20T12:00:00Z)", *at)
		}
		now = t
	}
	var trust *signature.TrustStore
	var err error
	switch {
	case *trustDir != "":
		trust, err = signature.LoadDir(*trustDir)
	case *dev:
		trust, err = signatureDevTrust()
	default:
		return cli.WithHint(cli.Usagef("verify: no trust anchors"), "give --trust DIR, or --dev for the test PKI")
	}
	if err != nil {
		return err
	}
	trust.Now = func() time.Time { return now }
	trust.MaxCRLAge = *crlMaxAge
	v := &signature.Verifier{Trust: trust, Now: trust.Now, MaxSigningAge: *maxAge}

	allValid := true
	enc := json.NewEncoder(env.Stdout)
	for _, file := range fs.Args() {
		r := verify.File(v, file)
		allValid = allValid && r.Valid
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		who := ""
		if r.Signer != nil {
			who = fmt.Sprintf(" signed by %s %s (%s, %s)", r.Signer.ID, r.Signer.Name, r.Signer.Profession, r.Signer.CardType)
		}
		if r.Valid {
			fmt.Fprintf(env.Stdout, "%s: valid %s%s\n", file, r.Kind, who)
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: INVALID %s%s\n", file, r.Kind, who)
		for _, e := range r.Errors {
			fmt.Fprintf(env.Stdout, "  %s", e.Code)
			if e.Path != "" {
				fmt.Fprintf(env.Stdout, " at %s", e.Path)
			}
			fmt.Fprintf(env.Stdout, ": %s\n", e.Message)
		}
	}
	if !allValid {
		return &cli.ExitError{Code: 1}
	}
	return nil
}
