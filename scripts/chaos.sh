#!/usr/bin/env bash
# make chaos: a fault campaign (docs/reliability.md). Builds nats-server (from
# the module in go.mod), the gateway with the campaign's clock (-tags chaos)
# and the runner, then runs DURATION of faults with SEED and checks the
# history. Needs root (network namespaces, a tmpfs per NATS node).
#   DURATION=10m SEED=7 make chaos
#   BROKEN=1 DURATION=40s FAULTS=kill-gateway make chaos   # the broken build: must fail
set -uo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10m}
SEED=${SEED:-$(( $(date +%s) % 100000 ))}
RATE=${RATE:-8}
BIN=${BIN:-bin} # where the campaign's binaries go (a campaign restarts them: keep them still)
if [ "$(id -u)" -ne 0 ]; then
  echo "chaos: the campaign needs root (ip netns, tmpfs mounts); run it as root, as CI does" >&2
  exit 1
fi
mkdir -p "$BIN"
go build -o "$BIN/nats-server" github.com/nats-io/nats-server/v2 || exit 1
go build -tags chaos -o "$BIN/gateway-chaos" ./cmd/gateway || exit 1
go build -o "$BIN/chaos" ./chaos/cmd/chaos || exit 1
gw=gateway-chaos
if [ -n "${BROKEN:-}" ]; then
  go build -tags chaos,chaosbroken -o "$BIN/gateway-broken" ./cmd/gateway || exit 1
  gw=gateway-broken
fi
# An interrupted run's namespaces, processes and mounts go first; the
# runner removes its own at the end, also on Ctrl-C.
trap '"$BIN/chaos" cleanup' EXIT
exec_args=(run --bin "$BIN" --duration "$DURATION" --seed "$SEED" --rate "$RATE" --gateway "$gw")
[ -n "${FAULTS:-}" ] && exec_args+=(--faults "$FAULTS")
[ -n "${OUT:-}" ] && exec_args+=(--out "$OUT")
[ -n "${DRAIN:-}" ] && exec_args+=(--drain "$DRAIN")
[ -n "${MAXHOLD:-}" ] && exec_args+=(--max-hold "$MAXHOLD")
"$BIN/chaos" "${exec_args[@]}"
