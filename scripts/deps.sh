#!/usr/bin/env bash
# Install the Debian packages given as arguments that are not installed yet.
# Quiet when everything is there; needs root (or sudo) otherwise.
set -euo pipefail
missing=()
# A package whose command is already there is not asked for again: Node.js
# installed from NodeSource carries its own npm, which Debian's npm package
# conflicts with.
command_of() { case "$1" in nodejs) echo node ;; npm) echo npm ;; *) echo "" ;; esac; }
for p in "$@"; do
  c=$(command_of "$p")
  if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /tmp/fsegate-apt.log 2>&1 || {
  echo "deps: apt-get install failed, see /tmp/fsegate-apt.log" >&2; tail -20 /tmp/fsegate-apt.log >&2; exit 1; }
echo "deps: installed ${missing[*]}"
