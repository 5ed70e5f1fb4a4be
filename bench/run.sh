#!/usr/bin/env bash
# fdwatch capture overhead benchmark. In one run:
#   1. each loop (dup+close, getppid) untraced, --runs times; the median ns/op
#   2. fdwatchd started on a private socket
#   3. each loop again, traced, the same way; events received and lost read
#      from `fdwatch status --json` before and after each loop
#   4. the daemon stopped; a table of ratios against the untraced run
#
#   sudo bench/run.sh [--check] [--iterations N] [--runs N] [--cpu N]
#                     [--builddir DIR] [--no-build]
#
# --check exits 1 when a budget is exceeded: dup+close <= 1.75x untraced,
# getppid (not traced by fdwatch) <= 1.12x, no event lost, and at least as
# many events received as the traced loops made. Without it the verdicts are
# printed and the exit status is 0 whenever the benchmark itself ran.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

check=0
build=1
iterations=2000000
runs=5
cpu=1
builddir=build

usage() {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

while (($#)); do
	case $1 in
	--check) check=1 ;;
	--no-build) build=0 ;;
	--iterations) iterations=${2:?--iterations needs a value}; shift ;;
	--runs) runs=${2:?--runs needs a value}; shift ;;
	--cpu) cpu=${2:?--cpu needs a value}; shift ;;
	--builddir) builddir=${2:?--builddir needs a value}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
for v in "$iterations" "$runs" "$cpu"; do
	[[ $v =~ ^[0-9]+$ ]] || fdw_die "not a number: $v"
done
((iterations > 0 && runs > 0)) || fdw_die "--iterations and --runs must be positive"

((EUID == 0)) || fdw_die "run as root (e.g. sudo bench/run.sh): the traced half loads eBPF programs"

# An fdwatchd already running would trace the "untraced" loops too.
for comm in /proc/[0-9]*/comm; do
	# a zombie (exited, not yet reaped) traces nothing
	if [[ $(cat "$comm" 2>/dev/null) == fdwatchd ]] &&
		! grep -q '^State:[[:space:]]*Z' "${comm%/comm}/status" 2>/dev/null; then
		pid=${comm#/proc/}
		fdw_die "an fdwatchd is already running (pid ${pid%/comm}): stop it first, or the untraced numbers are traced"
	fi
done

tmp=$(mktemp -d /tmp/fdwatch-bench.XXXXXX)
daemon_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -TERM "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# Build (incrementally) what the benchmark runs.
if ((build)); then
	if [[ ! -f $builddir/meson-private/coredata.dat ]]; then
		fdw_meson_setup "$builddir" >&2
	fi
	meson compile -C "$builddir" >&2
fi
daemon=$builddir/daemon/fdwatchd
cli=$builddir/cli/fdwatch
loop=$builddir/bench/fdwatch-bench-loop
[[ -x $daemon ]] || fdw_die "$daemon was not built"
[[ -x $cli ]] || fdw_die "$cli was not built"
if [[ ! -x $loop ]]; then
	# bench/ not (yet) part of the meson build: compile the loop here.
	loop=$tmp/fdwatch-bench-loop
	"${CC:-cc}" -std=gnu11 -O2 -D_GNU_SOURCE -o "$loop" bench/loop.c
fi

pin=()
if ((cpu < $(nproc))) && taskset -c "$cpu" true 2>/dev/null; then
	pin=(taskset -c "$cpu")
else
	fdw_log "not pinning the loops to CPU $cpu (taskset missing or no such CPU)"
fi

# run_loop MODE: runs the loop --runs times; prints the median ns/op and the
# total of fd syscalls the runs made.
run_loop() {
	local mode=$1 i out ns fds=0 times=()
	for ((i = 0; i < runs; i++)); do
		out=$("${pin[@]}" "$loop" "$mode" "$iterations")
		ns=$(sed -n 's/.*ns_per_iter=\([0-9.]*\).*/\1/p' <<<"$out")
		[[ -n $ns ]] || fdw_die "unexpected output from $loop: $out"
		times+=("$ns")
		fds=$((fds + $(sed -n 's/.*fd_syscalls=\([0-9]*\).*/\1/p' <<<"$out")))
	done
	printf '%s\n' "${times[@]}" | sort -g | awk -v fds="$fds" '
		{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%.2f %d\n", m, fds }'
}

sock=$tmp/fdwatch.sock
# status_counts: prints "events_received events_lost".
status_counts() {
	"$cli" status --socket "$sock" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(int(d["events_received"]), int(d["events_lost"]))'
}

modes=(dupclose getppid)
declare -A untraced traced expected received lost budget
budget[dupclose]=1.75
budget[getppid]=1.12

fdw_log "untraced: ${#modes[@]} loops x $runs runs x $iterations iterations"
for mode in "${modes[@]}"; do
	read -r "untraced[$mode]" _ < <(run_loop "$mode")
done

fdw_mount_tracefs || true
mkdir -p "$tmp/state"
"$daemon" --socket "$sock" --state-dir "$tmp/state" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for ((i = 0; ; i++)); do
	if ! kill -0 "$daemon_pid" 2>/dev/null; then
		cat "$tmp/daemon.log" >&2
		fdw_die "fdwatchd exited during start-up"
	fi
	if "$cli" status --socket "$sock" >/dev/null 2>&1; then
		break
	fi
	((i < 600)) || { cat "$tmp/daemon.log" >&2; fdw_die "fdwatchd did not answer within 60 s"; }
	sleep 0.1
done

fdw_log "traced: the same loops with fdwatchd (pid $daemon_pid) running"
for mode in "${modes[@]}"; do
	read -r r0 l0 < <(status_counts)
	read -r "traced[$mode]" "expected[$mode]" < <(run_loop "$mode")
	read -r r1 l1 < <(status_counts)
	received[$mode]=$((r1 - r0))
	lost[$mode]=$((l1 - l0))
done

if ! kill -0 "$daemon_pid" 2>/dev/null; then
	cat "$tmp/daemon.log" >&2
	fdw_die "fdwatchd died during the traced runs"
fi
kill -TERM "$daemon_pid"
rc=0
for ((i = 0; i < 100; i++)); do
	kill -0 "$daemon_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$daemon_pid" 2>/dev/null; then
	kill -KILL "$daemon_pid"
	fdw_log "fdwatchd did not exit within 10 s of SIGTERM"
	rc=1
fi
wait "$daemon_pid" || { drc=$?; fdw_log "fdwatchd exited with status $drc"; rc=1; }
daemon_pid=

echo "fdwatch bench: $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
echo "  $runs runs x $iterations iterations per loop, median, loops pinned with: ${pin[*]:-(none)}"
echo "  $(git -C "$root" describe --always --dirty 2>/dev/null || echo 'no git'), $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-9s %10s %10s %7s %7s %11s %11s %6s  %s\n' \
	loop 'untraced' 'traced' ratio budget 'events exp' 'events recv' lost verdict
printf '%-9s %10s %10s %7s %7s %11s %11s %6s\n' '' 'ns/op' 'ns/op' '' '' '' '' ''
failed=0
for mode in "${modes[@]}"; do
	ratio=$(awk -v t="${traced[$mode]}" -v u="${untraced[$mode]}" 'BEGIN { printf "%.3f", t / u }')
	verdict=ok
	if awk -v r="$ratio" -v b="${budget[$mode]}" 'BEGIN { exit !(r > b) }'; then
		verdict="over budget"
	fi
	if ((lost[$mode] != 0)); then
		verdict="$verdict, events lost"
	fi
	if ((received[$mode] < expected[$mode])); then
		verdict="$verdict, events missing"
	fi
	verdict=${verdict#ok, }
	[[ $verdict == ok ]] || failed=1
	printf '%-9s %10s %10s %7s %7s %11s %11s %6s  %s\n' "$mode" "${untraced[$mode]}" \
		"${traced[$mode]}" "$ratio" "${budget[$mode]}" "${expected[$mode]}" \
		"${received[$mode]}" "${lost[$mode]}" "$verdict"
done
echo "(events recv counts every event on the host while the loop ran; events exp only the loop's own)"

if ((check && failed)); then
	echo "budget check: FAILED"
	exit 1
fi
((check)) && echo "budget check: passed"
exit "$rc"
