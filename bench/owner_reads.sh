#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Does an unprivileged client's request hold the daemon's loop while it
# reads process owners from /proc? Two builds, interleaved (A B A B),
# beside N idle processes: each run starts that build's fdwatchd, then
# every 5.5 s (past the owners' 5 s TTL) runs uid 65534's `fdwatch status
# --json` and `fdwatch ps --json`, and 30 ms into each a root `fdwatch
# status`, whose latency says whether the loop was held meanwhile; at the
# end, the daemon's loop_lag_max_ms and dropped.owner_prefetches.
#
#   sudo bench/owner_reads.sh BUILD_A BUILD_B [N]     (N: 5000 by default)
#
# Run as root with no other fdwatchd; under `flock /tmp/fdw-heavy.lock`
# where other work shares the machine.
set -u
A=${1:?build directory A}
B=${2:?build directory B}
N=${3:-5000}

python3 - "$N" <<'PY' >/dev/null &
import os, signal, sys, time
for _ in range(int(sys.argv[1])):
    if os.fork() == 0:
        signal.pause()
        os._exit(0)
time.sleep(3600)
PY
HP=$!
cleanup() {
	pkill -9 -P "$HP" 2>/dev/null
	kill -9 "$HP" 2>/dev/null
	wait "$HP" 2>/dev/null
}
trap cleanup EXIT
sleep 3

run() {
	local build=$1 tag=$2 d dp
	d=$(mktemp -d /tmp/fdw-owners.XXXXXX)
	chmod 755 "$d"
	"$build/daemon/fdwatchd" --config /dev/null --socket "$d/s.sock" --state-dir "$d/st" \
		--lock-file "$d/lock" >"$d/log" 2>&1 &
	dp=$!
	for _ in $(seq 300); do
		"$build/cli/fdwatch" --socket "$d/s.sock" status >/dev/null 2>&1 && break
		sleep 0.2
	done
	chmod 666 "$d/s.sock"
	sleep 2
	for round in 1 2 3; do
		sleep 5.5
		for what in "status --json" "ps --json"; do
			local t0 t1 r0 r1 np
			t0=$(date +%s.%N)
			# shellcheck disable=SC2086
			setpriv --reuid=65534 --regid=65534 --clear-groups \
				"$build/cli/fdwatch" --socket "$d/s.sock" $what >/dev/null &
			np=$!
			sleep 0.03
			r0=$(date +%s.%N)
			"$build/cli/fdwatch" --socket "$d/s.sock" status >/dev/null
			r1=$(date +%s.%N)
			wait "$np"
			t1=$(date +%s.%N)
			printf '%-8s round %d  nobody %-14s %6.3f s   root status meanwhile %6.3f s\n' \
				"$tag" "$round" "$what" "$(echo "$t1 - $t0" | bc)" "$(echo "$r1 - $r0" | bc)"
		done
	done
	"$build/cli/fdwatch" --socket "$d/s.sock" status --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
print('$tag', 'processes', d.get('processes'), 'loop_lag_max_ms', d.get('loop_lag_max_ms'),
      'owner_prefetches', d['dropped'].get('owner_prefetches'))"
	kill "$dp"
	wait "$dp"
	rm -rf "$d"
}

echo "fdwatch owner reads: $(uname -r), $(nproc) CPUs, $N idle processes"
run "$A" A-1
run "$B" B-1
run "$A" A-2
run "$B" B-2
