#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon's CPU per event, builds compared in alternating runs (A B A B).

usage: bench/cpu_ab.py PAIRS N LABEL=SOURCE_ROOT[,DAEMON_ARG...] [...] [--mode dupclose]

DAEMON_ARGs (comma-separated) go to that arm's fdwatchd only, e.g.
ring4=.,--ringbuf-mb,4 beside ring64=.,--ringbuf-mb,64.

A SOURCE_ROOT of "-" runs the loop (this checkout's) with no daemon: the
untraced arm, for the loop's traced/untraced ratio of each build.

Each run starts ROOT/build/daemon/fdwatchd on a private socket and state
directory, runs ROOT/build/bench/fdwatch-bench-loop MODE N pinned to CPU 1,
and divides the daemon's CPU time (utime+stime from /proc/PID/stat, and the
threads' schedstat run time) by the events it received meanwhile (status
events_received). CPU time, not wall time: fair on a shared machine.
Prints each run and the medians and ranges per build: the daemon's CPU per
event, and the loop's own ns per iteration (its ratio to the untraced arm's
median, when there is one). The order of the builds rotates each pair, and
each run waits until no fdwatchd-detach (a stopped daemon's child, which
keeps its probes attached ~2 s) is left.
"""
import json, os, shutil, subprocess, sys, tempfile, time, glob, statistics

TICK = os.sysconf("SC_CLK_TCK")


def stat_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime, s


def sched_ns(pid):
    tot = 0
    for t in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(t) as f:
                tot += int(f.read().split()[0])
        except OSError:
            pass
    return tot


def status(cli, sock):
    for i in range(20):
        out = subprocess.run([cli, "--socket", sock, "status", "--json"], capture_output=True,
                             text=True, timeout=60)
        try:
            return json.loads(out.stdout)
        except ValueError:
            print("status failed:", out.stderr.strip(), file=sys.stderr)
            time.sleep(0.5)
    raise RuntimeError("no status")


def loop_ns(out):
    for w in out.split():
        if w.startswith("ns_per_iter="):
            return float(w.split("=", 1)[1])
    return float("nan")


def detachers():
    """pids of fdwatchd-detach: a stopped daemon's child that holds its
    probe links ~2 s more; meanwhile the next loop runs traced by them."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "fdwatchd-detach":
                        out.append(int(d))
            except OSError:
                pass
    return out


def wait_detached(limit=30.0):
    end = time.time() + limit
    while detachers() and time.time() < end:
        time.sleep(0.1)
    left = detachers()
    if left:
        print(f"warning: fdwatchd-detach {left} still holds probes", file=sys.stderr, flush=True)


def run_untraced(n, mode):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    loop = subprocess.run(["taskset", "-c", "1", os.path.join(here, "build/bench/fdwatch-bench-loop"),
                           mode, str(n)], capture_output=True, text=True, check=True)
    return dict(ev=0, lost=0, cpu_stat_ns=float("nan"), cpu_sched_ns=float("nan"),
                loop=loop.stdout.strip())


def run_one(root, n, mode, extra):
    wait_detached()
    if root == "-":
        return run_untraced(n, mode)
    tmp = tempfile.mkdtemp(prefix="cpe-", dir=None)
    sock = os.path.join(tmp, "s.sock")
    cli = os.path.join(root, "build/cli/fdwatch")
    cmd = [os.path.join(root, "build/daemon/fdwatchd"), "--socket", sock,
           "--state-dir", os.path.join(tmp, "state"), "--audit-interval", "0"] + extra
    if "--lock-file" in subprocess.run([cmd[0], "--help"], capture_output=True, text=True).stdout:
        cmd += ["--lock-file", os.path.join(tmp, "lock")]
    log = open(os.path.join(tmp, "log"), "w")
    d = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            if os.path.exists(sock):
                try:
                    if status(cli, sock).get("ready"):
                        break
                except Exception:
                    pass
            time.sleep(0.1)
        time.sleep(0.5)
        s0 = status(cli, sock)
        c0, n0 = stat_cpu(d.pid), sched_ns(d.pid)
        loop = subprocess.run(["taskset", "-c", "1", os.path.join(root, "build/bench/fdwatch-bench-loop"),
                               mode, str(n)], capture_output=True, text=True)
        s1 = status(cli, sock)
        c1, n1 = stat_cpu(d.pid), sched_ns(d.pid)
        ev = s1["events_received"] - s0["events_received"]
        if ev <= 0:
            raise RuntimeError("the daemon received no events during the loop")
        lost = s1["events_lost"] - s0["events_lost"]
        return dict(ev=ev, lost=lost, cpu_stat_ns=(c1 - c0) * 1e9 / ev, cpu_sched_ns=(n1 - n0) / ev,
                    loop=loop.stdout.strip())
    finally:
        d.terminate()
        try:
            d.wait(20)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    args = sys.argv[1:]
    mode = "dupclose"
    extra = []
    if "--mode" in args:
        i = args.index("--mode"); mode = args[i + 1]; del args[i:i + 2]
    pairs, n = int(args[0]), int(args[1])
    builds, arm_args = [], {}
    for a in args[2:]:
        lab, spec = a.split("=", 1)
        root, *dargs = spec.split(",")
        builds.append((lab, root))
        arm_args[lab] = dargs
    res = {lab: [] for lab, _ in builds}
    for i in range(pairs):
        # the order rotates: no build always runs first after another's stop
        for lab, root in builds[i % len(builds):] + builds[:i % len(builds)]:
            for attempt in range(3):
                try:
                    r = run_one(root, n, mode, extra + arm_args[lab])
                    break
                except Exception as e:
                    print(f"{i} {lab}: run failed ({e}), again", flush=True)
            else:
                continue
            res[lab].append(r)
            print(f"{i} {lab}: ev={r['ev']} lost={r['lost']} stat={r['cpu_stat_ns']:.1f} "
                  f"sched={r['cpu_sched_ns']:.1f} ns/ev  [{r['loop']}]", flush=True)
    base = [loop_ns(r["loop"]) for lab, root in builds if root == "-" for r in res[lab]]
    base = [b for b in base if b == b]  # a loop that printed no ns_per_iter: NaN
    base_med = statistics.median(base) if base else None
    for lab, rs in res.items():
        if not rs:
            continue
        lp = [loop_ns(r["loop"]) for r in rs]
        line = f"{lab}: loop {statistics.median(lp):.1f} ns/iter ({min(lp):.1f}-{max(lp):.1f})"
        if base_med and dict(builds)[lab] != "-":
            line += f", {statistics.median(lp) / base_med:.3f}x untraced"
        a = [r["cpu_stat_ns"] for r in rs]
        b = [r["cpu_sched_ns"] for r in rs]
        if dict(builds)[lab] != "-":
            line += (f"; daemon stat median {statistics.median(a):.1f} range {min(a):.1f}-{max(a):.1f},"
                     f" sched median {statistics.median(b):.1f} range {min(b):.1f}-{max(b):.1f}"
                     " ns/event")
        print(line)


main()
