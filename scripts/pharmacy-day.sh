#!/bin/sh
# A practice's or pharmacy's day, measured: 500 care sheets in a folder, one
# 'workstation batch', the virtual CPS card in a vpcd reader (through pcscd)
# answering each signature after 200 ms like a real card, a real gateway
# with mock insurers. Prints the wall time, the signatures per PIN entry and
# the sheets per second. About 100 s; not part of 'make test'.
#
#   scripts/pharmacy-day.sh                 # 500 sheets, 200 ms
#   SHEETS=100 DELAY=100ms scripts/pharmacy-day.sh
#
# Needs pcscd with the vpcd readers ('scripts/pcscd.sh start').
set -eu
cd "$(dirname "$0")/.."
FSEGATE_BENCH_SHEETS="${SHEETS:-500}" FSEGATE_BENCH_DELAY="${DELAY:-200ms}" \
	exec go test ./cmd/workstation -run '^$' -bench BatchDay -benchtime 1x -timeout 20m -v
