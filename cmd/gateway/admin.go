package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/internal/cli"
	"github.com/fsegate/fsegate/internal/secretfile"
	"github.com/fsegate/fsegate/queue"
)

// openapiYAML is the intake API's description, served by both listeners
// (gateway/httpapi).
//
//go:embed openapi.yaml
var openapiYAML []byte

func init() {
	program.Add(&cli.Command{Name: "resubmit", Summary: "send a dead lot (or a sheet's failed lots) again under the same ids", Run: runResubmit})
	program.Add(&cli.Command{Name: "audit", Summary: "check the FSE_AUDIT hash chain ('audit verify')", Run: runAudit})
}

const resubmitUsage = `Usage: gateway resubmit [--admin ADDRESS] [--token-file FILE] LOT|BILLING.NUMBER

Sends a lot that exhausted its retry budget (in FSE_DEAD) again, as a new
attempt under the same lot id, once the cause is fixed. Given a sheet
(billing number and sheet number), resubmits the failed lots it is in.
Talks to the running gateway's admin listener as an operator, with the
operator token of --token-file (the gateway's --operator-token-file;
'make run' writes data/operator.token). The file must be readable by its
owner only.

Examples:
  gateway resubmit cpam751-751000019-000042
  gateway resubmit 751000019.000000123
  gateway resubmit --admin 10.0.0.5:8080 --token-file /etc/fsegate/operator.token 751000019.000000123
`

// adminClient calls the admin API of a running gateway as an operator.
type adminClient struct {
	addr      string // host:port of the admin listener
	tokenFile string
}

func (c *adminClient) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "admin", "127.0.0.1:8080", "admin `address` of the running gateway")
	fs.StringVar(&c.tokenFile, "token-file", filepath.Join("data", operatorTokenFile), "operator token `file` of the running gateway (owner-only)")
}

// call sends method path with the operator token and returns the answer's
// body; a refusal is an error with its code and the gateway's hint.
func (c *adminClient) call(ctx context.Context, method, path string) ([]byte, error) {
	token, err := secretfile.Read(c.tokenFile)
	if err != nil {
		return nil, secretErr("operator token file", c.tokenFile, err, "give the gateway's operator token file with --token-file ('gateway serve --dev' writes operator.token in its data dir)")
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, cli.WithHint(err, "is 'gateway serve' running with its admin listener there? (--admin)")
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK {
		return b, nil
	}
	var p api.Problem
	if json.Unmarshal(b, &p) == nil && len(p.Errors) > 0 {
		e := p.Errors[0]
		return nil, cli.WithHint(fmt.Errorf("%s: %s", e.Code, e.Message), e.Hint)
	}
	return nil, fmt.Errorf("%s", strings.TrimSpace(string(b)))
}

func runResubmit(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "resubmit", resubmitUsage)
	var c adminClient
	c.flags(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("resubmit takes one lot id or BILLING.NUMBER")
	}
	b, err := c.call(ctx, http.MethodPost, "/admin/resubmit?what="+url.QueryEscape(fs.Arg(0)))
	if err != nil {
		return fmt.Errorf("resubmit %s: %w", fs.Arg(0), err)
	}
	var out struct {
		Resubmitted []string `json:"resubmitted"`
	}
	_ = json.Unmarshal(b, &out)
	for _, id := range out.Resubmitted {
		fmt.Fprintf(env.Stdout, "resubmitted %s\n", id)
	}
	return nil
}

const auditUsage = `Usage: gateway audit verify [--admin ADDRESS] [--token-file FILE]

Reads FSE_AUDIT from its first entry and checks that each entry carries the
hash of the previous one and its own content's hash. Exit 0 when the chain
holds, 1 when it is broken (the first broken entry is named). Talks to the
running gateway's admin listener as an operator, with the operator token
of --token-file (owner-only; 'make run' writes data/operator.token).

Examples:
  gateway audit verify
  gateway audit verify --admin 10.0.0.5:8080 --token-file /etc/fsegate/operator.token
`

func runAudit(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.FlagSet(env, "audit", auditUsage)
	if len(args) == 0 || args[0] != "verify" {
		fs.Usage()
		return cli.Usagef("audit: want 'audit verify'")
	}
	var c adminClient
	c.flags(fs)
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return cli.Usagef("audit verify takes no arguments")
	}
	b, err := c.call(ctx, http.MethodGet, "/admin/audit/verify")
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	var rep queue.AuditReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if rep.Broken != 0 {
		return fmt.Errorf("audit chain broken at FSE_AUDIT sequence %d: %s (%d entries hold before it)", rep.Broken, rep.Reason, rep.Entries)
	}
	fmt.Fprintf(env.Stdout, "audit chain holds: %d entries, last hash %s\n", rep.Entries, rep.LastHash)
	return nil
}
