#!/usr/bin/env bash
# fdwatchd at scale: memory per tracked fd and per process, query times,
# capture during queries, and start-up with everything already open.
#
#   sudo bench/scale.sh [--procs N] [--fds N] [--idle N] [--runs N]
#                       [--builddir DIR] [--skip-startup]
#
# With daemons on a private socket (no other fdwatchd needed):
#   1. memory: the heap in use (status memory.heap_bytes) of a daemon started with --procs holders of
#      --fds fds each already there (all on one file, an open file
#      description each; then dups of one fd, one description for all; then
#      as pipes: each pipe has its own target) over that of one started on the
#      host without them, divided by the fds it tracks more; the same with
#      --idle processes that hold only their 3 inherited fds, per process.
#      Budget (issue "Performance"): <= 64 bytes per fd with provenance.
#   2. queries, with the --idle processes and one --fds holder present:
#      `fdwatch ps` and `fdwatch fds PID`, with --json and as columns,
#      median of --runs.
#   3. capture during queries: an open+close loop on one core while those
#      queries run back to back; events lost must stay 0 (and the
#      daemon's worst loop lag since start).
#   4. start-up (unless --skip-startup): a new daemon with the holders and
#      the idle processes already there, to its socket answering, beside
#      `lsfd` listing the same host.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

procs=50 fds=19900 idle=10000 runs=5 builddir=build startup=1
while (($#)); do
	case $1 in
	--procs) procs=${2:?}; shift ;;
	--fds) fds=${2:?}; shift ;;
	--idle) idle=${2:?}; shift ;;
	--runs) runs=${2:?}; shift ;;
	--builddir) builddir=${2:?}; shift ;;
	--skip-startup) startup=0 ;;
	-h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
	shift
done
((EUID == 0)) || fdw_die "run as root: fdwatchd loads eBPF programs"
hold=$builddir/bench/fdwatch-bench-hold
loop=$builddir/bench/fdwatch-bench-loop
daemon=$builddir/daemon/fdwatchd
cli=$builddir/cli/fdwatch
for x in "$hold" "$loop" "$daemon" "$cli"; do
	[[ -x $x ]] || fdw_die "build first (meson compile -C $builddir): $x"
done

tmp=$(mktemp -d /tmp/fdw-scale.XXXXXX)
holders=()
dpid=
cleanup() {
	((${#holders[@]})) && kill "${holders[@]}" 2>/dev/null || true
	[[ -n $dpid ]] && kill "$dpid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fdw_mount_tracefs || true

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
sock=$tmp/s.sock
q() { "$cli" --socket "$sock" "$@"; }
status_field() { q status --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
# the daemon's heap in use, KiB (status memory.heap_bytes: the ring buffer's
# pages, which RSS counts as records flow, are not in it)
rss_kb() { status_field '["memory"]["heap_bytes"] // 1024'; }

start_daemon() {
	local s=$1 t0 i
	t0=$(now)
	"$daemon" --socket "$s" --state-dir "$tmp/state.$RANDOM" --lock-file "$tmp/lock.$RANDOM" \
		--audit-interval 0 --history 1000 >>"$tmp/d.log" 2>&1 &
	dpid=$!
	for ((i = 0; ; i++)); do
		"$cli" --socket "$s" status >/dev/null 2>&1 && break
		kill -0 "$dpid" 2>/dev/null || { cat "$tmp/d.log" >&2; fdw_die "fdwatchd died"; }
		((i < 6000)) || fdw_die "fdwatchd did not answer within 10 min"
		sleep 0.02
	done
	started_in=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
}

stop_daemon() {
	kill "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	dpid=
}

# hold MODE ARGS...: start one holder, wait until it says ready
hold_one() {
	local out=$tmp/h${#holders[@]}.out
	"$hold" "$@" >"$out" &
	holders+=($!)
	until grep -q ready "$out" 2>/dev/null; do
		kill -0 "${holders[-1]}" 2>/dev/null || fdw_die "holder died: $*"
		sleep 0.05
	done
}

drop_holders() {
	((${#holders[@]})) && kill "${holders[@]}" 2>/dev/null || true
	wait "${holders[@]}" 2>/dev/null || true
	holders=()
	sleep 1
	[[ -z $dpid ]] || q status >/dev/null # drain: the exits are applied
}

# mem_row NAME HOLDER-ARGS... (started --procs times, before a fresh
# daemon): the daemon's RSS over an empty host's, per fd it tracks more
base_rss= base_fds= base_procs=
mem_base() {
	start_daemon "$sock"
	q status >/dev/null
	base_rss=$(rss_kb "$dpid") base_fds=$(status_field '["fds"]')
	base_procs=$(status_field '["processes"]')
	stop_daemon
}

mem_row() {
	local name=$1 r f i
	shift
	for ((i = 0; i < procs; i++)); do hold_one "$@"; done
	start_daemon "$sock"
	q status >/dev/null
	r=$(rss_kb "$dpid") f=$(status_field '["fds"]')
	stop_daemon
	awk -v n="$name" -v r0="$base_rss" -v r1="$r" -v f0="$base_fds" -v f1="$f" 'BEGIN {
		printf "memory  %-28s %9d fds   heap +%8.1f MiB  %6.1f bytes/fd\n",
			n, f1 - f0, (r1 - r0) / 1024, (r1 - r0) * 1024 / (f1 - f0) }'
	drop_holders
}

echo "fdwatch scale: $(uname -r), $(nproc) CPUs, $(git -C "$root" describe --always --dirty 2>/dev/null), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "  $procs holders x $fds fds, $idle idle processes, medians of $runs"
mem_base
touch "$tmp/held"
mem_row "$procs x $fds, one file" same "$tmp/held" "$fds"
mem_row "$procs x $fds, dups of one fd" dups "$fds"
mem_row "$procs x $fds, pipes" pipes "$fds"
hold_one idle "$idle"
start_daemon "$sock"
echo "start   $idle idle processes: ready in $started_in s"
q status >/dev/null
r1=$(rss_kb "$dpid") p1=$(status_field '["processes"]')
awk -v r0="$base_rss" -v r1="$r1" -v p0="$base_procs" -v p1="$p1" 'BEGIN {
	printf "memory  %-28s %9d procs heap +%8.1f MiB  %6.0f bytes/process\n",
		"idle processes (3 fds each)", p1 - p0, (r1 - r0) / 1024, (r1 - r0) * 1024 / (p1 - p0) }'

hold_one same "$tmp/held" "$fds"
big=${holders[-1]}
# each query as --json (the daemon's answer as it came) and as columns
# (parsed and laid out: what a person waits for)
for what in "ps --json" "ps" "fds --json" "fds"; do
	: >"$tmp/q"
	for ((i = 0; i < runs; i++)); do
		t0=$(now)
		# shellcheck disable=SC2086 # $what is the command and its option
		if [[ $what == ps* ]]; then q $what >/dev/null; else q $what "$big" >/dev/null; fi
		awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.4f\n", b - a }' >>"$tmp/q"
	done
	procs_now=$(status_field '["processes"]')
	if [[ $what == ps* ]]; then
		printf 'query   fdwatch %-21s (%d processes): median %s s\n' "$what" "$procs_now" "$(median <"$tmp/q")"
	else
		printf 'query   fdwatch %-21s (%d fds): median %s s\n' "${what/fds/fds PID}" "$fds" "$(median <"$tmp/q")"
	fi
done

l0=$(status_field '["events_lost"]') e0=$(status_field '["events_received"]')
taskset -c 1 "$loop" openclose 3000000 >"$tmp/loop.out" &
lp=$!
nq=0
while kill -0 "$lp" 2>/dev/null; do
	q ps --json >/dev/null
	q fds "$big" --json >/dev/null
	nq=$((nq + 2))
done
wait "$lp"
l1=$(status_field '["events_lost"]') e1=$(status_field '["events_received"]')
echo "capture open+close loop ($(sed -n 's/.*ns_per_iter=\([0-9.]*\).*/\1/p' "$tmp/loop.out") ns/op) during $nq queries: $((e1 - e0)) events received, $((l1 - l0)) lost, loop lag max $(status_field '["loop_lag_max_ms"]') ms"
stop_daemon

if ((startup)); then
	drop_holders
	for ((i = 0; i < procs; i++)); do hold_one same "$tmp/held" "$fds"; done
	hold_one idle "$idle"
	total=$( (ls /proc/*/fd 2>/dev/null || true) | wc -l)
	start_daemon "$tmp/s2.sock"
	echo "start   $procs x $fds fds + $idle idle processes (host fds about $total): ready in $started_in s"
	stop_daemon
	t0=$(now)
	lsfd >/dev/null 2>&1 || true
	echo "start   lsfd listing the same host: $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }') s"
fi
