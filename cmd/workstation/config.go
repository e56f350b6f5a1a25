package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/internal/cli"
)

// config is the workstation configuration file (YAML). Every field is the
// default of the flag of the same name; a flag given on the command line
// wins. docs/workstation.md documents it.
type config struct {
	Gateway      string `yaml:"gateway"`       // --gateway
	GatewayRoots string `yaml:"gateway_roots"` // --gateway-roots
	Reader       string `yaml:"reader"`        // --reader
	PKCS11       string `yaml:"pkcs11"`        // --pkcs11
	PKCS11Token  string `yaml:"pkcs11_token"`  // --pkcs11-token
	Outbox       string `yaml:"outbox"`        // --outbox
	Billing      string `yaml:"billing"`       // --billing
	PINFile      string `yaml:"pin_file"`      // --pin-file
	PINCommand   string `yaml:"pin_command"`   // --pin-command (serve)
	Listen       string `yaml:"listen"`        // --listen (serve)
	TokenFile    string `yaml:"token_file"`    // --token-file (serve)
}

const configHelp = "workstation configuration `file` (YAML; default $FSEGATE_CONFIG, else ~/.config/fsegate/workstation.yaml when it exists)"

// addConfigFlag defines --config on fs.
func addConfigFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", configHelp)
}

// defaultConfigPath is the configuration file read when --config is not
// given: $FSEGATE_CONFIG, else the user's one when it exists.
func defaultConfigPath(env *cli.Env) string {
	if p := env.Getenv("FSEGATE_CONFIG"); p != "" {
		return p
	}
	if d, err := os.UserConfigDir(); err == nil {
		p := filepath.Join(d, "fsegate", "workstation.yaml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// loadConfig reads and checks a configuration file.
func loadConfig(path string) (*config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	var c config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, cli.WithHint(fmt.Errorf("configuration %s: %w", path, err), "docs/workstation.md lists the fields")
	}
	return &c, nil
}

// applyConfig reads the configuration file (path, or the default one) and
// sets every flag of fs it names that was not given on the command line.
// Call it right after cli.Parse.
func applyConfig(fs *flag.FlagSet, path string, env *cli.Env) (*config, error) {
	if path == "" {
		path = defaultConfigPath(env)
	}
	if path == "" {
		return &config{}, nil
	}
	c, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range map[string]string{
		"gateway": c.Gateway, "gateway-roots": c.GatewayRoots, "reader": c.Reader,
		"pkcs11": c.PKCS11, "pkcs11-token": c.PKCS11Token,
		"outbox": c.Outbox, "billing": c.Billing, "pin-file": c.PINFile,
		"pin-command": c.PINCommand, "listen": c.Listen, "token-file": c.TokenFile,
	} {
		if v == "" || given[name] || fs.Lookup(name) == nil {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return nil, fmt.Errorf("configuration %s: %s: %w", path, name, err)
		}
	}
	return c, nil
}
