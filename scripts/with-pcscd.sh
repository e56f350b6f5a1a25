#!/usr/bin/env bash
# Run a command with fsegate's pcscd (12 vpcd readers) up; stop pcscd after
# only if this script started it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
started=0
if ! pgrep -x pcscd >/dev/null 2>&1; then started=1; fi
"$here/pcscd.sh" start || exit 1
"$@"
rc=$?
[ $started -eq 1 ] && "$here/pcscd.sh" stop
exit $rc
