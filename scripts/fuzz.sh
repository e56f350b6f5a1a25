#!/usr/bin/env bash
# Run every fuzz target of the project for a bounded time each.
set -euo pipefail
t=${1:-20s}
cd "$(dirname "$0")/.."
n=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "== fuzz $pkg $f ($t)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" -fuzzminimizetime 1s "$pkg"
    n=$((n + 1))
  done
done
echo "fuzz: $n targets, no failure"
