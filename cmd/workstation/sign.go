package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/fse"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature"
)

func init() {
	program.Add(&cli.Command{Name: "sign", Summary: "check care sheets, then sign them with the card (one PIN entry)", Run: runSign})
	// workstation check also verifies the signature of signed sheets.
	verifySignature = checkSignature
}

const signUsage = `workstation sign — check care sheets, then sign them with the CPS card

Usage:
  workstation sign [--pin-file F] [--reader NAME] [-o OUT | --out-dir DIR] FILE...

Every FILE (a care sheet in XML, urn:fsegate:fse:1) is checked first with the
caisse's rules (as 'workstation check'); if one is invalid nothing is signed
and no PIN is asked. Then the card's signature key signs them all with one
PIN entry: an enveloped XAdES-BES signature (RSA-SHA256, exclusive C14N,
signing time and signing certificate signed), added as the last element of
the sheet; the sheet's bytes are otherwise kept as they are.

Output: -o OUT for a single file; --out-dir DIR writes DIR/<name of FILE>;
by default NAME.xml is written as NAME.signed.xml next to it.

Exit status: 0 when every sheet is signed, 1 otherwise, 2 on misuse.

Examples:
  workstation sign --out-dir signed in/*.xml
  workstation sign --pin-file ~/.pin -o signed.xml sheet.xml
  FSEGATE_DEV=1 FSEGATE_VIRTUAL_CARD=doctor workstation sign --out-dir signed in/*.xml
`

func runSign(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "sign", signUsage)
	cf := addCardFlags(fs)
	out := fs.String("o", "", "write the signed sheet to `OUT` (one FILE only)")
	outDir := fs.String("out-dir", "", "write the signed sheets to `DIR` (created)")
	nowFlag := fs.String("now", "", "check and sign as if at this time (RFC 3339); default: now")
	tf := addTableFlags(fs, true)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	switch {
	case len(files) == 0:
		return cli.Usagef("sign: no file given (workstation sign FILE...)")
	case *out != "" && *outDir != "":
		return cli.Usagef("sign: -o and --out-dir exclude each other")
	case *out != "" && len(files) > 1:
		return cli.Usagef("sign: -o takes one FILE; use --out-dir for several")
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return err
	}
	opts, err := tf.options(now)
	if err != nil {
		return err
	}

	// 1. Check every sheet before any PIN.
	docs := make([][]byte, len(files))
	invalid := 0
	for i, file := range files {
		r := checkFile(ctx, file, opts)
		if r.Valid {
			docs[i], err = os.ReadFile(file)
			if err != nil {
				return err
			}
			if bytes.Contains(docs[i], []byte(signature.NSDSig)) {
				r.Valid = false
				r.Errors = append(r.Errors, finding{Code: "ALREADY_SIGNED", Message: "the sheet is already signed"})
			}
		}
		if !r.Valid {
			invalid++
			printReport(env.Stderr, r)
		}
	}
	if invalid > 0 {
		return cli.WithHint(fmt.Errorf("sign: %d of %d sheets are invalid; nothing was signed", invalid, len(files)),
			"fix them ('workstation check' lists every problem), then sign again")
	}

	// 2. One card session, one PIN entry, every sheet. The card's holder
	// must be each sheet's practitioner, with a card that may bill: checked
	// from the certificate, before the PIN is asked.
	c, err := cf.open(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close()
	sigCert, _, err := c.Certificates(ctx)
	if err != nil {
		return cardHint(err)
	}
	holder := signature.IdentityOf(sigCert)
	mismatched := 0
	for i, file := range files {
		sheet, err := fse.Decode(docs[i])
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if err := signature.CheckSigner(holder, sheet.Practitioner.NationalID, true); err != nil {
			mismatched++
			fmt.Fprintf(env.Stderr, "%s: not signed: %v (sheet billed by %s, card of %s)\n", file, err, sheet.Practitioner.NationalID, holder.NationalID)
		}
	}
	if mismatched > 0 {
		return cli.WithHint(fmt.Errorf("sign: %d of %d sheets cannot be signed with this card; nothing was signed", mismatched, len(files)),
			"sign each sheet with the card of the practitioner it names")
	}
	key, err := c.SignatureKey(ctx)
	if err != nil {
		return cardHint(err)
	}
	so := signature.SignOptions{Now: func() time.Time {
		if *nowFlag != "" {
			return now
		}
		return time.Now()
	}}
	for i, file := range files {
		signed, err := so.Sign(ctx, docs[i], key, []*x509.Certificate{sigCert})
		if err != nil {
			return cardHint(fmt.Errorf("%s: %w", file, err))
		}
		dst := signedName(file, *out, *outDir)
		if *outDir != "" {
			if err := os.MkdirAll(*outDir, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(dst, signed, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: signed -> %s\n", file, dst)
	}
	return nil
}

func signedName(file, out, outDir string) string {
	switch {
	case out != "":
		return out
	case outDir != "":
		return filepath.Join(outDir, filepath.Base(file))
	}
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + ".signed" + ext
}

// checkSignature is the signature part of 'workstation check': for a signed
// XML sheet, the signature, the chain to the trust anchors (FSEGATE_TRUST_DIR,
// else the test PKI in development; with neither, the signature is left to
// the gateway), and that the signer is the sheet's practitioner with a card
// that may bill.
func checkSignature(ctx context.Context, data []byte, sheet *fse.Sheet) []finding {
	if !bytes.Contains(data, []byte(signature.NSDSig)) {
		return nil // not signed: nothing to check
	}
	env := &cli.Env{Getenv: os.Getenv}
	var trust *signature.TrustStore
	var err error
	switch dir := os.Getenv("FSEGATE_TRUST_DIR"); {
	case dir != "":
		trust, err = signature.LoadDir(dir)
	case env.Dev():
		trust, err = signature.LoadFS(fixtures.FS(), "pki", "root.crt", "persons-ca.crt", "orgs-ca.crt", "root.crl", "persons-ca.crl", "orgs-ca.crl")
	default:
		// No trust anchors configured on this workstation: the gateway
		// verifies the signature; check keeps to the caisse's rules.
		return nil
	}
	if err != nil {
		return []finding{{Code: string(signature.CodeCertUntrusted), Path: "Signature", Message: err.Error()}}
	}
	v := &signature.Verifier{Trust: trust}
	res, err := v.Verify(data)
	if err == nil {
		err = signature.CheckSigner(res.Signer, sheet.Practitioner.NationalID, true)
	}
	var ve *signature.VerifyError
	if err == nil {
		return nil
	}
	if !errors.As(err, &ve) {
		return []finding{{Code: string(signature.CodeSignatureInvalid), Path: "Signature", Message: err.Error()}}
	}
	var out []finding
	for _, p := range ve.Problems {
		path := p.Path
		if path == "" {
			path = "Signature"
		}
		out = append(out, finding{Code: string(p.Code), Path: path, Message: p.Message, Hint: "docs/errors.md#" + string(p.Code)})
	}
	return out
}
