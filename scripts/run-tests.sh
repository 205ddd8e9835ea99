#!/usr/bin/env bash
# Runs every test binary under a timeout and sums cmocka's per-case results into one line:
# "N passed, N failed, N skipped". A binary that crashes or times out counts one failure
# more than the cases it reported. Exit 0 only when nothing failed.
set -u
dir=${1:?usage: run-tests.sh BUILD_DIR/tests}
per_test_timeout=${TEST_TIMEOUT:-300}
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	start=$(date +%s.%N)
	# Into a file, not a pipe: a process the test left behind (it should not, and the
	# examples' servers die with their test) cannot keep the runner waiting for EOF.
	timeout -k 10 "$per_test_timeout" "$t" >"$log" 2>&1
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
	printf '%-28s %3d passed %3d failed %3d skipped  %6.1fs  %s\n' "$name" "$p" "$f" "$s" "$secs" "$status"
	if [ "$status" != ok ]; then
		printf '%s\n' "$out" | grep -vE '^\[ (RUN|       OK) ' | tail -40 | sed 's/^/    | /'
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
