#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`/v1/status` and `/metrics` tell the same numbers.

fdwatchd with --metrics-listen 127.0.0.1:0, a short history (so
history.dropped moves), a 1 s audit, leak settings that let a leaking
fdw_leak fire quickly (so the alert figures are not all zero), and a load:
fdw_churn load (open/close, socket, pipe, fork) in a process group of its
own. Several times: let the load run, stop it and the leaker (SIGSTOP),
drain (one /v1/status), then take /v1/status, /metrics, /v1/status back to
back on connections opened beforehand (the test creates no fd between the
three answers; the daemon does not trace itself). A round is "quiet" when
the two statuses agree on every compared figure: nothing changed between
them, so /metrics, rendered in between, must give each figure exactly. In
every round, counters must also lie between the two statuses.

Every status key and every fdwatch_* metric family is classified below:
compared (MAP), or known to have no counterpart on the other side; a new
field on either side fails the test until it is classified.
"""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import shutil
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

# status key (dotted) -> (metric series, kind). A series "name{...}" is one
# labelled sample; "sum:name" adds up all samples of a family.
MAP = [
    ("events_received", "fdwatch_events_received_total", "counter"),
    ("events_lost", "fdwatch_events_lost_total", "counter"),
    ("events_dropped_decode", "fdwatch_events_undecodable_total", "counter"),
    ("ring_backlog_bytes", "fdwatch_ring_backlog_bytes", "gauge"),
    ("drains_partial", "fdwatch_drains_partial_total", "counter"),
    ("ring_wakeups", "fdwatch_ring_wakeups_total", "counter"),
    ("processes", "fdwatch_tracked_processes", "gauge"),
    ("tables", "fdwatch_tracked_tables", "gauge"),
    ("fds", "fdwatch_tracked_fds", "gauge"),
    ("stale_tables", "fdwatch_stale_tables", "gauge"),
    ("resyncs", "fdwatch_resyncs_total", "counter"),
    ("resync_fds_failed", "fdwatch_resync_failures_total", "counter"),
    ("anomalies", "fdwatch_model_anomalies_total", "counter"),
    ("stale_closes", "fdwatch_model_stale_closes_total", "counter"),
    ("audit.runs", "fdwatch_audit_runs_total", "counter"),
    ("audit.checked", "fdwatch_audit_checked_total", "counter"),
    ("audit.divergences", "fdwatch_audit_divergences_total", "counter"),
    ("audit.skipped", "fdwatch_audit_skipped_total", "counter"),
    ("audit.inconclusive", "fdwatch_audit_inconclusive_total", "counter"),
    ("history.dropped", 'fdwatch_dropped_total{resource="history"}', "counter"),
    ("dropped.processes", 'fdwatch_dropped_total{resource="processes"}', "counter"),
    ("dropped.fds", 'fdwatch_dropped_total{resource="fds"}', "counter"),
    ("dropped.clients", 'fdwatch_dropped_total{resource="api_clients"}', "counter"),
    ("dropped.followers", 'fdwatch_dropped_total{resource="api_followers"}', "counter"),
    ("dropped.clients_share", 'fdwatch_dropped_total{resource="api_clients_share"}', "counter"),
    ("dropped.clients_pidns", 'fdwatch_dropped_total{resource="api_clients_pidns"}', "counter"),
    ("dropped.slow_readers", 'fdwatch_dropped_total{resource="api_slow_readers"}', "counter"),
    ("dropped.request_timeouts", 'fdwatch_dropped_total{resource="api_request_timeouts"}',
     "counter"),
    ("dropped.name_refreshes", 'fdwatch_dropped_total{resource="api_name_refreshes"}',
     "counter"),
    ("dropped.owner_prefetches", 'fdwatch_dropped_total{resource="api_owner_prefetches"}',
     "counter"),
    ("dropped.leak_sites", 'fdwatch_dropped_total{resource="api_leak_sites"}', "counter"),
    ("dropped.verify_requests", 'fdwatch_dropped_total{resource="verify_requests"}',
     "counter"),
    ("dropped.verify_requests_share",
     'fdwatch_dropped_total{resource="verify_requests_share"}', "counter"),
    ("dropped.verify_differences", 'fdwatch_dropped_total{resource="verify_differences"}',
     "counter"),
    ("alerts.firing", "sum:fdwatch_alerts_firing", "gauge"),
    ("alerts.dropped", 'fdwatch_dropped_total{resource="alerts"}', "counter"),
    ("alerts.dropped_share", 'fdwatch_dropped_total{resource="alerts_share"}', "counter"),
    ("alerts.lines_suppressed", 'fdwatch_dropped_total{resource="alert_log_lines"}',
     "counter"),
    ("alerts.detector_processes", "fdwatch_leak_detector_processes", "gauge"),
    ("alerts.save_errors", "fdwatch_alert_store_save_errors_total", "counter"),
    ("alerts.stack_processes", "fdwatch_leak_stack_processes", "gauge"),
    ("memory.origins", "fdwatch_origin_records", "gauge"),
    ("fd_history.slots", "fdwatch_fd_history_slots", "gauge"),
    ("fd_history.bytes", "fdwatch_fd_history_bytes", "gauge"),
    ("fd_history.evicted", "fdwatch_fd_history_evicted_total", "counter"),
    ("given_up.tables", "fdwatch_given_up_tables", "gauge"),
    ("given_up.evicted", "fdwatch_given_up_evicted_total", "counter"),
    ("fd_history.refused", 'fdwatch_dropped_total{resource="fd_histories"}', "counter"),
    ("fd_names.names", "fdwatch_fd_names", "gauge"),
    ("fd_names.bytes", "fdwatch_fd_names_bytes", "gauge"),
    ("fd_names.max_bytes", "fdwatch_fd_names_max_bytes", "gauge"),
    ("fd_names.refused", 'fdwatch_dropped_total{resource="fd_names"}', "counter"),
    ("dropped.target_searches", 'fdwatch_dropped_total{resource="target_searches"}', "counter"),
    ("memory.origin_bytes", "fdwatch_origin_bytes", "gauge"),
    ("memory.trims", "fdwatch_malloc_trims_total", "counter"),
    ("memory.trim_returned_bytes", "fdwatch_malloc_trim_returned_bytes_total", "counter"),
    ("rereads.inline", 'fdwatch_rereads_asked_total{when="inline"}', "counter"),
    ("rereads.deferred", 'fdwatch_rereads_asked_total{when="deferred"}', "counter"),
    ("rereads.waits", "fdwatch_reread_waits_total", "counter"),
    ("rereads.pool_partial", 'fdwatch_pool_reads_late_total{result="partial"}', "counter"),
    ("rereads.pool_refused", 'fdwatch_pool_reads_late_total{result="refused"}', "counter"),
] + [(f"loss.{k}", f'fdwatch_loss_recovery_total{{action="{k}"}}', "counter")
     for k in ("resyncs", "resyncs_refused", "ghosts_dropped", "scans", "found",
               "found_deferred", "forks_stale", "verify_missing",
               "addfd_unresolved", "addfd_rereads", "pids_reused", "execs_found")]
# status keys with no metric (or a metric that is not the same quantity)
STATUS_ONLY = {
    "version", "abi",  # compared with fdwatch_build_info's labels, separately
    "pid", "ready", "uptime_s", "events_lost_per_cpu", "ofds", "unknown_tasks",
    "table_splits", "history.size", "history.capacity", "limits.max_processes",
    "limits.max_fds", "limits.max_clients", "alerts.stored",
    "loop_lag_max_ms",  # fdwatch_loop_lag_max_seconds: the same figure in seconds
    "scan.source", "scan.fds", "scan.from_proc", "scan.exited", "scan.ms",
    "probes.attached", "probes.failed", "probes.fanotify_read",  # which probes are on
    "memory.heap_bytes",  # changes with every request  # the start-up scan, once
    "memory.rss_bytes",  # process_resident_memory_bytes: changes with every request
    "memory.trim_last_ms",  # fdwatch_malloc_trim_last_seconds: the same in seconds
    "memory.trim_max_ms",  # fdwatch_malloc_trim_max_seconds: the same in seconds
    "fd_history.max_slots", "fd_history.max_bytes",  # bounds (like limits.*)
    "alerts.saves", "alerts.save_ms_last",
    "alerts.save_ms_max",  # fdwatch_alert_store_save_seconds_max: the same in seconds
    "alerts.save_pending_ms",  # fdwatch_alert_store_save_pending_seconds: in seconds
}
# fdwatch_* families with no status figure (per-group, per-kind, live clients)
METRICS_ONLY = {
    "fdwatch_build_info", "fdwatch_api_clients", "fdwatch_api_followers",
    "fdwatch_alerts_fired_total", "fdwatch_alerts_resolved_total",
    "fdwatch_alert_store_load_errors_total",
    "fdwatch_alert_store_save_seconds_max",  # status alerts.save_ms_max, in seconds
    "fdwatch_alert_store_save_pending_seconds",  # status alerts.save_pending_ms
    "fdwatch_open_fds", "fdwatch_processes", "fdwatch_process_open_fds_max",
    "fdwatch_fd_limit_usage_ratio", "fdwatch_leak_growing_processes",
    "fdwatch_leak_growth_rate", "fdwatch_leak_limit_eta_seconds",
    "fdwatch_loop_lag_max_seconds",  # status loop_lag_max_ms, in seconds
    "fdwatch_race_findings_total", "fdwatch_race_excused_total",  # per kind, per reason
    "fdwatch_race_processes", "fdwatch_race_deep_processes",
    "fdwatch_heap_bytes",  # status memory.heap_bytes: changes with every request
    "fdwatch_malloc_trim_last_seconds",  # status memory.trim_last_ms, in seconds
    "fdwatch_malloc_trim_max_seconds",  # status memory.trim_max_ms, in seconds
}
# labelled samples of fdwatch_dropped_total with no status figure
DROPPED_METRICS_ONLY = {"detector_processes", "stack_processes", "stacks", "leak_sites",
                        "exec_leak_fds", "metrics_clients", "race_findings",
                        "race_processes", "race_processes_share", "deep_processes",
                        "race_preclose"}

BATCHES = 5
QUIET_PER_BATCH = 2
TRIES_PER_BATCH = 30


def flatten(doc, prefix=""):
    out = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def parse_metrics(text):
    """{series: value} and {family: [series]}; series is name or name{labels}."""
    series, families = {}, {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise T.Failure(f"/metrics: unparsable line {line!r}")
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        key = name + labels
        if key in series:
            raise T.Failure(f"/metrics: {key} twice")
        v = float(value)
        series[key] = int(v) if v.is_integer() and "." not in value and "e" not in value else v
        families.setdefault(name, []).append(key)
    return series, families


def metric_value(series, families, spec):
    if spec.startswith("sum:"):
        fam = spec[4:]
        keys = families.get(fam)
        return sum(series[k] for k in keys) if keys else None
    return series.get(spec)


class Conn:
    """An HTTP/1.1 GET on a socket connected in advance; answer read to EOF."""

    def __init__(self, family, addr, path):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(addr)
        self.path = path

    def get(self):
        self.s.sendall(f"GET {self.path} HTTP/1.1\r\nHost: localhost\r\n"
                       "Connection: close\r\n\r\n".encode())
        buf = b""
        while True:
            b = self.s.recv(1 << 20)
            if not b:
                break
            buf += b
        head, _, body = buf.partition(b"\r\n\r\n")
        status = int(head.split()[1]) if head else 0
        if b"chunked" in head.lower():
            body = dechunk(body)
        if status != 200:
            raise T.Failure(f"GET {self.path}: {status} {body[:300]!r}")
        return body.decode()

    def close(self):
        self.s.close()


def dechunk(body):
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def group_members(pgid):
    return [(pid, f[0]) for pid, f in T.proc_stats() if int(f[2]) == pgid]


def stop_group(pgid, timeout=10):
    """SIGSTOP to the group; returns once every member is stopped (T) or a
    zombie: from then on the load makes no syscall."""
    os.killpg(pgid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while True:
        running = [(p, s) for p, s in group_members(pgid) if s not in ("T", "t", "Z", "X")]
        if not running:
            return
        if time.monotonic() > deadline:
            raise T.Failure(f"load group {pgid} not stopped within {timeout}s: {running}")
        time.sleep(0.01)


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwt-sm-")
    try:
        compare(r, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compare(r, tmp):
    leakfile = os.path.join(tmp, "leaky")
    with open(leakfile, "w") as f:
        f.write("x\n")
    args = ["--metrics-listen", "127.0.0.1:0", "--audit-interval", "1", "--history", "2000",
            "--leak", "fast_window=6", "--leak", "fast_min_samples=5",
            "--leak", "fast_min_rise=20"]
    with T.Daemon(args=args) as d:
        port = H.metrics_port(d)
        load = subprocess.Popen([os.path.join(T.PROGS, "fdw_churn"), "load"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                start_new_session=True)
        leak = H.LeakProg("dup", 20, 0, leakfile)
        try:
            line = load.stdout.readline().decode()
            check(line.startswith("START"), f"fdw_churn load said {line!r}")
            leak.expect("START")
            H.wait_alert(d, leak.pid, "fd-growth", 30)
            run_batches(r, d, port, load.pid, leak.pid)
        finally:
            try:
                os.killpg(load.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            load.wait()
            load.stdout.close()
            leak.kill()


def take(d, port):
    """(status, metrics series, metrics families, status) on connections
    opened before the first request."""
    c1 = Conn(socket.AF_UNIX, d.sock, "/v1/status")
    cm = Conn(socket.AF_INET, ("127.0.0.1", port), "/metrics")
    c2 = Conn(socket.AF_UNIX, d.sock, "/v1/status")
    try:
        t1 = c1.get()
        tm = cm.get()
        t2 = c2.get()
    finally:
        for c in (c1, cm, c2):
            c.close()
    series, families = parse_metrics(tm)
    return flatten(json.loads(t1)), series, families, flatten(json.loads(t2))


def run_batches(r, d, port, load_pgid, leak_pid):
    quiet = []       # (status, series) of quiet rounds
    brackets = []    # counter outside [status before, status after]
    missing = set()  # MAP entries with no value on one side
    last = None
    tries_total = 0
    for batch in range(BATCHES):
        os.killpg(load_pgid, signal.SIGCONT)
        os.kill(leak_pid, signal.SIGCONT)
        time.sleep(1.5)  # the load runs: the model churns between batches
        stop_group(load_pgid)
        os.kill(leak_pid, signal.SIGSTOP)
        T.wait_proc_stopped(leak_pid)
        d.status()  # drains what the load made before it stopped
        got = 0
        for _ in range(TRIES_PER_BATCH):
            tries_total += 1
            s1, series, fams, s2 = take(d, port)
            last = (s1, series, fams)
            diff_round = []
            for key, spec, kind in MAP:
                a, m, b = s1.get(key), metric_value(series, fams, spec), s2.get(key)
                if a is None or m is None or b is None:
                    missing.add((key, spec, a is None or b is None, m is None))
                    continue
                if a != b:
                    diff_round.append(key)
                if kind == "counter" and not (a <= m <= b):
                    brackets.append(f"{key}: status {a}, then {spec} {m}, then status {b}")
            if not diff_round:
                quiet.append((s1, series, fams))
                got += 1
                if got >= QUIET_PER_BATCH:
                    break
        T.log(f"batch {batch}: {got} quiet rounds; events_received {s1.get('events_received')}"
              f", fds {s1.get('fds')}, processes {s1.get('processes')}")
    T.log(f"{len(quiet)} quiet rounds of {tries_total}")

    with r.case("status and metrics: every status key and fdwatch_* family classified"):
        s1, series, fams = last
        unknown_keys = sorted(k for k in s1 if k not in {m[0] for m in MAP} | STATUS_ONLY)
        mapped_fams = {re.sub(r"\{.*", "", spec.replace("sum:", "")) for _, spec, _ in MAP}
        unknown_fams = sorted(f for f in fams if f.startswith("fdwatch_")
                              and f not in mapped_fams | METRICS_ONLY)
        dropped_mapped = {re.search(r'resource="([^"]+)"', spec).group(1)
                          for _, spec, _ in MAP if "resource=" in spec}
        unknown_dropped = sorted(
            re.search(r'resource="([^"]+)"', k).group(1) for k in fams.get("fdwatch_dropped_total", [])
            if re.search(r'resource="([^"]+)"', k).group(1) not in dropped_mapped | DROPPED_METRICS_ONLY)
        check(not unknown_keys and not unknown_fams and not unknown_dropped,
              "unclassified (add to MAP, STATUS_ONLY or METRICS_ONLY): status keys "
              f"{unknown_keys}, metric families {unknown_fams}, dropped resources "
              f"{unknown_dropped}")
        check(not missing, "figures missing on one side: " + "; ".join(
            f"{k} ({'status' if s else ''}{' and ' if s and m else ''}{spec if m else ''} "
            "absent)" for k, spec, s, m in sorted(missing)))

    with r.case("status and metrics: version and abi equal fdwatch_build_info's labels"):
        s1, series, fams = last
        info = fams.get("fdwatch_build_info", [])
        check_eq(len(info), 1, "fdwatch_build_info samples")
        check(f'version="{s1["version"]}"' in info[0] and f'abi="{s1["abi"]}"' in info[0],
              f"{info[0]} vs status version {s1['version']!r} abi {s1['abi']!r}")

    with r.case("status and metrics: counters lie between the statuses taken before and "
                "after, in every round"):
        check(not brackets, f"{len(brackets)} times:\n" + T.indent("\n".join(brackets[:30])))

    with r.case(f"status and metrics: at least {BATCHES} quiet rounds (load stopped, drained)"):
        check(len(quiet) >= BATCHES,
              f"only {len(quiet)} rounds of {tries_total} had both statuses agree: the machine "
              "never held still for the ~10 ms of a round")

    with r.case("status and metrics: in quiet rounds every compared figure is the same number"):
        check(quiet, "no quiet round to compare")
        disagree = {}
        for s, series, fams in quiet:
            for key, spec, _ in MAP:
                a, m = s.get(key), metric_value(series, fams, spec)
                if a is not None and m is not None and a != m:
                    disagree.setdefault((key, spec), []).append((a, m))
        nonzero = sorted(key for key, spec, _ in MAP
                         if any(s.get(key) for s, _, _ in quiet))
        T.log(f"figures non-zero in some quiet round: {', '.join(nonzero)}")
        check(not disagree, f"{len(disagree)} figures differ:\n" + T.indent("\n".join(
            f"status {k} vs {spec}: {len(v)}/{len(quiet)} quiet rounds, e.g. status {v[0][0]}, "
            f"metrics {v[0][1]}" for (k, spec), v in sorted(disagree.items()))))

    with r.case("status and metrics: the comparison is not of zeros (events, fds, processes, "
                "tables, audit runs, history drops, a firing alert)"):
        check(quiet, "no quiet round")
        s = quiet[-1][0]
        for key in ("events_received", "fds", "processes", "tables", "audit.runs",
                    "audit.checked", "history.dropped", "alerts.firing",
                    "alerts.detector_processes"):
            check(s.get(key, 0) > 0, f"status {key} is {s.get(key)!r} in the last quiet round")


if __name__ == "__main__":
    T.run(main)
