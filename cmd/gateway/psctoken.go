package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fsegate/fsegate/gateway/psc"
	"github.com/fsegate/fsegate/internal/cli"
)

func init() {
	program.Add(&cli.Command{Name: "psc-token", Summary: "a development e-CPS bearer token from the mock Pro Santé Connect", Run: runPSCToken})
}

const pscTokenUsage = `Usage: gateway psc-token --issuer URL [--national-id ID] [--code-file FILE]

Signs in at a MOCK Pro Santé Connect (the one 'gateway serve --dev' runs
in-process, or 'gateway psc-mock') as a practitioner of the fixtures' card
profiles, the way the dashboard's "Sign in with e-CPS" does (authorization
code with PKCE S256, the mock's e-CPS page filled in, the token endpoint
with the development client, id fsegate-gateway and secret
fsegate-dev-secret), and prints the access token: a bearer token for the
intake API's read endpoints (GET /v1/sheets/{number}, GET /v1/notices,
POST /v1/notices/ack). It lives 5 minutes. The e-CPS code is the card
profile's PIN (1234), from --code-file, else FSEGATE_PIN, else 1234.

The issuer of 'make run' is in its log: "mock Pro Santé Connect started …
issuer=http://127.0.0.1:PORT". The real Pro Santé Connect needs a browser:
this command is for development only.

Examples:
  TOKEN=$(gateway psc-token --issuer http://127.0.0.1:8090)
  curl -k -H "Authorization: Bearer $TOKEN" https://127.0.0.1:8443/v1/notices
  gateway psc-token --issuer http://127.0.0.1:8090 --national-id 899700075122   # the pharmacist
`

func runPSCToken(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "psc-token", pscTokenUsage)
	issuer := fs.String("issuer", "", "the mock provider's issuer `URL` (required)")
	nationalID := fs.String("national-id", "899700218896", "national `id` (RPPS with its prefix) of a fixtures' card profile; default the doctor's")
	codeFile := fs.String("code-file", "", "read the e-CPS code from `FILE` (default FSEGATE_PIN, else 1234)")
	clientID := fs.String("client-id", psc.DevClient.ID, "client `id`")
	secretFile := fs.String("client-secret-file", "", "`file` holding the client secret (default the development secret)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *issuer == "" || fs.NArg() > 0 {
		return cli.Usagef("psc-token needs --issuer URL and no argument")
	}
	code := env.Getenv("FSEGATE_PIN")
	if *codeFile != "" {
		b, err := os.ReadFile(*codeFile)
		if err != nil {
			return err
		}
		code = strings.TrimSpace(string(b))
	}
	if code == "" {
		code = "1234"
	}
	secret := psc.DevClient.Secret
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		secret = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := psc.SignIn(ctx, strings.TrimSuffix(*issuer, "/"), psc.Client{ID: *clientID, Secret: secret}, *nationalID, code)
	if err != nil {
		return cli.WithHint(fmt.Errorf("psc-token: %w", err), "is the mock Pro Santé Connect running at "+*issuer+"? ('make run' logs its issuer; the e-CPS code is the profile's PIN)")
	}
	fmt.Fprintln(env.Stdout, tok)
	return nil
}
