#!/usr/bin/env bash
# The daemon's heap through a burst of fork children and after it, for
# one build or several side by side (interleaved: A B A B ...).
#
#   sudo bench/fork_memory.sh [--fds N] [--kids N] [--rounds N] [--loss]
#                             [LABEL=BUILDDIR ...]        (default: head=build)
#
# Each run starts BUILDDIR's fdwatchd on a private socket, reads its heap
# (status memory.heap_bytes, and memory.origins when the build has it),
# then starts this checkout's `fdwatch-bench-hold forks FDS KIDS` (a parent opening
# /dev/null FDS times, then forking KIDS children that only wait): the
# heap once the daemon tracks them all ("peak": FDS * (KIDS + 1) fds);
# then kills them, and reads the heap 5 s after the daemon has dropped
# them ("after"). --loss stops the daemon (SIGSTOP) for 0.5 s while the
# children are forked, with a 4 MiB ring: records are lost, and every
# child's table is re-read from /proc. Prints one line per run and the
# median of each build.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

fds=5000 kids=400 rounds=3 loss=0 builds=()
while (($#)); do
	case $1 in
	--fds) fds=${2:?}; shift ;;
	--kids) kids=${2:?}; shift ;;
	--rounds) rounds=${2:?}; shift ;;
	--loss) loss=1 ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*=*) builds+=("$1") ;;
	*) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
	shift
done
((${#builds[@]})) || builds=(head=build)
# the workload is this checkout's (older builds' lack the forks mode)
hold=$root/build/bench/fdwatch-bench-hold
[[ -x $hold ]] || fdw_die "build first (meson compile -C build): $hold"
((EUID == 0)) || fdw_die "run as root: fdwatchd loads eBPF programs"
for b in "${builds[@]}"; do
	d=${b#*=}
	for x in "$d/daemon/fdwatchd" "$d/cli/fdwatch"; do
		[[ -x $x ]] || fdw_die "build first (meson compile -C $d): $x"
	done
done

tmp=$(mktemp -d /tmp/fdw-forkmem.XXXXXX)
dpid="" hpid=""
cleanup() {
	[[ -n $hpid ]] && kill -- "-$hpid" 2>/dev/null || true
	[[ -n $dpid ]] && kill -CONT "$dpid" 2>/dev/null && kill "$dpid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fdw_mount_tracefs || true

# status figures of the daemon on socket $1: heap MiB, origins (- when the
# build has none), fds tracked, events lost
figures() {
	"$2/cli/fdwatch" --socket "$1" status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
m = d.get("memory", {})
print("%.1f %s %d %d" % (m["heap_bytes"] / 1048576, m.get("origins", "-"), d["fds"],
                         d["events_lost"]))'
}

run() { # LABEL BUILDDIR ROUND
	local label=$1 bd=$2 s=$tmp/s.sock i base peak after want
	rm -rf "$tmp/state"
	local ring=()
	((loss)) && ring=(--ringbuf-mb 4)
	"$bd/daemon/fdwatchd" --socket "$s" --state-dir "$tmp/state" --lock-file "$tmp/lock" \
		--audit-interval 0 "${ring[@]}" >>"$tmp/d.log" 2>&1 &
	dpid=$!
	for ((i = 0; i < 300; i++)); do
		"$bd/cli/fdwatch" --socket "$s" status >/dev/null 2>&1 && break
		sleep 0.1
	done
	base=$(figures "$s" "$bd")
	setsid "$hold" forks "$fds" "$kids" >"$tmp/hold.out" 2>&1 &
	hpid=$!
	if ((loss)); then
		sleep 0.2
		kill -STOP "$dpid"
		sleep 0.5
		kill -CONT "$dpid"
	fi
	for ((i = 0; i < 600; i++)); do
		grep -q ready "$tmp/hold.out" 2>/dev/null && break
		sleep 0.1
	done
	# every fd of the parent and its children tracked
	for ((i = 0; i < 600; i++)); do
		peak=$(figures "$s" "$bd")
		read -r _ _ f _ <<<"$peak"
		((f >= (kids + 1) * fds)) && break
		sleep 0.1
	done
	sleep 2
	peak=$(figures "$s" "$bd")
	kill -- "-$hpid" 2>/dev/null || true
	wait "$hpid" 2>/dev/null || true
	hpid=
	for ((i = 0; i < 300; i++)); do
		after=$(figures "$s" "$bd")
		read -r _ _ f _ <<<"$after"
		((f < fds)) && break
		sleep 0.1
	done
	sleep 5
	after=$(figures "$s" "$bd")
	kill "$dpid"
	wait "$dpid" 2>/dev/null || true
	dpid=
	read -r bh bo _ _ <<<"$base"
	read -r ph po pf pl <<<"$peak"
	read -r ah ao _ _ <<<"$after"
	printf '%-6s round %d: heap MiB start %6.1f  peak %6.1f (%d fds, origins %s, lost %d)  after %6.1f (origins %s)\n' \
		"$label" "$3" "$bh" "$ph" "$pf" "$po" "$pl" "$ah" "$ao"
	echo "$label $bh $ph $ah" >>"$tmp/all"
}

echo "fdwatch fork memory: a parent of $fds fds forks $kids idle children$( ((loss)) && echo ', records lost'); $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for ((r = 1; r <= rounds; r++)); do
	for b in "${builds[@]}"; do
		run "${b%%=*}" "${b#*=}" "$r"
	done
done
python3 - "$tmp/all" <<'EOF'
import statistics, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, *v = line.split()
    runs[label].append([float(x) for x in v])
for label, rs in runs.items():
    med = [statistics.median(r[i] for r in rs) for i in range(3)]
    print(f"{label}: medians of {len(rs)}: heap MiB start {med[0]:.1f}, peak {med[1]:.1f} "
          f"(+{med[1] - med[0]:.1f}), after {med[2]:.1f} (+{med[2] - med[0]:.1f})")
EOF
