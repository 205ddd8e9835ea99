#!/usr/bin/env bash
# What `make bench` needs beyond `make test`: nginx (the server users would pick instead)
# and gnuplot for the plots. Installs only what is missing.
set -euo pipefail
want=(nginx-light gnuplot-nox nghttp2-client)
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "bench-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a system nginx on port 80; the benchmark runs its own.
$sudo systemctl stop nginx 2>/dev/null || $sudo service nginx stop 2>/dev/null || true
