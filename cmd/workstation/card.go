package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation/doctor"
)

func init() {
	program.Add(&cli.Command{Name: "card", Summary: "the CPS card: list readers, info, verify-pin, unblock", Run: runCard})
}

const cardUsage = `workstation card — the CPS card in the reader

Usage:
  workstation card list
  workstation card info [--reader NAME | --pkcs11 MODULE [--pkcs11-token URI]]
  workstation card verify-pin [--reader NAME | --pkcs11 MODULE [--pkcs11-token URI]] [--pin-file FILE]
  workstation card unblock [--reader NAME] [--code-file FILE] [--new-pin-file FILE]

list        the readers pcscd sees, whether a card is in each, and which
info        holder, RPPS/ADELI, profession, card type, certificate validity,
            PIN tries left and the billing situations the card holds (billing
            number, mode, specialty, convention, zone, may-sign flags); no PIN
            needed
verify-pin  checks the PIN (the card blocks after 3 wrong entries)
unblock     resets a blocked PIN with the 8-digit unblock code from the
            card's letter; with a new PIN the PIN becomes that one

With --pkcs11 MODULE the card is reached through that PKCS#11 module (the
ANS's Cryptolib CPS, OpenSC) instead of pcscd; --pkcs11-token URI (RFC 7512)
names the token when there are several. Every signing command takes both.

The PIN comes from --pin-file, else FSEGATE_PIN, else a prompt without echo.
The unblock code from --code-file, else FSEGATE_UNBLOCK_CODE, else a prompt;
the new PIN from --new-pin-file, else FSEGATE_NEW_PIN (none: the PIN stays).

Examples:
  workstation card list
  workstation card info --reader "fsegate vpcd 0 00 00"
  workstation card info --pkcs11 /usr/lib/libcps3_pkcs11_lux.so --pkcs11-token 'pkcs11:token=CPS'
  FSEGATE_PIN=1234 workstation card verify-pin
  workstation card unblock --code-file code.txt
`

func runCard(ctx context.Context, env *cli.Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(env.Stderr, cardUsage)
		if len(args) == 0 {
			return cli.Usagef("card: missing subcommand (list, info, verify-pin, unblock)")
		}
		return nil
	}
	switch args[0] {
	case "list":
		return cardList(ctx, env, args[1:])
	case "info":
		return cardInfo(ctx, env, args[1:])
	case "verify-pin":
		return cardVerifyPIN(ctx, env, args[1:])
	case "unblock":
		return cardUnblock(ctx, env, args[1:])
	}
	return cli.Usagef("card: unknown subcommand %q (list, info, verify-pin, unblock)", args[0])
}

func cardList(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "card list", cardUsage)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("card list: unexpected argument %q", fs.Arg(0))
	}
	rs, err := card.Readers(ctx)
	if err != nil {
		return cardHint(err)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "READER\tCARD\tTYPE")
	for _, r := range rs {
		present, typ := "no", "-"
		if r.CardPresent {
			present = "yes"
			typ = r.Model.String()
			if r.Model == card.ModelUnknown {
				typ = fmt.Sprintf("not a CPS (ATR %X)", r.ATR)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.Name, present, typ)
	}
	return w.Flush()
}

func cardInfo(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "card info", cardUsage)
	cf := addCardFlags(fs)
	now := fs.String("now", "", "the current time, RFC 3339 (for tests; default: now)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	t := time.Now()
	if *now != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, *now); err != nil {
			return cli.Usagef("card info: --now: %v", err)
		}
	}
	c, err := cf.open(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		return cardHint(err)
	}
	h := info.Holder
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 1, ' ', 0)
	fmt.Fprintf(w, "backend:\t%s\n", backendName(info.Backend))
	fmt.Fprintf(w, "reader:\t%s\n", info.Reader)
	typ := h.CardType
	if typ == "" {
		typ = "CPx"
	}
	if info.Backend == card.BackendPKCS11 {
		fmt.Fprintf(w, "card:\t%s\n", typ)
	} else {
		fmt.Fprintf(w, "card:\t%s (%s)\n", typ, info.Model)
	}
	fmt.Fprintf(w, "holder:\t%s\n", strings.TrimSpace(h.Surname+" "+h.GivenName))
	switch {
	case h.RPPS != "":
		fmt.Fprintf(w, "RPPS:\t%s\n", h.RPPS)
	case h.ADELI != "":
		fmt.Fprintf(w, "ADELI:\t%s\n", h.ADELI)
	}
	fmt.Fprintf(w, "national id:\t%s\n", h.NationalID)
	fmt.Fprintf(w, "profession:\t%s\n", h.ProfessionLabel)
	validity := fmt.Sprintf("%s to %s", info.NotBefore.Format(time.DateOnly), info.NotAfter.Format(time.DateOnly))
	switch {
	case t.After(info.NotAfter):
		validity += " (EXPIRED)"
	case t.Before(info.NotBefore):
		validity += " (not yet valid)"
	default:
		validity += " (valid)"
	}
	fmt.Fprintf(w, "certificates:\t%s\n", validity)
	pin := doctor.DescribePIN(info.PIN)
	fmt.Fprintf(w, "PIN:\t%s\n", pin)
	sits, sitErr := c.Situations(ctx)
	switch {
	case errors.Is(sitErr, card.ErrNoSituations):
		fmt.Fprintf(w, "situations:\tnot shown by a PKCS#11 module: the gateway checks the billing number\n")
		sitErr = nil
	case sitErr != nil:
		fmt.Fprintf(w, "situations:\tunreadable\n")
	case len(sits) == 0:
		fmt.Fprintf(w, "situations:\tnone: the card bills under no billing number\n")
	}
	for _, st := range sits {
		fmt.Fprintf(w, "situation:\t%s\n", describeSituation(st))
	}
	if info.Model.Contactless() {
		fmt.Fprintf(w, "note:\tread without contact: the card signs nothing this way\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if sitErr != nil {
		return cli.WithHint(sitErr, "the situation files are read in fsegate's own layout (docs/card.md), which a real CPS does not use")
	}
	return nil
}

// backendName says how the card is reached, for card info and doctor.
func backendName(b string) string {
	if b == card.BackendPKCS11 {
		return "PKCS#11 module"
	}
	return "PC/SC (pcscd, fsegate's own APDUs)"
}

// describeSituation is one line of 'card info': "751000019 liberal,
// specialty 01, convention 1, zone 10; may sign invoices and lots".
func describeSituation(s card.Situation) string {
	var may string
	switch {
	case s.MaySignInvoice && s.MaySignLot:
		may = "may sign invoices and lots"
	case s.MaySignInvoice:
		may = "may sign invoices, not lots"
	case s.MaySignLot:
		may = "may sign lots, not invoices"
	default:
		may = "may sign neither invoices nor lots"
	}
	return fmt.Sprintf("%s %s, specialty %s, convention %s, zone %s; %s", s.Billing, s.Mode, s.Specialty, s.Convention, s.Zone, may)
}

func cardVerifyPIN(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "card verify-pin", cardUsage)
	cf := addCardFlags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, err := cf.open(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(ctx); err != nil {
		return cardHint(err)
	}
	fmt.Fprintln(env.Stdout, "PIN correct")
	return nil
}

func cardUnblock(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "card unblock", cardUsage)
	cf := addCardFlags(fs)
	codeFile := fs.String("code-file", "", "read the 8-digit unblock code from `FILE`")
	newPINFile := fs.String("new-pin-file", "", "read the new PIN from `FILE` (default: the PIN stays)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	c, err := cf.open(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close()
	code, err := secret(env, *codeFile, "FSEGATE_UNBLOCK_CODE", "Unblock code (8 digits): ")
	if err != nil {
		return err
	}
	defer clear(code)
	var newPIN []byte
	if *newPINFile != "" || env.Getenv("FSEGATE_NEW_PIN") != "" {
		if newPIN, err = secret(env, *newPINFile, "FSEGATE_NEW_PIN", "New PIN: "); err != nil {
			return err
		}
		defer clear(newPIN)
	}
	pc, ok := c.(*card.Card)
	if !ok {
		return cli.WithHint(errors.New("card unblock: not through a PKCS#11 module (--pkcs11)"),
			"unblock with the middleware's own tool (Cryptolib CPS: the ANS's CPS management tool), or drop --pkcs11 to unblock through pcscd")
	}
	if err := pc.Unblock(ctx, code, newPIN); err != nil {
		if errors.Is(err, card.ErrWrongPIN) {
			return cli.WithHint(err, "the unblock code is on the letter that came with the card")
		}
		return err
	}
	if newPIN != nil {
		fmt.Fprintln(env.Stdout, "PIN unblocked and changed")
	} else {
		fmt.Fprintln(env.Stdout, "PIN unblocked: 3 tries")
	}
	return nil
}
