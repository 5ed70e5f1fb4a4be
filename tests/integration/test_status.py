#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`fdwatch status` and `ps`: the documented fields with real values —
events_received grows by at least the syscalls we make, events_lost is
reported (total = sum of per-CPU counters), version/abi/pid are the real
ones, processes/fds agree with /proc, the periodic audit runs and finds no
divergence, the history is bounded by --history, `verify` of everything
passes on a quiet machine, `ps` agrees with /proc for a stopped process."""

import os
import re
import time

import fdwtest as T
from fdwtest import check, check_eq

SRC = os.environ.get("FDWATCH_SOURCE_ROOT") or T.SRC_ROOT


def abi_version():
    with open(os.path.join(SRC, "include", "fdwatch_event.h")) as f:
        m = re.search(r"#define\s+FDW_ABI_VERSION\s+(\d+)", f.read())
    return int(m.group(1))


def project_version():
    v = os.environ.get("FDWATCH_VERSION")
    if v:
        return v
    with open(os.path.join(SRC, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def ncpus(path):
    with open(path) as f:
        n = 0
        for part in f.read().strip().split(","):
            a, _, b = part.partition("-")
            n += int(b or a) - int(a) + 1
        return n


PF_KTHREAD = 0x00200000


def proc_pids():
    """User-space processes (kernel threads have no file table)."""
    out = set()
    for x in os.listdir("/proc"):
        if not x.isdigit():
            continue
        try:
            with open(f"/proc/{x}/stat") as f:
                s = f.read()
        except OSError:
            continue
        flags = int(s[s.rindex(")") + 2:].split()[6])
        if not flags & PF_KTHREAD:
            out.add(int(x))
    return out


def dup_close_loop(n):
    fd = os.open("/dev/null", os.O_RDONLY)
    for _ in range(n):
        os.close(os.dup(fd))
    os.close(fd)


def main(r):
    with T.Daemon(args=["--audit-interval", "1"]) as d:
        st = {}
        with r.case("status: documented fields with the real version, abi and pid"):
            st = d.status()
            for k, t in (("version", str), ("abi", int), ("pid", int), ("uptime_s", (int, float)),
                         ("events_received", int), ("events_lost", int),
                         ("events_lost_per_cpu", list), ("processes", int), ("tables", int),
                         ("fds", int), ("stale_tables", int), ("resyncs", int),
                         ("audit", dict), ("history", dict), ("limits", dict), ("dropped", dict)):
                check(isinstance(st.get(k), t) and not isinstance(st.get(k), bool),
                      f"status.{k} = {st.get(k)!r}, expected {t}")
            check_eq(st["version"], project_version(), "status.version")
            check_eq(st["abi"], abi_version(), "status.abi (FDW_ABI_VERSION)")
            check_eq(st["pid"], d.proc.pid, "status.pid")
        with r.case("status: events_lost equals the sum of per-CPU counters, one per CPU"):
            per = st["events_lost_per_cpu"]
            check(all(isinstance(x, int) and x >= 0 for x in per), f"per-CPU {per}")
            check_eq(sum(per), st["events_lost"], "sum(events_lost_per_cpu)")
            possible = ncpus("/sys/devices/system/cpu/possible")
            online = ncpus("/sys/devices/system/cpu/online")
            check(len(per) in (possible, online),
                  f"{len(per)} per-CPU counters; this machine has {possible} possible CPUs")
        with r.case("status: events_received grows by at least the 2000 syscalls we made"):
            before = d.status()
            dup_close_loop(1000)
            after = d.status()
            grew = after["events_received"] - before["events_received"]
            check(grew >= 2000, f"events_received grew by {grew}, expected >= 2000")
            check(after["uptime_s"] > before["uptime_s"], "uptime_s did not grow")
        with r.case("status: processes and fds agree with /proc"):
            s = d.status()
            n = len(proc_pids())
            check(abs(s["processes"] - n) <= max(3, n // 10),
                  f"status.processes {s['processes']}, /proc has {n}")
            procs = d.processes_by_pid()
            total, diffs = 0, []
            for pid in sorted(proc_pids()):
                if pid in (os.getpid(), d.proc.pid):
                    continue  # both change their tables while we look
                try:
                    names = os.listdir(f"/proc/{pid}/fd")
                    if names:
                        os.readlink(f"/proc/{pid}/fd/{names[0]}")
                except OSError:
                    continue  # not readable even for root here (e.g. another pid namespace's init)
                total += len(names)
                got = procs.get(pid, {}).get("fds")
                if got != len(names):
                    diffs.append(f"pid {pid} ({T.proc_comm(pid)}): ps fds {got}, /proc {len(names)}")
            check(len(diffs) <= 2, f"{len(diffs)} processes whose fd count differs from /proc:\n"
                  + T.indent("\n".join(diffs[:30])))
            ps_total = sum(p.get("fds", 0) for p in procs.values())
            check(abs(s["fds"] - ps_total) <= 20,
                  f"status.fds {s['fds']} but `ps` adds up to {ps_total}")
            check(s["tables"] <= s["processes"], f"tables {s['tables']} > processes {s['processes']}")
        with r.case("status: the periodic audit runs and finds no divergence"):
            deadline = time.monotonic() + 10
            while True:
                a = d.status()["audit"]
                if a.get("runs", 0) >= 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            check(a.get("runs", 0) >= 2, f"audit after 10 s with --audit-interval 1: {a}")
            check(a.get("checked", 0) > 0, f"audit checked nothing: {a}")
            check_eq(a.get("divergences"), 0, "audit.divergences")
        with r.case("status without --json prints text and exits 0"):
            c = d.cli("status")
            check_eq(c.returncode, 0, "exit code")
            check(c.stdout.strip() and not c.stdout.lstrip().startswith("{"),
                  f"text status looks like JSON or is empty: {c.stdout[:200]!r}")
        with r.case("ps and fds agree with /proc for a stopped process"):
            prog = T.Prog("fdw_events")
            try:
                cp = prog.next_cp("did")
                procs = d.processes_by_pid()
                p = procs.get(cp.pid)
                check(p is not None, f"pid {cp.pid} not in ps")
                check_eq(p.get("fds"), len(T.proc_table(cp.pid)), "ps fds")
                check_eq(p.get("comm"), T.proc_comm(cp.pid), "ps comm")
                check_eq(p.get("threads"), 1, "ps threads")
                check(p.get("stale") is False, f"ps stale {p.get('stale')!r}")
                T.assert_table_matches(d, cp.pid)
                c = d.cli("ps")
                check(c.returncode == 0 and str(cp.pid) in c.stdout, "text ps lacks the pid")
                prog.run_out()
            finally:
                if prog.p.poll() is None:
                    prog.kill()
        with r.case("verify (all processes) passes on a quiet machine"):
            outs = []
            for _ in range(3):
                c = d.verify()
                if c.returncode == 0:
                    break
                outs.append(c.stdout.strip()[:1500] + c.stderr.strip())
                time.sleep(0.5)
            check(c.returncode == 0, "`fdwatch verify` failed 3 times:\n" + T.indent("\n---\n".join(outs)))

    with T.Daemon(args=["--history", "1000"]) as d:
        with r.case("--history 1000 bounds the event history"):
            dup_close_loop(1500)
            h = d.status()["history"]
            check_eq(h.get("capacity"), 1000, "history.capacity")
            check(h.get("size", 0) <= 1000, f"history.size {h.get('size')} > capacity")
            check(h.get("dropped", 0) > 0, f"history.dropped {h.get('dropped')} after >3000 events")
            evs = d.events(limit=100000)
            check(len(evs) <= 1000, f"{len(evs)} events returned with capacity 1000")


if __name__ == "__main__":
    T.run(main)
