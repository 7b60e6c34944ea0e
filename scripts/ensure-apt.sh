#!/usr/bin/env bash
# Installs Debian packages when their command is missing: `ensure-apt.sh COMMAND:PACKAGE ...`.
# The project's apt dependencies (docker.io, docker-compose, debootstrap, chromium) are installed only by our
# scripts, and only when absent, so a machine that already has them is left untouched.
set -euo pipefail
missing=()
for pair in "$@"; do
  cmd="${pair%%:*}"
  pkg="${pair#*:}"
  if [ ! -x "$cmd" ] && ! command -v "$cmd" >/dev/null 2>&1; then missing+=("$pkg"); fi
done
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-apt: missing packages ${missing[*]}; run as root or install them: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "ensure-apt: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
