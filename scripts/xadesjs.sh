#!/usr/bin/env bash
# Install the pinned xadesjs (tools/xadesjs/package-lock.json) with npm ci,
# unless node_modules already matches the lock file: offline once installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir="$here/../tools/xadesjs"
stamp="$dir/node_modules/.fsegate-lock.sha256"
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$dir/node_modules/xadesjs" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "xadesjs: npm not found: run 'make deps' (Debian packages nodejs, npm)" >&2; exit 1; }
echo "xadesjs: npm ci in tools/xadesjs"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "xadesjs: npm ci failed" >&2; exit 1; }
echo "$want" > "$stamp"
