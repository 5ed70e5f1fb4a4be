#!/usr/bin/env bash
# bench-hook-hold: `fdwatch-bench-hook-cost hold TP...` (bench/run.sh's hooks
# arm) attaches one empty program per tracepoint named, says so, holds them
# until SIGTERM, exits 0 and leaves none behind; an unknown tracepoint fails.
set -euo pipefail
hooker=${1:?usage: hook_hold_test.sh FDWATCH-BENCH-HOOK-COST}
out=$(mktemp)
trap 'rm -f "$out"; [[ -z ${pid:-} ]] || kill "$pid" 2>/dev/null || true' EXIT

attached() {
	bpftool perf show --json | python3 -c '
import json, sys
print(sum(1 for x in json.load(sys.stdin)
          if x.get("pid") == int(sys.argv[1]) and x.get("fd_type") == "tracepoint"))' "$1"
}

"$hooker" hold sys_exit_dup sys_exit_close >"$out" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do
	grep -q '^attached' "$out" && break
	kill -0 "$pid" 2>/dev/null || { cat "$out"; echo "FAIL: exited before attaching"; exit 1; }
	sleep 0.1
done
grep -qx 'attached 2' "$out" || { cat "$out"; echo "FAIL: no 'attached 2'"; exit 1; }
n=$(attached "$pid")
[[ $n == 2 ]] || { echo "FAIL: bpftool shows $n tracepoints of pid $pid, expected 2"; exit 1; }
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc == 0 ]] || { echo "FAIL: exit status $rc after SIGTERM"; exit 1; }
n=$(attached "$pid")
[[ $n == 0 ]] || { echo "FAIL: $n tracepoints left after exit"; exit 1; }
pid=
if "$hooker" hold sys_exit_no_such_syscall >"$out" 2>&1; then
	echo "FAIL: an unknown tracepoint was accepted"
	exit 1
fi
grep -q 'sys_exit_no_such_syscall' "$out" || { cat "$out"; echo "FAIL: no error naming it"; exit 1; }
echo "ok: 2 held, released on SIGTERM, unknown refused"
