package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/internal/secretfile"
	"github.com/fsegate/fsegate/signature/card"
	"github.com/fsegate/fsegate/workstation"
	"github.com/fsegate/fsegate/workstation/localapi"
)

func init() {
	program.Add(&cli.Command{Name: "serve", Summary: "local HTTP API for practice software: post a sheet, it is signed, kept and sent", Run: runServe})
}

const serveUsage = `workstation serve — the local HTTP API for practice and pharmacy software

Usage:
  workstation serve [--listen 127.0.0.1:7600] [--token-file F] [--pin-command CMD]
                    [--gateway URL] [--outbox DIR] [--reader NAME] [--pin-file F]

Practice software posts an unsigned care sheet (XML or JSON) to
POST /v1/sheets: it is checked with the caisse's rules, signed with the CPS
card in the reader, written to the durable outbox and sent to the gateway;
the answer is the gateway's receipt, or every reason of a refusal, or 202
when the gateway cannot be reached (the sheet waits in the outbox). The
outbox is drained continuously, with backoff while the gateway is down.
GET /v1/sheets/{number} gives a sheet's state, GET /v1/notices and
POST /v1/notices/ack read and confirm the acknowledgements.
docs/workstation-openapi.yaml describes the API; package
github.com/fsegate/fsegate/client/workstation is its Go client.

Security: it listens on loopback only; every request carries
"Authorization: Bearer TOKEN", the token read from --token-file (created
0600 with a random token when missing; practice software reads it there);
the Host header must name the loopback address (no DNS rebinding); requests
from web pages (an Origin header) are refused and no CORS header is sent.

The PIN: --pin-command CMD is run (sh -c) when the card needs the PIN, and
its first line of output is the PIN (FSEGATE_PIN_HOLDER and
FSEGATE_PIN_TRIES tell it whom to ask); else --pin-file, FSEGATE_PIN, or the
terminal. The PIN is asked once; the card stays logged in while it stays in
the reader.

Examples:
  workstation serve --dev
  workstation serve --pin-command 'zenity --password --title "PIN CPS"'
  curl -H "Authorization: Bearer $(cat ~/.config/fsegate/serve.token)" \
       -H 'Content-Type: application/xml' --data-binary @sheet.xml \
       http://127.0.0.1:7600/v1/sheets
`

func defaultTokenFile() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "fsegate", "serve.token")
	}
	return "fsegate-serve.token"
}

func runServe(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "serve", serveUsage)
	cf := addCardFlags(fs)
	gf := addGatewayFlags(fs, env)
	confPath := addConfigFlag(fs)
	listen := fs.String("listen", "127.0.0.1:7600", "loopback `address` to listen on")
	tokenFile := fs.String("token-file", defaultTokenFile(), "bearer token `file` (created 0600 when missing)")
	pinCommand := fs.String("pin-command", "", "`command` run to ask the PIN (its first output line)")
	dir := addOutboxFlag(fs, env)
	drainEvery := fs.Duration("drain-every", 2*time.Second, "how often the outbox is looked at")
	readTimeout := fs.Duration("read-timeout", 2*time.Minute, "how long a request, body included, may take to arrive (a slow client cannot hold the server)")
	tf := addTableFlags(fs, true)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if _, err := applyConfig(fs, *confPath, env); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return cli.Usagef("serve takes no argument")
	}
	switch err := localapi.CheckAddress(*listen); {
	case errors.Is(err, localapi.ErrNotLoopback):
		return cli.Usagef("--listen %s: %v", *listen, err)
	case err != nil:
		return cli.Usagef("--listen %q: %v", *listen, err)
	}
	rules, err := tf.load()
	if err != nil {
		return err
	}
	rules.Now = time.Now
	token, err := loadToken(*tokenFile)
	if err != nil {
		return err
	}
	ob, err := openOutbox(env, *dir)
	if err != nil {
		return err
	}
	unlock, err := ob.Lock()
	if err != nil {
		return err
	}
	defer unlock()

	prompt := cf.prompt(env)
	if *pinCommand != "" {
		prompt = commandPrompt(*pinCommand)
	}
	s := &localapi.Server{
		Flow:     &workstation.Flow{Rules: rules, AcceptSigned: true, Outbox: ob},
		Token:    token,
		Gateway:  gf.URL,
		OpenCard: func(ctx context.Context) (card.Token, error) { return cf.open(ctx, env) },
		PIN:      prompt,
		Connect:  gf.client,
		CardHint: cardHintText,
		Log:      log.New(env.Stderr, "serve: ", log.LstdFlags),
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	// A slow or stuck client cannot hold a connection: headers within
	// 10 s, the whole request within --read-timeout, idle keep-alives
	// closed after 2 min. No write timeout: a notices long poll answers
	// late by design.
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: *readTimeout, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(env.Stdout, "workstation serve: listening on http://%s (token in %s, outbox %s)\n", ln.Addr(), *tokenFile, ob.Dir())
	go s.Drain(ctx, *drainEvery)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadToken reads the bearer token, creating the file (0600) with a random
// token when it is missing. A file others may read is refused.
func loadToken(path string) (string, error) {
	tok, err := secretfile.ReadOrCreate(path)
	switch {
	case errors.Is(err, secretfile.ErrUnsafe):
		return "", cli.WithHint(fmt.Errorf("token file: %w", err), "chmod 600 "+path)
	case err != nil:
		return "", fmt.Errorf("token file: %w", err)
	case len(tok) < 16:
		return "", fmt.Errorf("token file %s: the token is too short (16 characters at least)", path)
	}
	return tok, nil
}

// commandPrompt runs cmd to ask the PIN: its first output line is the PIN.
func commandPrompt(cmd string) card.PINPrompt {
	return func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Env = append(os.Environ(), "FSEGATE_PIN_HOLDER="+req.Holder, "FSEGATE_PIN_TRIES="+strconv.Itoa(req.TriesLeft), "FSEGATE_PIN_READER="+req.Reader)
		c.Stderr = os.Stderr
		out, err := c.Output()
		if err != nil {
			return nil, fmt.Errorf("PIN command: %w", err)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		clear(out)
		pin := strings.TrimSpace(line)
		if pin == "" {
			return nil, errors.New("PIN command: no PIN given (cancelled)")
		}
		return []byte(pin), nil
	}
}

// cardHintText is what to do about a card error, for the local API's
// CARD_UNAVAILABLE ("" when cardHint knows nothing).
func cardHintText(err error) string {
	var he *cli.HintError
	if errors.As(cardHint(err), &he) {
		return he.Hint
	}
	return ""
}
