# fsegate — sign French care sheets (FSE) with the CPS card, carry them to the insurers.
#
#   make run        install what is missing, build, start the gateway in development mode
#   make test       the whole suite: go vet + go test -race, with pcscd and virtual cards
#   make demo       sign and send 20 care sheets with the virtual card to a running gateway
#   make bench      benchmarks (verify, intake, card), figures in docs/performance.md
#   make loadtest   sustained load against a gateway (see docs/performance.md)
#   make chaos      a fault campaign, separate processes in network namespaces (root;
#                   DURATION=10m SEED=N; results in docs/reliability.md)
#   make fuzz       run every fuzz target for a bounded time (FUZZTIME, default 20s each)
#   make fixtures   regenerate test certificates and CRLs from the committed keys
#   make deps       install the Debian packages fsegate needs (root; quiet when all are there)
#   make build      build bin/gateway and bin/workstation
#   make ci         gofmt, go vet, staticcheck, make test, a short fuzz run
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 20s
BENCHTIME ?= 1s
DEB_PACKAGES := iproute2 pcscd libpcsclite-dev vsmartcard-vpcd opensc pcsc-tools xmlsec1 poppler-utils libnss3-tools chromium gcc pkg-config softhsm2 nodejs npm

.PHONY: deps build test run demo bench loadtest chaos fuzz fixtures ci help

help:
	@sed -n '2,14p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@scripts/deps.sh $(DEB_PACKAGES)

build: deps
	$(GO) build -buildvcs=auto -o bin/gateway ./cmd/gateway
	$(GO) build -buildvcs=auto -o bin/workstation ./cmd/workstation

test: deps
	@scripts/test.sh

run: build
	./bin/gateway serve --dev --data-dir ./data --mock-insurers --mock-scenario default

demo: build
	@scripts/demo.sh

bench: deps
	@scripts/with-pcscd.sh $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

loadtest: build
	@scripts/loadtest.sh

chaos: deps
	@scripts/chaos.sh

fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

fixtures:
	$(GO) run ./fixtures/gen -dir fixtures

ci: deps
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@scripts/test.sh
	@scripts/fuzz.sh 5s
