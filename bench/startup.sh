#!/usr/bin/env bash
# Start-up time with many fds already open: fdwatchd from start to its
# socket answering, beside `lsfd` listing the same host.
#
#   sudo bench/startup.sh [--procs N] [--fds N] [--mode same|pipes]
#                         [--idle N] [--builddir DIR] [--runs N]
#
# Starts N holder processes (default 50) each holding --fds fds (default
# 19900: the hard limit here is 20,000), all on one file (--mode same: the
# worst case for grouping open file descriptions) or as pipes, and --idle
# processes holding only their 3 inherited fds (default 0; the issue's
# full scale is --idle 10000); then, --runs
# times (default 3) each: fdwatchd to first answered `fdwatch status`, and
# `lsfd` to completion. Prints each time and the medians.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

procs=50 fds=19900 mode=same builddir=build runs=3 idle=0
while (($#)); do
	case $1 in
	--procs) procs=${2:?}; shift ;;
	--fds) fds=${2:?}; shift ;;
	--mode) mode=${2:?}; shift ;;
	--idle) idle=${2:?}; shift ;;
	--builddir) builddir=${2:?}; shift ;;
	--runs) runs=${2:?}; shift ;;
	*) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
	shift
done
((EUID == 0)) || fdw_die "run as root: fdwatchd loads eBPF programs"
hold=$builddir/bench/fdwatch-bench-hold
[[ -x $hold && -x $builddir/daemon/fdwatchd ]] || fdw_die "build first (meson compile -C $builddir)"

tmp=$(mktemp -d /tmp/fdw-startup.XXXXXX)
pids=()
cleanup() {
	((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
touch "$tmp/held"
for ((i = 0; i < procs; i++)); do
	if [[ $mode == same ]]; then
		"$hold" same "$tmp/held" "$fds" >"$tmp/h$i.out" &
	else
		"$hold" pipes "$fds" >"$tmp/h$i.out" &
	fi
	pids+=($!)
done
nwait=$procs
if ((idle)); then
	"$hold" idle "$idle" >"$tmp/h$procs.out" &
	pids+=($!)
	nwait=$((procs + 1))
fi
for ((i = 0; i < nwait; i++)); do
	until grep -q ready "$tmp/h$i.out" 2>/dev/null; do
		kill -0 "${pids[$i]}" 2>/dev/null || fdw_die "holder $i died"
		sleep 0.05
	done
done
total=$( (ls /proc/*/fd 2>/dev/null || true) | wc -l)
nproc_host=$(ls -d /proc/[0-9]* | wc -l)
echo "holding: $procs processes x $fds fds ($mode), $idle idle processes; host: about $total fds, $nproc_host processes"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$tmp/fdw" ; : >"$tmp/lsfd"
for ((r = 0; r < runs; r++)); do
	sock=$tmp/s$r.sock
	t0=$(now)
	"$builddir/daemon/fdwatchd" --socket "$sock" --state-dir "$tmp/state$r" \
		--lock-file "$tmp/lock$r" >"$tmp/d$r.log" 2>&1 &
	d=$!
	until "$builddir/cli/fdwatch" --socket "$sock" status >/dev/null 2>&1; do
		kill -0 "$d" 2>/dev/null || { cat "$tmp/d$r.log"; fdw_die "fdwatchd died"; }
		sleep 0.02
	done
	t1=$(now)
	kill "$d"; wait "$d" || true
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$tmp/fdw"
	t0=$(now)
	lsfd >/dev/null
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' >>"$tmp/lsfd"
	echo "run $((r + 1)): fdwatchd ready $(tail -1 "$tmp/fdw") s, lsfd $(tail -1 "$tmp/lsfd") s" \
		"($(grep -o 'ready: [0-9]* processes, [0-9]* fds' "$tmp/d$r.log" || echo 'no ready line'))"
done
echo "median: fdwatchd ready $(median <"$tmp/fdw") s, lsfd $(median <"$tmp/lsfd") s"
