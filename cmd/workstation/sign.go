package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/workstation"
)

func init() {
	program.Add(&cli.Command{Name: "sign", Summary: "check care sheets, then sign them with the card (one PIN entry)", Run: runSign})
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
	flow := &workstation.Flow{Rules: opts}
	sheets := make([]*workstation.Sheet, len(files))
	invalid := 0
	for i, file := range files {
		var r checkReport
		sheets[i], r = checkFile(flow, file)
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
	sess, err := cf.session(ctx, env, signingClock(*nowFlag, now))
	if err != nil {
		return err
	}
	defer sess.Close()
	mismatched := 0
	for _, sh := range sheets {
		if err := sess.Check(sh); err != nil {
			mismatched++
			fmt.Fprintf(env.Stderr, "%s: not signed: %s\n", sh.Name, strings.Join(workstation.Reasons(err), "; "))
		}
	}
	if mismatched > 0 {
		return cli.WithHint(fmt.Errorf("sign: %d of %d sheets cannot be signed with this card; nothing was signed", mismatched, len(files)),
			"sign each sheet with the card of the practitioner it names, one with a billing situation for its billing number ('workstation card info' lists them)")
	}
	for _, sh := range sheets {
		signed, err := sess.Sign(ctx, sh)
		if err != nil {
			return cardHint(fmt.Errorf("%s: %w", sh.Name, err))
		}
		dst := signedName(sh.Name, *out, *outDir)
		if *outDir != "" {
			if err := os.MkdirAll(*outDir, 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(dst, signed, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: signed -> %s\n", sh.Name, dst)
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
