package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/signature/card/pkcs11"
	"github.com/fsegate/fsegate/signature/card/virtual"
	"github.com/fsegate/fsegate/workstation"
)

// cardFlags are the flags of every command that uses the card:
// --reader NAME, --pkcs11 MODULE, --pkcs11-token URI and --pin-file FILE.
// Without --pkcs11 the card is reached through pcscd with fsegate's own
// APDUs; with it, through that PKCS#11 module (Cryptolib CPS, OpenSC).
// The PIN comes from --pin-file, else FSEGATE_PIN, else a prompt without
// echo on the terminal.
//
// In development mode (--dev or FSEGATE_DEV=1), FSEGATE_VIRTUAL_CARD=
// PROFILE[,state=FILE] replaces pcscd with an in-process virtual card
// (no reader needed), for demos and the command tests.
type cardFlags struct {
	Reader      string
	PKCS11      string
	PKCS11Token string
	PINFile     string
}

// addCardFlags defines --reader and --pin-file on fs.
func addCardFlags(fs *flag.FlagSet) *cardFlags {
	f := &cardFlags{}
	fs.StringVar(&f.Reader, "reader", "", "PC/SC reader `NAME` (default: the only reader with a card; see 'workstation card list')")
	fs.StringVar(&f.PKCS11, "pkcs11", "", "reach the card through the PKCS#11 `MODULE` (e.g. the ANS's Cryptolib CPS, /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so) instead of pcscd")
	fs.StringVar(&f.PKCS11Token, "pkcs11-token", "", "RFC 7512 `URI` naming the token and keys, e.g. pkcs11:token=CPS;serial=123 (default: the one token present)")
	fs.StringVar(&f.PINFile, "pin-file", "", "read the PIN from `FILE` (first line) instead of FSEGATE_PIN or a prompt")
	return f
}

// open opens the card through the backend of the flags, its PIN asked
// through f.prompt when a key needs it. Close it when done: that resets
// the card (PC/SC) or logs out (PKCS#11).
func (f *cardFlags) open(ctx context.Context, env *cli.Env) (card.Token, error) {
	if f.PKCS11 != "" || f.PKCS11Token != "" {
		return f.openPKCS11(ctx, env)
	}
	opts := card.Options{PIN: f.prompt(env)}
	if spec := env.Getenv("FSEGATE_VIRTUAL_CARD"); spec != "" && env.Dev() {
		profile, state, _ := strings.Cut(spec, ",state=")
		v, err := dev.Card(profile, virtual.Options{StateFile: state})
		if err != nil {
			return nil, err
		}
		return card.Open(ctx, card.Loopback(v), opts)
	}
	c, err := card.OpenPCSC(ctx, f.Reader, opts)
	if err != nil {
		return nil, cardHint(err)
	}
	return c, nil
}

// openPKCS11 opens the token of --pkcs11 and --pkcs11-token. The URI
// names the token (token, serial, slot-id, ...) and may name the keys
// (object, id: the signature key; the authentication key is then the
// other one, found by its certificate); its module-path stands for
// --pkcs11.
func (f *cardFlags) openPKCS11(ctx context.Context, env *cli.Env) (card.Token, error) {
	cfg := pkcs11.Config{Module: f.PKCS11, PIN: f.prompt(env)}
	if f.PKCS11Token != "" {
		u, err := pkcs11.ParseURI(f.PKCS11Token)
		if err != nil {
			return nil, cli.Usagef("--pkcs11-token: %v", err)
		}
		cfg.Token = u
		if u.Object != "" || u.ID != nil {
			cfg.SignatureKey = pkcs11.URI{Object: u.Object, ID: u.ID}
		}
	}
	if cfg.Module == "" && cfg.Token.ModulePath == "" {
		return nil, cli.Usagef("--pkcs11-token without --pkcs11 MODULE (or module-path in the URI)")
	}
	t, err := pkcs11.Open(ctx, cfg)
	if err != nil {
		return nil, cardHint(err)
	}
	return t, nil
}

// prompt is the PIN callback: --pin-file, FSEGATE_PIN, or the terminal.
// The PIN is never logged nor kept: the card wipes the slice after VERIFY.
func (f *cardFlags) prompt(env *cli.Env) card.PINPrompt {
	return func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		return secret(env, f.PINFile, "FSEGATE_PIN", pinLabel(req))
	}
}

func pinLabel(req card.PINRequest) string {
	who := req.Holder
	if who == "" {
		who = "the card"
	}
	tries := fmt.Sprintf("%d tries left", req.TriesLeft)
	if req.TriesLeft == 1 {
		tries = "LAST try before the card blocks"
	}
	return fmt.Sprintf("PIN of %s (%s): ", who, tries)
}

// secret reads a secret from file, else from the environment variable,
// else from the terminal without echo.
func secret(env *cli.Env, file, envVar, label string) ([]byte, error) {
	if file != "" {
		// A PIN (or unblock code) others may read is no secret: refused,
		// as the local API's token file is.
		st, err := os.Stat(file)
		if err != nil {
			return nil, err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, cli.WithHint(fmt.Errorf("%s can be read by others (mode %v)", file, st.Mode().Perm()), "chmod 600 "+file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		line, _, _ := strings.Cut(string(b), "\n")
		clear(b)
		return []byte(strings.TrimSpace(line)), nil
	}
	if v := env.Getenv(envVar); v != "" {
		return []byte(v), nil
	}
	in, ok := env.Stdin.(*os.File)
	if !ok {
		return nil, fmt.Errorf("no %s: give it in a file or in %s (no terminal to ask on)", strings.TrimSuffix(strings.Fields(label)[0], ":"), envVar)
	}
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("no %s: give it in a file or in %s (standard input is not a terminal)", strings.TrimSuffix(strings.Fields(label)[0], ":"), envVar)
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return nil, err
	}
	defer func() {
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
		fmt.Fprintln(env.Stderr)
	}()
	fmt.Fprint(env.Stderr, label)
	line, err := bufio.NewReader(in).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	out := []byte(strings.TrimSpace(string(line)))
	clear(line)
	return out, nil
}

// cardHint adds what to do to the card errors a user can fix.
func cardHint(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, card.ErrNoPCSC):
		return cli.WithHint(err, "start pcscd with its virtual readers: scripts/pcscd.sh start (Debian: apt-get install pcscd vsmartcard-vpcd; 'make demo' and 'make test' start and stop their own)")
	case errors.Is(err, card.ErrNoReader):
		return cli.WithHint(err, "connect a card reader; 'workstation card list' shows the readers pcscd sees")
	case errors.Is(err, card.ErrNoCard):
		return cli.WithHint(err, "insert the CPS card in the reader (chip first, contact side up)")
	case errors.Is(err, card.ErrSeveralCards):
		return cli.WithHint(err, "name the reader of the card to use with --reader (or reader: in the configuration); 'workstation card list' shows the readers and their cards")
	case errors.Is(err, card.ErrCardRemoved):
		return cli.WithHint(err, "the card was pulled out, or reset by another program using it: put it back if it is out and try again; nothing was produced")
	case errors.Is(err, card.ErrNotCPS):
		return cli.WithHint(err, "this is not a CPS (CPx) card")
	case errors.Is(err, card.ErrContactless):
		return cli.WithHint(err, "put the card in a contact reader")
	case errors.Is(err, pkcs11.ErrModule):
		return cli.WithHint(err, "check --pkcs11: the path of the PKCS#11 module (Cryptolib CPS: see docs/card.md; OpenSC: /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so)")
	case errors.Is(err, pkcs11.ErrKeyNotOffered):
		return cli.WithHint(err, "sign with the PC/SC backend (drop --pkcs11) or with the ANS's Cryptolib CPS module; OpenSC can still authenticate to the gateway")
	case errors.Is(err, card.ErrPINBlocked):
		return cli.WithHint(err, "workstation card unblock (you need the 8-digit unblock code)")
	case errors.Is(err, card.ErrWrongPIN):
		return cli.WithHint(err, "check the PIN before trying again: the card blocks after 3 wrong entries")
	}
	return err
}

// session opens a card session on the card of the flags, the PIN asked
// through f.prompt; now is the signing time (nil: the current time).
func (f *cardFlags) session(ctx context.Context, env *cli.Env, now func() time.Time) (*workstation.Session, error) {
	s, err := workstation.OpenSession(ctx, workstation.SessionConfig{
		Open: func(ctx context.Context) (card.Token, error) { return f.open(ctx, env) },
		PIN:  f.prompt(env),
		Now:  now,
	})
	return s, cardHint(err)
}
