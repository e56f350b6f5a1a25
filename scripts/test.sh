#!/usr/bin/env bash
# make test: go vet and go test -race over every package, with pcscd and its
# vpcd readers started for the card tests (and stopped after, if we started it).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
echo "== go vet ./..."
go vet ./... || exit 1
echo "== go test -race ./... (pcscd with vpcd readers, embedded NATS per test)"
"$here/with-pcscd.sh" go test -race -timeout 9m ${GOTESTFLAGS:-} ./...
