#!/usr/bin/env bash
# Run a command with fsegate's own pcscd (12 vpcd readers) up, and stop it
# after.
#
# Where it may (root, util-linux's unshare), it runs the command in a mount
# namespace of its own where /run/pcscd is a private tmpfs: the pcscd it
# starts there is the only one the command sees, on vpcd ports
# $FSEGATE_VPCD_BASE.. (35981-35992, clear of a system vpcd's 35963), and a
# pcscd of the system (Debian starts one by socket activation once pcscd is
# installed) is neither used nor stopped. Otherwise: the pcscd of
# scripts/pcscd.sh, stopped after only if this script started it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ -z "${FSEGATE_PCSCD_NS:-}" ] && [ -z "${FSEGATE_PCSCD_SHARED:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
  exec unshare --mount --propagation private env FSEGATE_PCSCD_NS=1 "$0" "$@"
fi

if [ -n "${FSEGATE_PCSCD_NS:-}" ]; then
  mkdir -p /run/pcscd
  mount -t tmpfs -o mode=0755 tmpfs /run/pcscd || { echo "with-pcscd: cannot mount a private /run/pcscd" >&2; exit 1; }
  FSEGATE_PCSCD_DIR=$(mktemp -d /tmp/fsegate-pcscd-ns.XXXXXX)
  export FSEGATE_PCSCD_DIR
  export FSEGATE_VPCD_BASE=${FSEGATE_VPCD_BASE:-35981}
  "$here/pcscd.sh" start || exit 1
  trap '"$here/pcscd.sh" stop; rm -rf "$FSEGATE_PCSCD_DIR"' EXIT
  "$@"
  exit $?
fi

started=0
if ! "$here/pcscd.sh" status >/dev/null 2>&1; then started=1; fi
"$here/pcscd.sh" start || exit 1
"$@"
rc=$?
[ $started -eq 1 ] && "$here/pcscd.sh" stop
exit $rc
