#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What `make bench` needs (scripts/deps/bench.list: nginx, gnuplot, Google Benchmark,
# jemalloc...), installed through deps.sh, only when missing.
set -euo pipefail
cd "$(dirname "$0")"
installed_nginx=0
dpkg-query -W -f='${Status}' nginx-light 2>/dev/null | grep -q 'install ok installed' || installed_nginx=1
./deps.sh build examples bench
# The package starts a system nginx on port 80; the benchmark runs its own.
if [ "$installed_nginx" = 1 ]; then
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo systemctl stop nginx 2>/dev/null || $sudo service nginx stop 2>/dev/null || true
fi
