#!/usr/bin/env bash
# fdwatch capture overhead benchmark, interleaved.
#
#   sudo bench/run.sh [--check] [--pairs N] [--iterations N] [--cpu N]
#                     [--modes "dupclose getppid ..."] [--deep] [--peers] [--nginx]
#                     [--nginx-seconds S] [--builddir DIR] [--no-build] [--no-floor]
#
# Each loop of bench/loop.c runs alternately untraced and traced by fdwatchd
# (A B, then B A, ... --pairs times; the daemon is started before and stopped
# after each traced half, so "untraced" has no probe attached at all). The
# ratio of a pair is traced/untraced of runs seconds apart, so a VM whose
# speed drifts over minutes moves both sides of it; the table gives the median
# of the pairwise ratios with their min-max, the median ns/op of each side,
# the events the loops made, the events the daemon received and lost while
# they ran, and the daemon's CPU time per event (utime+stime from
# /proc/PID/stat over events received, i.e. ms per million events).
#
# The `hooks` arm (on unless --no-floor) is the floor of fdwatch's design on
# this machine: empty BPF programs (fdwatch-bench-hook-cost hold) on the very
# syscall tracepoints a running fdwatchd attaches (read with `bpftool perf
# show` from a daemon started once before the rounds), nothing recorded.
# Its column is hooks/untraced; `over hooks` is fdwatch/hooks of the same
# round: what fdwatch's programs and daemon add to the cost of having the
# tracepoints at all (which sets every task on the slow syscall path, and
# whose size depends on the CPU's mitigations: bench/RESULTS.md).
#
# The forkexit row (fork, the child exits, waitpid) runs 1/100 of the
# iterations: it is the fork-heavy sustained-capture row (events/s and the
# daemon's CPU per event), reported, with no ratio budget.
#
# --deep adds an arm with fdwatchd --races-io: the read/write/send/recv
# use-after-close probes attached, as deep mode (fd-reuse) attaches them.
# --peers adds two arms on the same loops: the same syscalls counted by a
# bpftrace one-liner (tracepoint exits, a per-probe count) and `strace -f -c`
# (at 1/20 of the iterations: ptrace stops every syscall).
# --nginx adds rows for Debian's nginx (one worker) serving a small file to
# wrk on loopback, with short connections and with keep-alive: requests/s
# ratio (traced/untraced, higher is better) and the p99 latency of each side.
# Two more rows run the same with nginx and wrk pinned together to the
# loops' CPU and the daemon on the others (-1cpu): the row shows what the
# probes cost nginx's requests apart from the daemon's CPU and wakeups
# competing with nginx and wrk for the same CPUs.
#
# Budgets (issue "Performance"): dupclose <= 1.45x, openclose <= 1.25x,
# getppid <= 1.12x, piperw <= 1.10x, nginx >= 0.99x; every row: no event lost
# and at least as many events received as the loops made. --check exits 1
# when a budget is missed; without it the verdicts are printed and the exit
# status is 0 whenever the benchmark itself ran.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

check=0
build=1
iterations=1000000
pairs=5
cpu=1
builddir=build
modes=(dupclose openclose socketclose pipeclose forkexit getppid piperw)
peers=0
deep=0
floor=1
nginx_rows=0
nginx_modes=()
nginx_seconds=5

usage() {
	sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
}

while (($#)); do
	case $1 in
	--check) check=1 ;;
	--no-build) build=0 ;;
	--no-floor) floor=0 ;;
	--iterations) iterations=${2:?--iterations needs a value}; shift ;;
	--pairs | --runs) pairs=${2:?--pairs needs a value}; shift ;;
	--cpu) cpu=${2:?--cpu needs a value}; shift ;;
	--builddir) builddir=${2:?--builddir needs a value}; shift ;;
	--modes) read -r -a modes <<<"${2:?--modes needs a value}"; shift ;;
	--peers) peers=1 ;;
	--deep) deep=1 ;;
	--nginx) nginx_rows=1; nginx_modes=(close keepalive close-1cpu keepalive-1cpu) ;;
	--nginx-seconds) nginx_seconds=${2:?--nginx-seconds needs a value}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
for v in "$iterations" "$pairs" "$cpu" "$nginx_seconds"; do
	[[ $v =~ ^[0-9]+$ ]] || fdw_die "not a number: $v"
done
((iterations > 0 && pairs > 0 && nginx_seconds > 0)) ||
	fdw_die "--iterations, --pairs and --nginx-seconds must be positive"

((EUID == 0)) || fdw_die "run as root (e.g. sudo bench/run.sh): the traced half loads eBPF programs"

# An fdwatchd already running would trace the "untraced" loops too.
# (FDWATCH_BENCH_SMOKE=1 skips this check to try the script itself on a busy
# machine; its figures then mean nothing.)
[[ ${FDWATCH_BENCH_SMOKE:-0} == 1 ]] || for comm in /proc/[0-9]*/comm; do
	# a zombie (exited, not yet reaped) traces nothing
	if [[ $(cat "$comm" 2>/dev/null) == fdwatchd ]] &&
		! grep -q '^State:[[:space:]]*Z' "${comm%/comm}/status" 2>/dev/null; then
		pid=${comm#/proc/}
		fdw_die "an fdwatchd is already running (pid ${pid%/comm}): stop it first, or the untraced numbers are traced"
	fi
done

tmp=$(mktemp -d /tmp/fdwatch-bench.XXXXXX)
daemon_pid=
nginx_pid=
tracer_pid=
hooks_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local p
	for p in "$tracer_pid" "$daemon_pid" "$nginx_pid" "$hooks_pid"; do
		if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

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
[[ -x $loop ]] || fdw_die "$loop was not built"
for mode in "${modes[@]}"; do
	"$loop" "$mode" 1 >/dev/null || fdw_die "unknown loop: $mode"
done
hooker=$builddir/bench/fdwatch-bench-hook-cost
if ((floor)); then
	[[ -x $hooker ]] || fdw_die "$hooker was not built (--no-floor runs without the hooks arm)"
	command -v bpftool >/dev/null || fdw_die "the hooks arm needs bpftool (scripts/install-deps.sh)"
fi
if ((peers)); then
	command -v bpftrace >/dev/null || fdw_die "--peers needs bpftrace (scripts/install-deps.sh)"
	command -v strace >/dev/null || fdw_die "--peers needs strace (scripts/install-deps.sh)"
fi
nginx=
if ((nginx_rows)); then
	nginx=$(command -v nginx || echo /usr/sbin/nginx)
	[[ -x $nginx ]] || fdw_die "--nginx needs nginx (scripts/install-deps.sh)"
	command -v wrk >/dev/null || fdw_die "--nginx needs wrk (scripts/install-deps.sh)"
fi

pin=()
if ((cpu < $(nproc))) && taskset -c "$cpu" true 2>/dev/null; then
	pin=(taskset -c "$cpu")
else
	fdw_log "not pinning the loops to CPU $cpu (taskset missing or no such CPU)"
fi
# the -1cpu nginx rows pin nginx and wrk to that CPU and the daemon to another
if ((nginx_rows)) && { ((${#pin[@]} == 0)) || (($(nproc) < 2)); }; then
	fdw_log "no -1cpu nginx rows: they need taskset and two CPUs"
	nginx_modes=(close keepalive)
fi
clk_tck=$(getconf CLK_TCK)
fdw_mount_tracefs || true

sock=$tmp/fdwatch.sock
# start_daemon [extra fdwatchd options...]
start_daemon() {
	local i
	rm -rf "$tmp/state"
	mkdir -p "$tmp/state"
	"$daemon" --socket "$sock" --state-dir "$tmp/state" --lock-file "$tmp/fdwatchd.lock" \
		--config /dev/null "$@" >>"$tmp/daemon.log" 2>&1 &
	daemon_pid=$!
	for ((i = 0; ; i++)); do
		if ! kill -0 "$daemon_pid" 2>/dev/null; then
			cat "$tmp/daemon.log" >&2
			fdw_die "fdwatchd exited during start-up"
		fi
		"$cli" status --socket "$sock" >/dev/null 2>&1 && break
		((i < 600)) || { cat "$tmp/daemon.log" >&2; fdw_die "fdwatchd did not answer within 60 s"; }
		sleep 0.1
	done
}

stop_daemon() {
	local i
	kill -0 "$daemon_pid" 2>/dev/null || {
		cat "$tmp/daemon.log" >&2
		fdw_die "fdwatchd died during the traced runs"
	}
	kill -TERM "$daemon_pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$daemon_pid" 2>/dev/null; then
		kill -KILL "$daemon_pid"
		fdw_die "fdwatchd did not exit within 10 s of SIGTERM"
	fi
	wait "$daemon_pid" || fdw_die "fdwatchd exited with status $?"
	daemon_pid=
	wait_detached
}

# A stopped fdwatchd hands its links' last references to a child,
# fdwatchd-detach, which exits ~2 s later: until then the syscall
# tracepoints stay registered (disabled), every syscall of the host takes
# the slow tracepoint path, and an "untraced" loop run meanwhile is not.
# Wait for every such child (ours, or another bench's that just ended).
wait_detached() {
	local i c busy name
	for ((i = 0; i < 300; i++)); do
		busy=0
		for c in /proc/[0-9]*/comm; do
			# no fork per process: a process may vanish mid-read
			{ read -r name <"$c"; } 2>/dev/null || continue
			if [[ $name == fdwatchd-detach ]] &&
				! grep -q '^State:[[:space:]]*Z' "${c%/comm}/status" 2>/dev/null; then
				busy=1
				break
			fi
		done
		((busy)) || return 0
		sleep 0.1
	done
	fdw_log "an fdwatchd-detach still runs after 30 s: the untraced figures may be traced"
}

# Is another fdwatchd (another bench's, a test's, the host's service)
# running? Its probes trace the untraced arm too: said in the output.
untraced_shared=0
others_running() {
	local c name
	for c in /proc/[0-9]*/comm; do
		{ read -r name <"$c"; } 2>/dev/null || continue
		[[ $name == fdwatchd ]] || continue
		c=${c%/comm}
		[[ ${c#/proc/} == "$daemon_pid" ]] || return 0
	done
	return 1
}

# status_counts: "events_received events_lost" (the status call drains first)
status_counts() {
	"$cli" status --socket "$sock" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(int(d["events_received"]), int(d["events_lost"]))'
}

# cpu_ticks PID: utime + stime (the fields after "(comm)" can be split safely)
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# one_loop MODE ITERATIONS [wrapper...]: "ns_per_iter fd_syscalls"
one_loop() {
	local mode=$1 n=$2 out
	shift 2
	out=$("$@" "${pin[@]}" "$loop" "$mode" "$n")
	sed -n 's/.*ns_per_iter=\([0-9.]*\).*fd_syscalls=\([0-9]*\).*/\1 \2/p' <<<"$out" | grep . ||
		fdw_die "unexpected output from $loop: $out"
}

# Results, one line per measurement: "ARM MODE PAIR key=value..."
results=$tmp/results

nginx_port=
start_nginx() {
	local i
	nginx_port=$((20000 + RANDOM % 20000))
	mkdir -p "$tmp/nginx/www"
	head -c 512 /dev/urandom | base64 >"$tmp/nginx/www/index.html"
	# the worker runs as nobody: it must reach the file through mktemp's 0700
	chmod a+x "$tmp" "$tmp/nginx" && chmod a+rx "$tmp/nginx/www" &&
		chmod a+r "$tmp/nginx/www/index.html"
	cat >"$tmp/nginx/nginx.conf" <<-EOF
		worker_processes 1;
		daemon off;
		master_process on;
		pid $tmp/nginx/nginx.pid;
		error_log $tmp/nginx/error.log warn;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    client_body_temp_path $tmp/nginx/body;
		    proxy_temp_path $tmp/nginx/proxy;
		    fastcgi_temp_path $tmp/nginx/fastcgi;
		    uwsgi_temp_path $tmp/nginx/uwsgi;
		    scgi_temp_path $tmp/nginx/scgi;
		    keepalive_requests 1000000;
		    server { listen 127.0.0.1:$nginx_port; root $tmp/nginx/www; location / { } }
		}
	EOF
	"$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
	nginx_pid=$!
	for ((i = 0; i < 100; i++)); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $nginx_port), 1).close()" \
			2>/dev/null && return 0
		sleep 0.1
	done
	fdw_die "nginx did not accept connections on port $nginx_port"
}

# pin_pids CPUS PID...: every thread of each PID onto CPUS
pin_pids() {
	local c=$1 p
	shift
	for p in "$@"; do
		taskset -a -p -c "$c" "$p" >/dev/null || fdw_die "taskset of $p failed"
	done
}

# The -1cpu rows: nginx (master and workers) and wrk on the loops' CPU, the
# daemon (when running) on the others; `all` puts everything back.
nginx_pin() {
	local all others
	all=0-$(($(nproc) - 1))
	others=$(seq 0 $(($(nproc) - 1)) | grep -vx "$cpu" | paste -sd,)
	if [[ $1 == all ]]; then
		pin_pids "$all" "$nginx_pid" $(pgrep -P "$nginx_pid")
		[[ -z $daemon_pid ]] || pin_pids "$all" "$daemon_pid"
	else
		pin_pids "$cpu" "$nginx_pid" $(pgrep -P "$nginx_pid")
		[[ -z $daemon_pid ]] || pin_pids "$others" "$daemon_pid"
	fi
}

# wrk_run close|keepalive|close-1cpu|keepalive-1cpu: "requests_per_s p99_ms"
# (-1cpu: nginx and wrk pinned to the loops' CPU for the run)
wrk_run() {
	local hdr=() out wpin=()
	[[ $1 == close* ]] && hdr=(-H 'Connection: close')
	if [[ $1 == *-1cpu ]]; then
		((${#pin[@]})) || fdw_die "the -1cpu nginx rows need taskset"
		nginx_pin one
		wpin=("${pin[@]}")
	fi
	out=$("${wpin[@]}" wrk -t1 -c16 -d"${nginx_seconds}s" --latency "${hdr[@]}" \
		"http://127.0.0.1:$nginx_port/index.html" 2>&1)
	[[ $1 == *-1cpu ]] && nginx_pin all
	awk '
		/Requests\/sec:/ { rps = $2 }
		$1 == "99%" { v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
			      p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
		/Non-2xx|Socket errors/ { bad = 1 }
		END { if (rps == "" || bad) exit 1; printf "%s %s\n", rps, p99 }' <<<"$out" ||
		fdw_die "wrk failed or saw errors (a row would count failed requests): $out"
}

# arm_loops ARM PAIR: one run of every loop (and nginx row) in that arm,
# the loops' order rotated by PAIR so none always runs first after a start.
arm_loops() {
	local arm=$1 p=$2 mode ns fds r0 l0 r1 l1 c0 c1 n k wrap=()
	if [[ $arm == untraced ]]; then
		wait_detached
		others_running && untraced_shared=$((untraced_shared + 1))
	fi
	if [[ $arm == fdwatch || $arm == deep ]]; then
		status_counts >/dev/null # let the start-up settle: a first drain
		sleep 1
	fi
	for ((k = 0; k < ${#modes[@]}; k++)); do
		mode=${modes[(k + p) % ${#modes[@]}]}
		n=$iterations
		# a fork costs ~100x a dup: the fork row runs 1/100 of the iterations
		[[ $mode == forkexit ]] && n=$((n / 100 > 0 ? n / 100 : 1))
		case $arm in
		strace) wrap=(strace -f -c -o /dev/null); n=$((n / 20 > 0 ? n / 20 : 1)) ;;
		*) wrap=() ;;
		esac
		if [[ $arm == fdwatch || $arm == deep ]]; then
			read -r r0 l0 < <(status_counts)
			c0=$(cpu_ticks "$daemon_pid")
		fi
		read -r ns fds < <(one_loop "$mode" "$n" "${wrap[@]}")
		if [[ $arm == fdwatch || $arm == deep ]]; then
			read -r r1 l1 < <(status_counts)
			c1=$(cpu_ticks "$daemon_pid")
			echo "$arm $mode $p ns=$ns exp=$fds recv=$((r1 - r0)) lost=$((l1 - l0)) ticks=$((c1 - c0))"
		else
			echo "$arm $mode $p ns=$ns"
		fi >>"$results"
	done
	if ((nginx_rows)) && [[ $arm == untraced || $arm == fdwatch ]]; then
		for mode in "${nginx_modes[@]}"; do
			[[ $arm == fdwatch ]] && read -r r0 l0 < <(status_counts) && c0=$(cpu_ticks "$daemon_pid")
			read -r ns n < <(wrk_run "$mode")
			if [[ $arm == fdwatch ]]; then
				read -r r1 l1 < <(status_counts)
				c1=$(cpu_ticks "$daemon_pid")
				echo "$arm nginx-$mode $p rps=$ns p99=$n recv=$((r1 - r0)) lost=$((l1 - l0)) ticks=$((c1 - c0))"
			else
				echo "$arm nginx-$mode $p rps=$ns p99=$n"
			fi >>"$results"
		done
	fi
}

# The syscalls fdwatch records for these loops, counted at their exits.
bpftrace_prog='tracepoint:syscalls:sys_exit_dup, tracepoint:syscalls:sys_exit_close,
tracepoint:syscalls:sys_exit_openat, tracepoint:syscalls:sys_exit_socket,
tracepoint:syscalls:sys_exit_pipe2, tracepoint:syscalls:sys_exit_accept4
{ @[probe] = count(); }'

start_bpftrace() {
	local i
	bpftrace -e "$bpftrace_prog" >"$tmp/bpftrace.out" 2>&1 &
	tracer_pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q '^Attaching' "$tmp/bpftrace.out" && { sleep 0.5; return 0; }
		kill -0 "$tracer_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$tmp/bpftrace.out" >&2
	fdw_die "bpftrace did not attach"
}

stop_bpftrace() {
	kill -INT "$tracer_pid" 2>/dev/null || true
	wait "$tracer_pid" 2>/dev/null || true
	tracer_pid=
}

# The syscall tracepoints a running fdwatchd has programs on (the hooks arm).
daemon_tracepoints() {
	bpftool perf show --json | python3 -c '
import json, sys
pid = int(sys.argv[1])
tps = sorted({x["tracepoint"] for x in json.load(sys.stdin)
              if x.get("pid") == pid and x.get("fd_type") == "tracepoint"
              and x.get("tracepoint", "").startswith(("sys_enter_", "sys_exit_"))})
if not tps:
    sys.exit("no syscall tracepoint of fdwatchd %d in bpftool perf show" % pid)
print(" ".join(tps))' "$daemon_pid"
}

hook_tps=()
start_hooks() {
	local i
	"$hooker" hold "${hook_tps[@]}" >"$tmp/hooks.out" 2>&1 &
	hooks_pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q '^attached' "$tmp/hooks.out" && return 0
		kill -0 "$hooks_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$tmp/hooks.out" >&2
	fdw_die "the empty hooks did not attach"
}

stop_hooks() {
	kill -TERM "$hooks_pid" 2>/dev/null || true
	wait "$hooks_pid" || fdw_die "fdwatch-bench-hook-cost hold exited with status $?"
	hooks_pid=
}

if ((floor)); then
	start_daemon
	read -r -a hook_tps < <(daemon_tracepoints) || fdw_die "could not list fdwatchd's tracepoints"
	stop_daemon
	fdw_log "hooks arm: empty programs on fdwatchd's ${#hook_tps[@]} syscall tracepoints"
fi

arms=(untraced fdwatch)
((floor)) && arms+=(hooks)
((deep)) && arms+=(deep)
((peers)) && arms+=(bpftrace strace)
((nginx_rows)) && start_nginx
: >"$results"
fdw_log "$pairs rounds of ${arms[*]} (order rotated each round), ${#modes[@]} loops x $iterations iterations"
for ((p = 0; p < pairs; p++)); do
	# rotate the order so no arm always runs first (or last) in a round
	order=()
	for ((k = 0; k < ${#arms[@]}; k++)); do
		order+=("${arms[(k + p) % ${#arms[@]}]}")
	done
	for arm in "${order[@]}"; do
		case $arm in
		fdwatch) start_daemon; arm_loops fdwatch "$p"; stop_daemon ;;
		deep) start_daemon --races-io; arm_loops deep "$p"; stop_daemon ;;
		bpftrace) start_bpftrace; arm_loops bpftrace "$p"; stop_bpftrace ;;
		hooks) start_hooks; arm_loops hooks "$p"; stop_hooks ;;
		*) arm_loops "$arm" "$p" ;;
		esac
	done
	fdw_log "round $((p + 1))/$pairs done"
done

echo "fdwatch bench: $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)),"
echo "  $pairs interleaved rounds of ${arms[*]}, $iterations iterations per loop, loops pinned with: ${pin[*]:-(none)}"
echo "  $(git -C "$root" describe --always --dirty 2>/dev/null || echo 'no git'), $(date -u +%Y-%m-%dT%H:%MZ)"
((untraced_shared == 0)) ||
	echo "  WARNING: another fdwatchd ran during $untraced_shared of $pairs untraced arms: they were traced too"
rows=("${modes[@]}")
((nginx_rows)) && rows+=("${nginx_modes[@]/#/nginx-}")
python3 - "$results" "$check" "$clk_tck" "$peers" "$deep" "$floor" "${rows[@]}" <<'EOF'
import statistics as st, sys

path, check, clk_tck, peers, deep, floor, rows = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
    int(sys.argv[6]), sys.argv[7:])
budget = {"dupclose": 1.45, "openclose": 1.25, "getppid": 1.12, "piperw": 1.10,
          "nginx-close": 0.99, "nginx-keepalive": 0.99,
          "nginx-close-1cpu": 0.99, "nginx-keepalive-1cpu": 0.99}
data = {}
for line in open(path):
    arm, mode, p, *kv = line.split()
    data.setdefault((arm, mode), {})[int(p)] = {k: float(v) for k, v in (x.split("=") for x in kv)}

def ratios(arm, mode, key, base="untraced"):
    a, b = data.get((base, mode), {}), data.get((arm, mode), {})
    return [b[p][key] / a[p][key] for p in sorted(a) if p in b and a[p][key] > 0]

def rng(rs):
    return f"{st.median(rs):.3f} ({min(rs):.2f}-{max(rs):.2f})" if rs else "-"

hdr = f"{'loop':<20} {'untraced':>9} {'fdwatch':>9} {'ratio (min-max)':>19} {'budget':>6} " \
      f"{'events/run':>10} {'recv/run':>10} {'lost':>5} {'ns/event':>8}"
if floor:
    hdr += f" {'hooks':>17} {'over hooks':>17}"
if deep:
    hdr += f" {'--races-io':>17}"
if peers:
    hdr += f" {'bpftrace':>17} {'strace':>17}"
print(hdr + "  verdict")
print(f"{'':<20} {'ns/op':>9} {'ns/op':>9}")
failed = False
for mode in rows:
    web = mode.startswith("nginx")
    key = "rps" if web else "ns"
    u = [v[key] for v in data.get(("untraced", mode), {}).values()]
    f = list(data.get(("fdwatch", mode), {}).values())
    rs = ratios("fdwatch", mode, key)
    if not u or not f:
        continue
    exp = st.mean(v.get("exp", 0) for v in f)
    recv = st.mean(v["recv"] for v in f)
    lost = int(sum(v["lost"] for v in f))
    tot_recv = sum(v["recv"] for v in f)
    nsev = sum(v["ticks"] for v in f) / clk_tck * 1e9 / tot_recv if tot_recv else 0
    verdict = []
    b = budget.get(mode)
    med = st.median(rs)
    if b is not None and ((med < b) if web else (med > b)):
        verdict.append("over budget")
    if lost:
        verdict.append("events lost")
    if not web and recv < exp:
        verdict.append("events missing")
    failed |= bool(verdict)
    line = (f"{mode:<20} {st.median(u):>9.1f} {st.median(v[key] for v in f):>9.1f} {rng(rs):>19} "
            f"{(b if b is not None else '-'):>6} {exp:>10.0f} {recv:>10.0f} {lost:>5} {nsev:>8.0f}")
    if floor:
        line += (f" {rng(ratios('hooks', mode, key)):>17}"
                 f" {rng(ratios('fdwatch', mode, key, 'hooks')):>17}")
    if deep:
        line += f" {rng(ratios('deep', mode, key)):>17}"
    if peers:
        line += f" {rng(ratios('bpftrace', mode, key)):>17} {rng(ratios('strace', mode, key)):>17}"
    print(line + "  " + (", ".join(verdict) or "ok"))
    if web:
        p99u = st.median(v["p99"] for v in data[("untraced", mode)].values())
        p99f = st.median(v["p99"] for v in f)
        print(f"{'':<20} (nginx: ratio is requests/s traced/untraced; p99 {p99u:.2f} ms untraced, "
              f"{p99f:.2f} ms traced)")
print("(ratio: median of the pairwise traced/untraced ratios of each round; recv/run counts every"
      " event on the host while the loop ran; ns/event: the daemon's CPU time per event received,"
      " from 1/CLK_TCK-second ticks that include the two status calls around each loop"
      + ("; hooks: empty programs on fdwatchd's syscall tracepoints / untraced, the floor of"
         " the design here; over hooks: fdwatch / hooks of the same round" if floor else "")
      + ")")
if check:
    print("budget check: " + ("FAILED" if failed else "passed"))
    sys.exit(1 if failed else 0)
EOF
