package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsegate/fsegate/gateway/dashboard"
	"github.com/fsegate/fsegate/gateway/oidcauth"
	"github.com/fsegate/fsegate/gateway/psc"
	"github.com/fsegate/fsegate/internal/cli"
)

func init() {
	program.Add(&cli.Command{Name: "psc-mock", Summary: "run a mock Pro Santé Connect (e-CPS sign-in) for development", Run: runPSCMock})
}

// PSCConfig is the e-CPS sign-in through Pro Santé Connect: the dashboard
// offers "Sign in with e-CPS" and the read and notice endpoints accept the
// provider's bearer access tokens (docs/ecps.md).
type PSCConfig struct {
	// Issuer of the provider. Empty: none, unless --dev, which starts the
	// mock provider in-process on MockListen.
	Issuer           string
	ClientID         string
	ClientSecretFile string
	ClientSecret     string // tests; the file wins
	// BearerClients are the client ids (azp) whose access tokens without
	// aud the API takes (default: ClientID), as Pro Santé Connect issues
	// them.
	BearerClients []string
	// RedirectURL is the dashboard's callback as the browser reaches it
	// (default http://<admin address>/auth/callback).
	RedirectURL string
	MockListen  string
	SessionTTL  time.Duration

	rp   atomic.Pointer[oidcauth.RP]
	mock atomic.Pointer[psc.Server]
}

func (c *PSCConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Issuer, "psc-issuer", "", "Pro Santé Connect issuer `URL` for e-CPS sign-in ('off': none; --dev: an in-process mock)")
	fs.StringVar(&c.ClientID, "psc-client-id", psc.DevClient.ID, "the gateway's client `id` at Pro Santé Connect")
	fs.StringVar(&c.ClientSecretFile, "psc-client-secret-file", "", "`file` holding the client secret (--dev mock: its own)")
	fs.Func("psc-bearer-clients", "comma-separated client `ids` (azp) whose access tokens without aud the API takes (default: --psc-client-id)", func(v string) error {
		c.BearerClients = nil
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				c.BearerClients = append(c.BearerClients, id)
			}
		}
		return nil
	})
	fs.StringVar(&c.RedirectURL, "psc-redirect", "", "the dashboard's e-CPS callback `URL` as browsers reach it (default http://<admin>/auth/callback)")
	fs.StringVar(&c.MockListen, "psc-mock-listen", "127.0.0.1:0", "--dev: `address` of the in-process mock Pro Santé Connect")
	fs.DurationVar(&c.SessionTTL, "session-ttl", 30*time.Minute, "lifetime of an e-CPS dashboard session")
}

// RP is the relying party, nil when e-CPS sign-in is off.
func (c *PSCConfig) RP() *oidcauth.RP { return c.rp.Load() }

// Mock is the in-process mock provider (--dev without --psc-issuer), or nil.
func (c *PSCConfig) Mock() *psc.Server { return c.mock.Load() }

// startECPS sets up e-CPS sign-in: the relying party of the admin
// listener's /auth/login, /auth/callback, /auth/logout and its session
// (acc.Session, acc.SignIn, acc.SignOut), whose bearer tokens the intake
// API takes too (Main.bearer). With --dev and no --psc-issuer, the mock
// provider starts in-process. Nil when e-CPS is off.
func (m *Main) startECPS(ctx context.Context, acc *dashboard.Access) (*oidcauth.RP, error) {
	c := &m.PSC
	issuer, secret := c.Issuer, c.ClientSecret
	switch {
	case issuer == "off" || (issuer == "" && !m.Dev):
		return nil, nil
	case issuer == "":
		s, err := startMockPSC(ctx, c.MockListen, psc.Config{Logger: m.Logger.With("part", "psc-mock")})
		if err != nil {
			return nil, fmt.Errorf("mock Pro Santé Connect: %w", err)
		}
		c.mock.Store(s)
		issuer, secret = s.Issuer(), psc.DevClient.Secret
		m.Logger.Info("mock Pro Santé Connect started (e-CPS code = the card profile's PIN)", "issuer", issuer)
	}
	if c.ClientSecretFile != "" {
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--psc-client-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	redirect := c.RedirectURL
	if redirect == "" {
		redirect = "http://" + m.AdminAddr() + "/auth/callback"
	}
	rp, err := oidcauth.New(oidcauth.Config{
		Issuer: issuer, ClientID: c.ClientID, ClientSecret: secret, RedirectURL: redirect, AuthorizedParties: c.BearerClients,
		SessionTTL: c.SessionTTL, Now: m.Now, Logger: m.Logger.With("part", "oidc"),
	})
	if err != nil {
		return nil, err
	}
	acc.Session = rp.Session
	acc.SignIn, acc.SignOut = "/auth/login", "/auth/logout"
	c.rp.Store(rp)
	return rp, nil
}

const pscMockUsage = `Usage: gateway psc-mock [flags]

Runs a mock Pro Santé Connect (OpenID Connect) for development: discovery
document, JWKS, an authorization endpoint whose page simulates e-CPS (type
the national id and the 4-digit code; the code is the card profile's PIN,
1234 for every test card), a token endpoint (authorization code with PKCE
S256) and userinfo. Users are the fixtures' card profiles. Signing keys are
made at start and live in memory (--rotate-every rotates them; the JWKS
keeps the previous ones).

'gateway serve --dev' runs one in-process by itself; use this one to share
it between gateways or to test key rotation:
  gateway serve --dev --psc-issuer http://127.0.0.1:8090

Examples:
  gateway psc-mock
  gateway psc-mock --listen 127.0.0.1:8090 --rotate-every 10m
  gateway psc-mock --client-id fsegate-gateway --client-secret-file secret --redirect https://gw.example/auth/callback
`

func runPSCMock(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "psc-mock", pscMockUsage)
	listen := fs.String("listen", "127.0.0.1:8090", "listen `address`")
	issuer := fs.String("issuer", "", "issuer `URL` (default http://<listen address>)")
	clientID := fs.String("client-id", psc.DevClient.ID, "the registered client's `id`")
	secretFile := fs.String("client-secret-file", "", "`file` holding the client secret (default the development secret)")
	var redirects stringList
	fs.Var(&redirects, "redirect", "allowed redirect `URI` (repeatable; none: any loopback URI)")
	ttl := fs.Duration("token-ttl", 5*time.Minute, "lifetime of id and access tokens")
	rotate := fs.Duration("rotate-every", 0, "rotate the signing key this often (0: never)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("psc-mock takes no arguments, got %q", fs.Args())
	}
	client := psc.Client{ID: *clientID, Secret: psc.DevClient.Secret, RedirectURIs: redirects}
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		client.Secret = strings.TrimSpace(string(b))
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	s, err := startMockPSC(ctx, *listen, psc.Config{Issuer: *issuer, Clients: []psc.Client{client}, TokenTTL: *ttl, Logger: log})
	if err != nil {
		return cli.WithHint(err, "another process may hold the port: use --listen")
	}
	defer s.Close()
	log.Info("mock Pro Santé Connect ready", "issuer", s.Issuer(), "client_id", client.ID)
	fmt.Fprintf(env.Stdout, "issuer %s\n", s.Issuer())
	var tick <-chan time.Time
	if *rotate > 0 {
		t := time.NewTicker(*rotate)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if err := s.Rotate(); err != nil {
				return err
			}
			log.Info("signing key rotated", "kid", s.KeyID())
		}
	}
}

type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty")
	}
	*l = append(*l, v)
	return nil
}
