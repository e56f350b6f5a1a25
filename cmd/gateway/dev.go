package main

import (
	"context"

	"github.com/fsegate/fsegate/fixtures/dev"
	"github.com/fsegate/fsegate/gateway/psc"
)

// startMockPSC starts the mock Pro Santé Connect (psc.Start) with the
// fixtures' cards as its users: --dev without --psc-issuer, and
// 'gateway psc-mock'.
func startMockPSC(ctx context.Context, addr string, cfg psc.Config) (*psc.Server, error) {
	users, err := dev.PSCUsers()
	if err != nil {
		return nil, err
	}
	cfg.Users = users
	return psc.Start(ctx, addr, cfg)
}
