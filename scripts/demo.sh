#!/usr/bin/env bash
# make demo: sign and send 20 care sheets with a virtual CPS card to the
# gateway of 'make run' (or to a gateway of its own when none answers), and
# follow them to their final state.
set -uo pipefail
cd "$(dirname "$0")/.."
admin=${FSEGATE_ADMIN:-127.0.0.1:8080}

ready() {
  local host=${admin%:*} port=${admin##*:}
  exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || return 1
  printf 'GET /readyz HTTP/1.0\r\nHost: %s\r\n\r\n' "$admin" >&3
  head -1 <&3 | grep -q ' 200 '
  local rc=$?
  exec 3>&-
  return $rc
}

started_pcscd=0
pgrep -x pcscd >/dev/null 2>&1 || started_pcscd=1
scripts/pcscd.sh start || exit 1
gw_pid=""
cleanup() {
  [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null && wait "$gw_pid" 2>/dev/null
  [ $started_pcscd -eq 1 ] && scripts/pcscd.sh stop
}
trap cleanup EXIT

if ready; then
  echo "demo: using the gateway of 'make run' (admin $admin)"
else
  data=$(mktemp -d)
  echo "demo: no gateway answers on $admin; starting one (data in $data, log $data/gateway.log)"
  # The mock insurers pay in transfers as a caisse does (grouped, late,
  # partial, reversed): fixtures/scenarios/payments.yaml.
  bin/gateway serve --dev --mock-insurers --mock-scenario "${SCENARIO:-payments}" --data-dir "$data" > "$data/gateway.log" 2>&1 &
  gw_pid=$!
  for _ in $(seq 100); do ready && break; sleep 0.2; done
  ready || { echo "demo: the gateway did not become ready, see $data/gateway.log" >&2; exit 1; }
fi
FSEGATE_PIN=${FSEGATE_PIN:-1234} bin/workstation demo --dev --virtual-card "${PROFILE:-doctor}" --count "${COUNT:-20}"
