#!/usr/bin/env bash
# make test with a pcscd that fsegate did not start, as on a Debian machine
# where pcscd runs by socket activation: start one the way the system does
# (its own configuration, /run/pcscd) unless one runs, run the card tests
# through scripts/with-pcscd.sh, and check that they pass and that this
# pcscd still runs after them, untouched. Stops it if it started it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
pidof_run() { tr -d '\0\n' < /run/pcscd/pcscd.pid 2>/dev/null; }   # pcscd writes a NUL after it
alive() { [ -f /run/pcscd/pcscd.pid ] && kill -0 "$(pidof_run)" 2>/dev/null; }
ours=0
if ! alive; then
  mkdir -p /run/pcscd
  rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
  pcscd --foreground > /tmp/fsegate-foreign-pcscd.log 2>&1 &
  for _ in $(seq 50); do alive && break; sleep 0.1; done
  alive || { echo "foreign pcscd: did not start" >&2; cat /tmp/fsegate-foreign-pcscd.log >&2; exit 1; }
  ours=1
fi
pid=$(pidof_run)
echo "foreign pcscd: pid $pid runs; the card tests run beside it"
"$here/with-pcscd.sh" go test -count=1 ./signature/card/
rc=$?
if ! alive || [ "$(pidof_run)" != "$pid" ]; then
  echo "foreign pcscd: pid $pid does not run any more after the tests" >&2
  rc=1
else
  echo "foreign pcscd: pid $pid still runs"
fi
if [ $ours -eq 1 ]; then
  kill "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
exit $rc
