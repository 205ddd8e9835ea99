#!/usr/bin/env bash
# Installs Debian packages, only those missing; apt-get update runs only when something is
# missing. With no arguments: what ursock builds and tests with. Needs root (or sudo).
set -euo pipefail
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(make gcc g++ pkg-config liburing-dev libcmocka-dev libjemalloc-dev
	libbenchmark-dev libssl-dev node-llhttp wrk clang curl)
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
