#!/usr/bin/env bash
# make loadtest: start a gateway of its own (embedded NATS, mock insurers,
# new data dir), send SHEETS pre-signed sheets at RATE per second with
# 'gateway loadtest', follow them all to their final state, print the
# figures and the accounting. The signed corpus is cached under data/.
# Defaults: 180,000 sheets offered at 2,600/s (RATE=0: as fast as they go,
# 2,600-3,000/s on the 2-core development machine): about 69 s of sending.
set -uo pipefail
cd "$(dirname "$0")/.."
SHEETS=${SHEETS:-180000}
RATE=${RATE:-2600}
PORT=${PORT:-18443}
data=$(mktemp -d)
mkdir -p data
# --drain-yield 4 --drain-yield-rate 100: a burst is receipted first and
# batched behind it (docs/operations.md#performance).
bin/gateway serve --dev --mock-insurers --drain-yield "${DRAIN_YIELD:-4}" --drain-yield-rate "${DRAIN_YIELD_RATE:-100}" --data-dir "$data" --listen 127.0.0.1:$PORT --admin 127.0.0.1:$((PORT + 1)) --nats-listen 127.0.0.1:$((PORT + 2)) > "$data/gateway.log" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null; wait $gw 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$((PORT + 1))) 2>/dev/null && break
  sleep 0.2
done
echo "loadtest: gateway on 127.0.0.1:$PORT (log $data/gateway.log), $SHEETS sheets at $RATE/s"
bin/gateway loadtest --dev --gateway https://127.0.0.1:$PORT --sheets "$SHEETS" --rate "$RATE" --connections "${CONNECTIONS:-8}" --follow-for "${FOLLOW_FOR:-5m}"
