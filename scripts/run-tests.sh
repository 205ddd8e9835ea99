#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test binary (or those named in TEST_ONLY) under a timeout, once per backend (BACKENDS, default "uring
# epoll", each through URSOCK_BACKEND; the binaries that do not depend on the backend run
# once), and sums cmocka's per-case results into one line:
# "N passed, N failed, N skipped (io_uring: ..., epoll: ...)". A binary that crashes or
# times out counts one failure more than the cases it reported. Exit 0 only when nothing
# failed.
set -u
dir=${1:?usage: run-tests.sh BUILD_DIR/tests}
per_test_timeout=${TEST_TIMEOUT:-300}
backends=${BACKENDS:-uring epoll}
once=" test_addr test_backend test_install test_runner "
pass=0 fail=0 skip=0
per_backend=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for backend in $backends; do
bp=0 bf=0 bs=0
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	case "$once" in *" $name "*) [ "$backend" = "${backends%% *}" ] || continue ;; esac
	if [ -n "${TEST_ONLY:-}" ]; then
		case " $TEST_ONLY " in *" $name "*) ;; *) continue ;; esac
	fi
	start=$(date +%s.%N)
	# Into a file, not a pipe: a process the test left behind (it should not, and the
	# examples' servers die with their test) cannot keep the runner waiting for EOF.
	URSOCK_BACKEND=$backend timeout -k 10 "$per_test_timeout" "$t" >"$log" 2>&1
	rc=$?
	out=$(cat "$log")
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END{print s+0}')
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END{print s+0}')
	s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END{print s+0}')
	status=ok
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		status="exit $rc"
		[ "$rc" -eq 124 ] && status="timed out after ${per_test_timeout}s"
	elif [ "$f" -ne 0 ]; then
		status=FAILED
	fi
	printf '%-22s %-6s %3d passed %3d failed %3d skipped  %6.1fs  %s\n' "$name" "$backend" "$p" "$f" "$s" "$secs" "$status"
	if [ "$status" != ok ]; then
		printf '%s\n' "$out" | grep -vE '^\[ (RUN|       OK) ' | tail -40 | sed 's/^/    | /'
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	bp=$((bp + p)) bf=$((bf + f)) bs=$((bs + s))
done
per_backend="$per_backend${per_backend:+, }$backend: $bp/$bf/$bs"
done
echo "$pass passed, $fail failed, $skip skipped ($per_backend passed/failed/skipped)"
[ "$fail" -eq 0 ]
