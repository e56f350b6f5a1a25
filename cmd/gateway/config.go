package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fsegate/fsegate/fse/tables"
)

// fileConfig is the YAML configuration of 'gateway serve --config'
// (documented in fixtures/gateway.yaml, which holds the defaults of 'make
// run'). Flags given on the command line override it.
type fileConfig struct {
	Listen            string   `yaml:"listen"`
	Admin             string   `yaml:"admin"`
	AdminHosts        []string `yaml:"admin_hosts"`
	Operators         []string `yaml:"operators"`
	OperatorTokenFile string   `yaml:"operator_token_file"`
	PProf             *bool    `yaml:"pprof"`
	DataDir           string   `yaml:"data_dir"`
	Dev               *bool    `yaml:"dev"`
	TLS               struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Trust struct {
		Dir        string         `yaml:"dir"`
		CRLRefresh *time.Duration `yaml:"crl_refresh"`
		CRLURLs    []string       `yaml:"crl_urls"`
	} `yaml:"trust"`
	NATS struct {
		Listen   string `yaml:"listen"`
		URL      string `yaml:"url"`
		Seed     string `yaml:"seed"`
		Replicas int    `yaml:"replicas"`
		Sync     string `yaml:"sync"`
		MaxBytes int64  `yaml:"max_bytes"`
		// The store key's file, never the key: a configuration file is
		// read by more people than a secret may be.
		StoreKeyFile string `yaml:"store_key_file"`
		StoreCipher  string `yaml:"store_cipher"`
		TLSCert      string `yaml:"tls_cert"`
		TLSKey       string `yaml:"tls_key"`
		TLSCA        string `yaml:"tls_ca"`
	} `yaml:"nats"`
	Practices    string   `yaml:"practices"`
	Insurers     string   `yaml:"insurers"`
	Tariffs      string   `yaml:"tariffs"`
	Tables       string   `yaml:"tables"`
	PricesWarn   []string `yaml:"prices_warn"`
	Holidays     string   `yaml:"holidays"`
	MockInsurers *bool    `yaml:"mock_insurers"`
	MockScenario string   `yaml:"mock_scenario"`
	Intake       struct {
		MaxBody             int64 `yaml:"max_body"`
		MaxBatch            int   `yaml:"max_batch"`
		MaxBatchBytes       int64 `yaml:"max_batch_bytes"`
		MaxBatchesPerClient int   `yaml:"max_batches_per_client"`
	} `yaml:"intake"`
	Lots struct {
		Key        string `yaml:"key"`
		DrainYield *int   `yaml:"drain_yield"`
		YieldRate  int    `yaml:"drain_yield_rate"`
	} `yaml:"lots"`
	GCPercent int `yaml:"gc_percent"`
}

// applyConfigFile fills the fields of m whose flag was not given from the
// YAML file m.Config.
func (m *Main) applyConfigFile(fs *flag.FlagSet) error {
	b, err := os.ReadFile(m.Config)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var c fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("config %s: %w", m.Config, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	str := func(flag string, dst *string, v string) {
		if !set[flag] && v != "" {
			*dst = v
		}
	}
	str("listen", &m.Listen, c.Listen)
	str("admin", &m.Admin, c.Admin)
	str("data-dir", &m.DataDir, c.DataDir)
	str("operator-token-file", &m.AdminAuth.TokenFile, c.OperatorTokenFile)
	if !set["admin-hosts"] && len(c.AdminHosts) > 0 {
		m.AdminAuth.Hosts = c.AdminHosts
	}
	if !set["operators"] && len(c.Operators) > 0 {
		m.AdminAuth.Operators = c.Operators
	}
	if !set["pprof"] && c.PProf != nil {
		m.AdminAuth.PProf = *c.PProf
	}
	str("tls-cert", &m.TLSCert, c.TLS.Cert)
	str("tls-key", &m.TLSKey, c.TLS.Key)
	str("trust-dir", &m.TrustDir, c.Trust.Dir)
	str("nats-listen", &m.NATSListen, c.NATS.Listen)
	str("nats-url", &m.NATSURL, c.NATS.URL)
	str("nats-seed", &m.NATSSeed, c.NATS.Seed)
	str("sync", &m.Sync, c.NATS.Sync)
	str("practices", &m.Practices, c.Practices)
	str("insurers", &m.Insurers, c.Insurers)
	str("tariffs", &m.Tariffs, c.Tariffs)
	str("tables", &m.Tables, c.Tables)
	if !set["prices-warn"] && len(c.PricesWarn) > 0 {
		for _, t := range c.PricesWarn {
			if err := tables.CheckPriceTable(t); err != nil {
				return fmt.Errorf("prices_warn: %w", err)
			}
		}
		m.PricesWarn = c.PricesWarn
	}
	str("holidays", &m.Holidays, c.Holidays)
	str("lot-key", &m.LotKey, c.Lots.Key)
	if !set["replicas"] && c.NATS.Replicas > 0 {
		m.Replicas = c.NATS.Replicas
	}
	if !set["max-store"] && c.NATS.MaxBytes > 0 {
		m.MaxStore = c.NATS.MaxBytes
	}
	if !set["crl-refresh"] && c.Trust.CRLRefresh != nil {
		m.CRLRefresh = *c.Trust.CRLRefresh
	}
	if !set["crl-url"] {
		for _, u := range c.Trust.CRLURLs {
			if err := fs.Set("crl-url", u); err != nil {
				return fmt.Errorf("config %s: trust.crl_urls: %w", m.Config, err)
			}
		}
	}
	setStr := func(flag string, dst *string, v string) {
		if !set[flag] && v != "" {
			*dst = v
		}
	}
	setStr("store-key-file", &m.StoreKeyFile, c.NATS.StoreKeyFile)
	setStr("store-cipher", &m.StoreCipher, c.NATS.StoreCipher)
	setStr("nats-tls-cert", &m.NATSTLSCert, c.NATS.TLSCert)
	setStr("nats-tls-key", &m.NATSTLSKey, c.NATS.TLSKey)
	setStr("nats-tls-ca", &m.NATSTLSCA, c.NATS.TLSCA)
	if !set["max-body"] && c.Intake.MaxBody > 0 {
		m.MaxBody = c.Intake.MaxBody
	}
	if !set["max-batch"] && c.Intake.MaxBatch > 0 {
		m.MaxBatch = c.Intake.MaxBatch
	}
	if !set["max-batch-bytes"] && c.Intake.MaxBatchBytes > 0 {
		m.MaxBatchBytes = c.Intake.MaxBatchBytes
	}
	if !set["max-batches-per-client"] && c.Intake.MaxBatchesPerClient > 0 {
		m.MaxBatchesPerClient = c.Intake.MaxBatchesPerClient
	}
	if !set["drain-yield"] && c.Lots.DrainYield != nil {
		m.DrainYield = *c.Lots.DrainYield
	}
	if !set["drain-yield-rate"] && c.Lots.YieldRate > 0 {
		m.YieldRate = c.Lots.YieldRate
	}
	if !set["gc-percent"] && c.GCPercent != 0 {
		m.GCPercent = c.GCPercent
	}
	if !set["dev"] && c.Dev != nil {
		m.Dev = *c.Dev
	}
	if !set["mock-insurers"] && c.MockInsurers != nil {
		m.Mock = *c.MockInsurers
	}
	if !set["mock-scenario"] && c.MockScenario != "" {
		m.MockScenario = c.MockScenario
	}
	return nil
}
