#!/usr/bin/env bash
# Start or stop the pcscd that fsegate's tests and demos use: one pcscd with
# 6 vpcd entries, i.e. 12 virtual readers "fsegate vpcd N 00 0S" listening
# for virtual cards on TCP $FSEGATE_VPCD_BASE.. (35963-35974 by default; vpcd
# binds all interfaces: test and development machines only).
#
#   scripts/pcscd.sh start   start pcscd unless one runs (then check it has our readers)
#   scripts/pcscd.sh stop    stop pcscd, only if this script started it
#   scripts/pcscd.sh status
#
# scripts/with-pcscd.sh (make test) runs it in a mount namespace of its own,
# where /run/pcscd is private: a system pcscd is then neither used nor
# stopped.
set -euo pipefail
state=${FSEGATE_PCSCD_DIR:-/tmp/fsegate-pcscd}
conf=$state/reader.conf.d
pidfile=$state/pcscd.pid
log=$state/pcscd.log
base=${FSEGATE_VPCD_BASE:-35963}
entries=6

# running: a pcscd answers on this mount namespace's /run/pcscd (its pid
# file names a live process and its socket is there).
running() {
  [ -S /run/pcscd/pcscd.comm ] && [ -f /run/pcscd/pcscd.pid ] && kill -0 "$(tr -d '\0\n' < /run/pcscd/pcscd.pid 2>/dev/null)" 2>/dev/null
}

case "${1:-}" in
start)
  mkdir -p "$conf" /run/pcscd
  if running; then
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "pcscd: already running (started by fsegate, pid $(cat "$pidfile"))"
    else
      echo "pcscd: a pcscd not started by fsegate is running; using it as is (tests need its readers named 'fsegate vpcd N 00 0S'; make test runs a pcscd of its own instead when it may make a mount namespace, as root)"
    fi
    exit 0
  fi
  rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid   # stale files of a killed pcscd
  : > "$conf/fsegate-vpcd"
  driver=$(ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so* 2>/dev/null | head -1)
  [ -n "$driver" ] || { echo "pcscd: vpcd driver not found: apt-get install vsmartcard-vpcd (make deps)" >&2; exit 1; }
  for i in $(seq 0 $((entries - 1))); do
    port=$((base + 2 * i))
    # One copy of the driver per entry: vpcd keeps its sockets in a static
    # array indexed by slot only, so two entries sharing one loaded driver
    # would overwrite each other's sockets. pcscd loads each path apart.
    cp "$driver" "$state/libifdvpcd-$i.so"
    printf 'FRIENDLYNAME "fsegate vpcd %d"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n\n' "$i" "$port" "$state/libifdvpcd-$i.so" "$port" >> "$conf/fsegate-vpcd"
  done
  pcscd --foreground --config "$conf" ${FSEGATE_PCSCD_APDU:+--apdu --debug} > "$log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 100); do
    [ -S /run/pcscd/pcscd.comm ] && break
    sleep 0.1
  done
  [ -S /run/pcscd/pcscd.comm ] || { echo "pcscd: did not start, see $log" >&2; cat "$log" >&2; exit 1; }
  echo "pcscd: started (pid $(cat "$pidfile")), $((2 * entries)) vpcd readers on ports $base-$((base + 2 * entries - 1)), log $log"
  ;;
stop)
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      echo "pcscd: stopped (pid $pid)"
    fi
    rm -f "$pidfile"
  fi
  ;;
status)
  if running; then echo "pcscd: running"; else echo "pcscd: not running"; exit 1; fi
  ;;
*)
  echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
