package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/fixtures"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/signature/card"
)

// gatewayFlags are the flags of every command that talks to the gateway.
type gatewayFlags struct {
	URL   string
	Roots string
	Dev   bool
}

func addGatewayFlags(fs *flag.FlagSet, env *cli.Env) *gatewayFlags {
	g := &gatewayFlags{}
	fs.StringVar(&g.URL, "gateway", "https://127.0.0.1:8443", "gateway `URL`")
	fs.StringVar(&g.Roots, "gateway-roots", "", "PEM `file` of the CAs that sign the gateway's certificate (default: the system's)")
	fs.BoolVar(&g.Dev, "dev", env.Dev(), "development mode: trust the fixtures' test PKI (for the gateway's certificate)")
	return g
}

// connect opens the card and a gateway client authenticated with it;
// closing releases both.
func connect(ctx context.Context, env *cli.Env, cf *cardFlags, gf *gatewayFlags) (card.Token, *client.Client, func(), error) {
	c, err := cf.open(ctx, env)
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err := gf.client(ctx, c)
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	return c, cl, func() { cl.Close(); c.Close() }, nil
}

// client connects to the gateway with the card's authentication key as
// TLS client certificate (TLS 1.2: the card signs PKCS#1 v1.5 only).
func (g *gatewayFlags) client(ctx context.Context, c card.Token) (*client.Client, error) {
	var roots *x509.CertPool
	switch {
	case g.Roots != "":
		b, err := os.ReadFile(g.Roots)
		if err != nil {
			return nil, fmt.Errorf("gateway roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("gateway roots: no certificate in %s", g.Roots)
		}
	case g.Dev:
		b, err := fixtures.ReadFile("pki/root.crt")
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		roots.AppendCertsFromPEM(b)
	}
	cfg := client.Config{URL: g.URL, Roots: roots}
	if c != nil {
		cert, err := c.TLSCertificate(ctx)
		if err != nil {
			return nil, fmt.Errorf("card authentication certificate: %w", err)
		}
		cfg.Certificate = &cert
	}
	cl, err := client.New(cfg)
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	return cl, nil
}

// gatewayHint explains the usual transport failures.
func gatewayHint(err error, url string) error {
	var p *client.Problem
	if err == nil || errors.As(err, &p) {
		return err
	}
	return cli.WithHint(err, "is the gateway running at "+url+"? ('make run' starts one; with the test PKI pass --dev)")
}

// offlineHint is the hint when sheets stay in the outbox because the
// gateway could not be reached: how to send them once it can.
func offlineHint(err error, url string) error {
	return cli.WithHint(err, "is the gateway running at "+url+"? ('make run' starts one; with the test PKI pass --dev). "+
		"The sheets are safe in the outbox: 'workstation outbox --send' sends them (so do the next 'send' and 'batch', first, and 'workstation serve')")
}
