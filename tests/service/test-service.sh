#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The `service` suite: fdwatchd.service, as `meson install` installs it,
# under a real systemd. PID 1 on these machines is not systemd, so the
# host's own root is booted as a container (systemd-nspawn --volatile=yes:
# /usr from the host read-only, /etc and /var empty tmpfs), with the install
# tree bound over its prefix. systemd-sysusers and systemd-tmpfiles in the
# container create the group and the configuration file from what was
# installed; systemctl and journalctl are driven with nsenter.
#
#   test-service.sh BUILD_DIR FDW_LEAK [CASE...]
#
# The container has a PID namespace of its own, but the probes see every
# process on the host with its host pid: the daemon reads the host's /proc,
# bound at /run/host-proc, through its configuration file (proc-root), as a
# daemon in the host's PID namespace would read /proc. The test processes
# (a leaking program, a process of another user) run on the host.
#
# Exit 77 (skip) without root or systemd-nspawn, unless CI=true or
# FDWATCH_REQUIRE_BPF=1, where that fails. One container at a time (a lock),
# every wait bounded, everything started is stopped on exit.
set -uo pipefail

BUILD=${1:?usage: test-service.sh BUILD_DIR FDW_LEAK [CASE...]}
FDW_LEAK=${2:?usage: test-service.sh BUILD_DIR FDW_LEAK [CASE...]}
shift 2
ONLY=("$@")
STRICT=0
[[ ${CI:-} == true || ${FDWATCH_REQUIRE_BPF:-0} == 1 ]] && STRICT=1

MACHINE=fdwt-service
HOST_PROC=/run/host-proc
passed=0
failed=0
failures=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
skip() {
	if ((STRICT)); then
		log "FAIL: cannot run ($*), and CI/FDWATCH_REQUIRE_BPF=1 forbids skipping"
		echo "0 passed, 1 failed"
		exit 1
	fi
	log "SKIP: $*"
	exit 77
}

((EUID == 0)) || skip "not root"
for tool in systemd-nspawn nsenter pgrep meson; do
	command -v "$tool" >/dev/null || skip "$tool not installed (scripts/install-deps.sh)"
done
[[ -x $FDW_LEAK ]] || { log "FAIL: $FDW_LEAK is not built"; echo "0 passed, 1 failed"; exit 1; }

tmp=$(mktemp -d /tmp/fdwt-service.XXXXXX)
nspawn_pid=
cpid= # the container's systemd
host_pids=()

cleanup() {
	local i
	for p in "${host_pids[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
		# a clean poweroff first, then the PID namespace's init killed (which
		# takes every process of the container with it)
		kill -TERM "$nspawn_pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$nspawn_pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$nspawn_pid" 2>/dev/null; then
			log "container did not power off within 20 s: killing it"
			[[ -n $cpid ]] && kill -9 "$cpid" 2>/dev/null
			sleep 1
			kill -9 "$nspawn_pid" 2>/dev/null
		fi
		wait "$nspawn_pid" 2>/dev/null
	fi
	if [[ -z ${FDWT_KEEP_TMP:-} ]]; then
		rm -rf "$tmp"
	else
		log "kept $tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------

# Run a command in the container (all namespaces of its systemd), bounded.
in_c() { timeout 60 nsenter -t "$cpid" -a "$@"; }
sctl() { in_c systemctl --no-pager "$@"; }
prop() { sctl show -p "$1" --value fdwatchd.service; }
# journalctl of the unit since the cursor in $tmp/cursor (set by mark)
mark() { in_c journalctl -n 0 --show-cursor -q 2>/dev/null | sed -n 's/^-- cursor: //p' >"$tmp/cursor"; }
since() { in_c journalctl --no-pager -q --after-cursor="$(cat "$tmp/cursor")" "$@"; }
# since_prio MAX PATTERN: the unit's messages since the cursor matching
# PATTERN with PRIORITY <= MAX, one per line. (journalctl 252 combining
# --after-cursor with -p can return nothing: the priority is checked here.)
since_prio() {
	since -u fdwatchd.service -g "$2" -o json | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if int(e.get("PRIORITY", 6)) <= int(sys.argv[1]):
        print(e.get("MESSAGE"))' "$1"
}

# has COMMAND...: COMMAND prints something
has() { "$@" 2>/dev/null | grep -q .; }

# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
wait_for() {
	local secs=$1 what=$2 t0=$SECONDS
	shift 2
	while ! "$@" >/dev/null 2>&1; do
		if ((SECONDS - t0 >= secs)); then
			echo "timed out after ${secs}s waiting for: $what"
			return 1
		fi
		sleep 0.2
	done
}

current_case=
case_start() { current_case=$1; log "---- $1"; }
fail() {
	log "FAIL $current_case: $*"
	failed=$((failed + 1))
	failures+=("$current_case")
	current_case=
	return 1
}
ok() {
	log "ok   $current_case"
	passed=$((passed + 1))
	current_case=
}
want() { # CASE-ID: whether to run it (all, or those named on the command line)
	local c
	((${#ONLY[@]} == 0)) && return 0
	for c in "${ONLY[@]}"; do [[ $c == "$1" ]] && return 0; done
	return 1
}

journal_tail() {
	echo "journal of fdwatchd.service (last lines):"
	in_c journalctl --no-pager -q -u fdwatchd.service -n 25 | sed 's/^/    /'
}

# ---- install and boot -------------------------------------------------------

prefix=$(meson introspect --buildoptions "$BUILD" |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
if [[ $prefix == /usr || $prefix == / ]]; then
	log "FAIL: the install prefix is $prefix; the service suite binds the install tree over it"
	echo "0 passed, 1 failed"
	exit 1
fi
log "meson install --destdir $tmp/dest (prefix $prefix)"
if ! meson install -C "$BUILD" --no-rebuild --destdir "$tmp/dest" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	log "FAIL: meson install"
	echo "0 passed, 1 failed"
	exit 1
fi
unit_file=$tmp/dest$prefix/lib/systemd/system/fdwatchd.service

# One container at a time on this machine (the lock is held until exit).
exec 9>/run/fdwt-service.lock
if ! flock -w 600 9; then
	log "FAIL: another service test held /run/fdwt-service.lock for 10 minutes"
	echo "0 passed, 1 failed"
	exit 1
fi

# Only what the test starts runs in the container: every unit that the first
# boot would enable by preset (nginx, prometheus, fdwatchd itself) stays off.
printf 'disable *\n' >"$tmp/00-fdwt.preset"

log "booting the host root under systemd-nspawn"
t_boot=$SECONDS
systemd-nspawn -D / --volatile=yes -b --register=no --keep-unit --console=pipe \
	--capability=CAP_BPF,CAP_PERFMON --system-call-filter='bpf perf_event_open' \
	--machine="$MACHINE" \
	--bind-ro=/dev/null:/etc/systemd/system/systemd-firstboot.service \
	--bind-ro="$tmp/00-fdwt.preset:/etc/systemd/system-preset/00-fdwt.preset" \
	--bind-ro="$tmp/dest$prefix:$prefix" \
	--bind-ro=/proc:"$HOST_PROC" \
	</dev/null >"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!
boot_ok=1
for ((i = 0; i < 300; i++)); do
	cpid=$(pgrep -P "$nspawn_pid" -x systemd | head -1)
	[[ -n $cpid && -S /proc/$cpid/root/run/systemd/private ]] && break
	kill -0 "$nspawn_pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -z $cpid || ! -S /proc/$cpid/root/run/systemd/private ]]; then
	boot_ok=0
elif ! state=$(timeout 90 nsenter -t "$cpid" -a systemctl is-system-running --wait 2>&1); then
	# "degraded" is an answer too: a unit of the host's that fails in a container
	log "container's systemd: $state"
	sctl --failed | sed 's/^/    /'
fi
if ((!boot_ok)); then
	cat "$tmp/nspawn.log"
	log "FAIL: the container's systemd did not come up within 30 s"
	echo "0 passed, 1 failed"
	exit 1
fi
log "container up after $((SECONDS - t_boot)) s: systemd pid $cpid (host), system $(sctl is-system-running)"

# ---- packaging: what the container made of the install tree -------------------

if want packaging; then
	case_start "packaging: unit, sysusers group, tmpfiles config, man pages, CLI"
	{
		in_c getent group fdwatch >/dev/null || fail "no group fdwatch (sysusers.d)"
	} && {
		in_c test -f /etc/fdwatch/fdwatch.conf || fail "no /etc/fdwatch/fdwatch.conf (tmpfiles.d)"
	} && {
		in_c "$prefix/sbin/fdwatchd" --check-config >"$tmp/check.out" 2>&1 ||
			fail "--check-config on the installed example: $(cat "$tmp/check.out")"
	} && {
		docs=$(prop Documentation)
		for page in fdwatchd.8 fdwatch.conf.5 fdwatch.1; do
			name=${page%.*} sec=${page##*.}
			[[ $docs == *"man:$name($sec)"* ]] || { fail "Documentation= lacks man:$name($sec): $docs"; break; }
			in_c test -f "$prefix/share/man/man$sec/$page" || { fail "$page not installed"; break; }
		done
	} && {
		[[ $(prop FragmentPath) == "$prefix/lib/systemd/system/fdwatchd.service" ]] ||
			fail "unit loaded from $(prop FragmentPath)"
	} && ok
fi

# The daemon reads the host's processes (see the header).
in_c sh -c "printf '\n# service test: the host PID namespace\nproc-root = $HOST_PROC\n' >>/etc/fdwatch/fdwatch.conf"

# A sanitizer build (scripts/sanitize.sh): ASan and UBSan stay on, but
# LeakSanitizer cannot stop the world inside the hardened unit ("does not
# work under ptrace": the exit and `--check-config` of ExecReload= fail);
# leaks are checked by the other suites, under LeakSanitizer and valgrind.
if [[ ${FDWT_SANITIZED:-} == 1 ]]; then
	in_c mkdir -p /etc/systemd/system/fdwatchd.service.d
	in_c sh -c "printf '[Service]\nEnvironment=ASAN_OPTIONS=halt_on_error=1:detect_leaks=0:detect_stack_use_after_return=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1\n' >/etc/systemd/system/fdwatchd.service.d/50-fdwt-sanitize.conf"
	sctl daemon-reload
fi

# A process of another user (nobody), started before the daemon, holding fd
# 7 on a file only it has open: the scan must list its table
# (CAP_DAC_READ_SEARCH) and resolve the target (CAP_SYS_PTRACE).
secret=$tmp/nobody-file
: >"$secret"
chmod 644 "$secret"
chmod 755 "$tmp"
setpriv --reuid=65534 --regid=65534 --clear-groups -- \
	sh -c "exec 7<'$secret'; exec sleep 600" </dev/null >/dev/null 2>&1 &
nobody_pid=$!
disown "$nobody_pid"
host_pids+=("$nobody_pid")

# fd 7 of the nobody process as the daemon shows it: its target path
nobody_fd7() {
	in_c "$prefix/bin/fdwatch" --json fds "$nobody_pid" 7 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("target") or j.get("fd", {}).get("target") or "")' 2>/dev/null
}

start_daemon() { # blocks until READY=1 (Type=notify), bounded
	timeout 300 nsenter -t "$cpid" -a systemctl start fdwatchd.service
}

# ---- start: active only after READY=1 -------------------------------------

if want start; then
	case_start "start: activating until READY=1, then active/running with probes attached and the scan done"
	# sys-kernel-tracing.mount does not run in a container: the unit's
	# ExecStartPre mounts tracefs (the daemon has no CAP_SYS_ADMIN)
	tracefs_before=mounted
	in_c mountpoint -q /sys/kernel/tracing || tracefs_before=absent
	mark
	sctl start --no-block fdwatchd.service
	seen_activating=0 t0=$SECONDS state=
	while ((SECONDS - t0 < 300)); do
		state=$(prop ActiveState)
		[[ $state == activating ]] && seen_activating=1
		[[ $state == active || $state == failed ]] && break
		sleep 0.05
	done
	# READY=1 is sent right after the "ready:" line: it must be in the
	# journal by the time systemd says active
	ready_line=$(since -u fdwatchd.service -g 'fdwatchd: ready:' -o cat)
	if [[ $state != active ]]; then
		fail "ActiveState=$state after $((SECONDS - t0)) s; $(journal_tail)"
	elif ((!seen_activating)); then
		fail "never saw ActiveState=activating (the start took no time?)"
	elif [[ -z $ready_line ]]; then
		fail "active before the daemon logged 'ready:' (READY=1 too early)"
	elif [[ $(prop SubState) != running ]]; then
		fail "SubState=$(prop SubState)"
	else
		st=$(in_c "$prefix/bin/fdwatch" --json status)
		procs=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["processes"])' "$st" 2>/dev/null)
		events=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["events_received"])' "$st" 2>/dev/null)
		log "   $ready_line; status: processes=$procs events=$events; tracefs before: $tracefs_before"
		if ! in_c mountpoint -q /sys/kernel/tracing; then
			fail "tracefs not mounted after the start (it was $tracefs_before)"
		elif [[ -z $procs || $procs -lt 10 ]]; then
			fail "the scan found ${procs:-no} processes (host /proc has $(ls -d /proc/[0-9]* | wc -l))"
		elif [[ -z $events || $events -le 0 ]]; then
			fail "no events received: probes not attached? $st"
		else
			ok
		fi
	fi
fi
[[ $(prop ActiveState) == active ]] || start_daemon

if want status; then
	case_start "systemctl status shows a live STATUS= line"
	s1=$(prop StatusText)
	sleep 2.5
	s2=$(prop StatusText)
	status_out=$(sctl status fdwatchd.service 2>&1)
	re='^[0-9]+ processes, [0-9]+ fds, [0-9]+ events, [0-9]+ lost'
	if [[ ! $s1 =~ $re ]]; then
		fail "StatusText '$s1'"
	elif [[ $s1 == "$s2" ]]; then
		fail "StatusText did not change in 2.5 s: '$s1'"
	elif ! grep -qE 'Status: "[0-9]+ processes, [0-9]+ fds' <<<"$status_out"; then
		fail "no Status: line in systemctl status: $status_out"
	else
		log "   $s1 -> $s2"
		ok
	fi
fi

if want cli; then
	case_start "the CLI inside answers on the default socket, which is root:fdwatch 0660"
	out=$(in_c "$prefix/bin/fdwatch" status 2>&1)
	rc=$?
	sockstat=$(in_c stat -c '%U:%G %a' /run/fdwatch/fdwatch.sock 2>&1)
	dirstat=$(in_c stat -c '%a' /run/fdwatch 2>&1)
	if ((rc != 0)); then
		fail "fdwatch status exit $rc: $out"
	elif ! grep -q '^processes:' <<<"$out"; then
		fail "fdwatch status: $out"
	elif [[ $sockstat != "root:fdwatch 660" ]]; then
		fail "the socket is $sockstat, not root:fdwatch 660 (the group's members could not connect)"
	elif [[ $dirstat != 755 ]]; then
		fail "/run/fdwatch is $dirstat: the group's members cannot reach the socket"
	else
		log "   socket $sockstat, directory $dirstat"
		ok
	fi
fi

if want other-user; then
	case_start "another user's process: its table read at the scan and its fd's target resolved"
	target=$(nobody_fd7)
	if [[ $target != "$secret" ]]; then
		fail "fd 7 of pid $nobody_pid (uid 65534): target '$target', want '$secret'"
	else
		ok
	fi
fi

# ---- reload ----------------------------------------------------------------

conf_set() { # KEY VALUE: replace or append in the container's config file
	in_c sh -c "sed -i '/^$1 *=/d' /etc/fdwatch/fdwatch.conf && printf '%s = %s\n' '$1' '$2' >>/etc/fdwatch/fdwatch.conf"
}

if want reload; then
	case_start "systemctl reload: a good file is read; a bad one fails the reload, logged with file/line/key, daemon kept"
	pid0=$(prop MainPID)
	mark
	conf_set audit-interval 1
	if ! sctl reload fdwatchd.service; then
		fail "systemctl reload with a good file failed; $(journal_tail)"
	elif ! wait_for 20 "reload line" sh -c "nsenter -t $cpid -a journalctl -q --no-pager --after-cursor='$(cat "$tmp/cursor")' -u fdwatchd.service -g 'reload: configuration read from /etc/fdwatch/fdwatch.conf, 1 setting changed' | grep -q ."; then
		fail "no 'reload: configuration read' line; $(journal_tail)"
	else
		mark
		in_c sh -c "printf 'history = 0\n' >>/etc/fdwatch/fdwatch.conf"
		line=$(in_c grep -c '' /etc/fdwatch/fdwatch.conf)
		if sctl reload fdwatchd.service 2>/dev/null; then
			fail "systemctl reload succeeded with a bad file"
		elif [[ $(prop ActiveState) != active || $(prop MainPID) != "$pid0" ]]; then
			fail "after a failed reload: $(prop ActiveState), MainPID $(prop MainPID) (was $pid0)"
		elif ! since -g "/etc/fdwatch/fdwatch.conf:$line: history: invalid value '0'" | grep -q .; then
			fail "the failed reload's error (line $line) is not in the journal"
		else
			# SIGHUP straight to the daemon (no ExecReload check first): the
			# daemon itself keeps its configuration and says so at err
			mark
			in_c kill -HUP "$pid0"
			if ! wait_for 20 "reload error" has since_prio 3 'keeping the configuration in effect'; then
				fail "no err-priority 'keeping the configuration' line after SIGHUP"
			elif [[ $(prop MainPID) != "$pid0" || $(prop ActiveState) != active ]]; then
				fail "the daemon did not survive SIGHUP with a bad file"
			elif ! prop StatusText | grep -q 'last reload failed'; then
				fail "StatusText does not say the reload failed: $(prop StatusText)"
			else
				in_c sed -i '/^history = 0$/d' /etc/fdwatch/fdwatch.conf
				if ! sctl reload fdwatchd.service; then
					fail "reload after fixing the file failed"
				else
					ok
				fi
			fi
		fi
	fi
fi

# ---- an alert in the journal, at warning --------------------------------------

if want alert; then
	case_start "a leak alert lands in the journal at priority warning"
	mark
	mkfifo "$tmp/leak.in"
	"$FDW_LEAK" exhaust 100 /etc/hostname <"$tmp/leak.in" >"$tmp/leak.out" 2>&1 &
	leak_pid=$!
	disown "$leak_pid"
	host_pids+=("$leak_pid")
	exec 8>"$tmp/leak.in" # holds its stdin open
	if ! wait_for 60 "fd-exhaustion alert" has since -u fdwatchd.service -g "leak alert .* firing: fd-exhaustion pid $leak_pid"; then
		fail "no fd-exhaustion alert for pid $leak_pid within 60 s ($(cat "$tmp/leak.out")); $(journal_tail)"
	else
		json=$(since -u fdwatchd.service -g "firing: fd-exhaustion pid $leak_pid" -o json | head -1)
		prio=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["PRIORITY"])' "$json" 2>/dev/null)
		if [[ $prio != 4 ]]; then
			fail "the alert's journal PRIORITY is '$prio', want 4 (warning)"
		elif ! in_c journalctl -q --no-pager -u fdwatchd.service -p warning -g "firing: fd-exhaustion pid $leak_pid" | grep -q .; then
			fail "journalctl -p warning does not show the alert"
		elif in_c journalctl -q --no-pager -u fdwatchd.service -p err -g "firing: fd-exhaustion pid $leak_pid" | grep -q .; then
			fail "journalctl -p err shows the alert (too high a priority)"
		else
			log "   $(since -u fdwatchd.service -g "firing: fd-exhaustion pid $leak_pid" -o cat | head -1)"
			ok
		fi
	fi
	exec 8>&-
	kill "$leak_pid" 2>/dev/null
fi

# ---- the watchdog --------------------------------------------------------------

if want watchdog; then
	case_start "WatchdogSec= honoured: a daemon frozen with SIGSTOP is killed and restarted"
	pid0=$(prop MainPID)
	wd=$(prop WatchdogUSec)
	mark
	in_c kill -STOP "$pid0"
	t0=$SECONDS
	# WatchdogSec, then the restart (RestartSec=2s) and a start (probes, scan)
	if ! wait_for 200 "a new MainPID, active" sh -c "p=\$(nsenter -t $cpid -a systemctl show -p MainPID --value fdwatchd.service); s=\$(nsenter -t $cpid -a systemctl show -p ActiveState --value fdwatchd.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $pid0 ] && [ \"\$s\" = active ]"; then
		fail "not restarted within 200 s of SIGSTOP (WatchdogUSec=$wd); $(journal_tail)"
	elif ! since -u fdwatchd.service -g 'Watchdog timeout' | grep -q .; then
		fail "restarted, but not for a watchdog timeout; $(journal_tail)"
	else
		log "   WatchdogUSec=$wd; restarted after $((SECONDS - t0)) s as pid $(prop MainPID)"
		ok
	fi
fi

# ---- a clean stop ----------------------------------------------------------------

if want stop; then
	case_start "systemctl stop: exit 0, socket removed, probes detached"
	[[ $(prop ActiveState) == active ]] || start_daemon
	mark
	if ! sctl stop fdwatchd.service; then
		fail "systemctl stop failed"
	elif [[ $(prop Result) != success || $(prop ExecMainStatus) != 0 ]]; then
		fail "Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus)"
	elif in_c test -e /run/fdwatch/fdwatch.sock; then
		fail "socket file left behind"
	elif ! since -u fdwatchd.service -g 'shutting down' | grep -q .; then
		fail "no 'shutting down' line"
	else
		ok
	fi
fi

# ---- every capability justified ----------------------------------------------------

# What fails without each capability of CapabilityBoundingSet=:
#   CAP_BPF, CAP_PERFMON: the start (the probes do not load or attach);
#   CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE: another user's fd table and targets.
if want caps; then
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit_file")
	for cap in $caps; do
		case_start "without $cap the daemon fails at what needs it"
		sctl stop fdwatchd.service 2>/dev/null
		in_c mkdir -p /run/systemd/system/fdwatchd.service.d
		in_c sh -c "printf '[Service]\nCapabilityBoundingSet=~$cap\nRestart=no\n' >/run/systemd/system/fdwatchd.service.d/50-fdwt-drop.conf"
		sctl daemon-reload
		mark
		start_daemon >/dev/null 2>&1
		started=$?
		case $cap in
		CAP_BPF | CAP_PERFMON)
			# the daemon's own error, not just systemd's "Failed to start"
			why=$(since -u fdwatchd.service -o cat | grep -E '^fdwatchd: ' | grep -iE 'bpf|attach|not permitted' | head -2)
			if ((started == 0)); then
				fail "fdwatchd started without $cap (not needed? then drop it)"
			elif [[ -z $why ]]; then
				fail "the start failed, but not on the probes: '$why'; $(journal_tail)"
			else
				log "   start failed as expected: $why"
				ok
			fi
			;;
		CAP_DAC_READ_SEARCH | CAP_SYS_PTRACE)
			target=$(nobody_fd7)
			if ((started != 0)); then
				fail "fdwatchd did not start without $cap; $(journal_tail)"
			elif [[ $target == "$secret" ]]; then
				fail "another user's fd target '$target' resolved without $cap (not needed? then drop it)"
			else
				log "   fd 7 of uid 65534's process without $cap: target '${target}'"
				ok
			fi
			;;
		*)
			fail "no test says what $cap is for: justify it here or drop it from the unit"
			;;
		esac
		in_c rm -f /run/systemd/system/fdwatchd.service.d/50-fdwt-drop.conf
		sctl stop fdwatchd.service 2>/dev/null
		sctl reset-failed fdwatchd.service 2>/dev/null
		sctl daemon-reload
	done
fi

# ---- exposure -----------------------------------------------------------------------

if want security; then
	case_start "systemd-analyze security: the exposure recorded in the README"
	out=$(in_c systemd-analyze security --no-pager fdwatchd.service 2>&1)
	score=$(sed -n 's/.*Overall exposure level for fdwatchd.service: \([0-9.]*\).*/\1/p' <<<"$out")
	log "   exposure $score"
	grep -E '^✗' <<<"$out" | sed 's/^/     /' | head -40
	readme=$(dirname "$0")/../../README.md
	if [[ -z $score ]]; then
		fail "no exposure level in: $out"
	elif ! grep -q "exposure $score" "$readme"; then
		fail "README.md does not record 'exposure $score'"
	else
		ok
	fi
fi

# debugging: FDWT_SERVICE_HOLD=SECONDS keeps the container up before cleanup
if [[ -n ${FDWT_SERVICE_HOLD:-} ]]; then
	log "holding the container (systemd pid $cpid) for $FDWT_SERVICE_HOLD s"
	sleep "$FDWT_SERVICE_HOLD"
fi
log "failed: ${failures[*]:-none}"
echo "$passed passed, $failed failed"
((failed == 0))
