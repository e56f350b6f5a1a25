#!/usr/bin/env bash
# make test: go vet and go test -race over every package, with a pcscd of its own and its
# vpcd readers started for the card tests (and stopped after, if we started it).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
# The outside verifiers the tests run: xadesjs (npm ci from the lock file,
# nothing fetched once installed).
"$here/xadesjs.sh" || exit 1
echo "== go vet ./..."
go vet ./... || exit 1
echo "== go test -race ./... (pcscd with vpcd readers, embedded NATS per test)"
"$here/with-pcscd.sh" go test -race -timeout 9m ${GOTESTFLAGS:-} ./...
rc=$?
[ $rc -eq 0 ] || exit $rc
# A short fault campaign (docs/reliability.md), after go test and not beside
# it: separate NATS and gateway processes in network namespaces, every fault
# kind that fits in 25 s, the checker at the end ('make chaos' runs the long
# one). It needs root, as CI has; elsewhere it says so and fails.
echo "== chaos (short campaign)"
DURATION=25s DRAIN=90s MAXHOLD=4s SEED=${CHAOS_SEED:-24} FAULTS=kill-gateway,split,clock-jump,kill-node,cut-gateway,kill-insurer \
  OUT=$(mktemp -d /tmp/fsegate-chaos.XXXXXX) "$here/chaos.sh" || exit 1
# A short fuzz pass of the care sheet decoder and validator (make fuzz runs
# every target of the project for longer).
echo "== fuzz (short): fse"
for f in FuzzDecode FuzzValidate; do
  go test -run '^$' -fuzz "^$f\$" -fuzztime 4s -fuzzminimizetime 1s ./fse || exit 1
done
# With a pcscd that fsegate did not start (Debian's socket-activated one):
# the card tests pass beside it and leave it running.
echo "== card tests beside a foreign pcscd"
"$here/test-foreign-pcscd.sh" || exit 1
