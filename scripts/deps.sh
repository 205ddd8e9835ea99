#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages of the named lists (scripts/deps/<list>.list), only those
# missing; apt-get update runs only when something is missing. Needs root (or sudo).
#   scripts/deps.sh build              the library and the plain examples
#   scripts/deps.sh build examples     + the examples on llhttp and libuv (make run)
#   scripts/deps.sh build examples test    make test (the default with no argument)
#   scripts/deps.sh build examples bench   make bench
# `make`, `make examples`, `make check` and `make install` never call this: a packager's
# build needs a C compiler and liburing-dev, nothing is installed behind their back.
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/deps"
lists=("$@")
[ ${#lists[@]} -eq 0 ] && lists=(build examples test)
want=()
for l in "${lists[@]}"; do
	f="$dir/$l.list"
	if [ ! -f "$f" ]; then
		echo "deps: no list '$l' (have: $(cd "$dir" && ls *.list | sed 's/\.list$//' | tr '\n' ' '))" >&2
		exit 2
	fi
	# one package per line; '#' starts a comment
	while read -r p; do
		[ -n "$p" ] && want+=("$p")
	done < <(sed 's/#.*//; s/[[:space:]]*$//; s/^[[:space:]]*//' "$f")
done
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# the same package may be on two lists
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
