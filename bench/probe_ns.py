#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The probes' own run time per call, builds compared in alternating runs.

usage: sudo bench/probe_ns.py ROUNDS LABEL=SOURCE_ROOT [LABEL=SOURCE_ROOT ...]
           [--loops "dupclose:1000000 openclose:500000"] [--progs exit_close,exit_dup,exit_openat]

Turns on kernel.bpf_stats_enabled (back off at the end), and each round
starts every build's ROOT/build/daemon/fdwatchd in turn on a private socket
and state directory, runs ROOT/build/bench/fdwatch-bench-loop for each loop
pinned to CPU 1, and prints each named program's run_time_ns / run_cnt over
the loops (bpftool prog show). The kernel's stats add their own ~40 ns per
run (two clock reads): compare builds, not absolute figures. Run time of
the program only: the tracepoint plumbing and the daemon are not in it
(bench/run.sh measures the whole).
"""
import json, os, shutil, subprocess, sys, tempfile, time


def progs_stats(names):
    out = json.loads(subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True,
                                    text=True, check=True).stdout)
    return {p["id"]: (p.get("name"), p.get("run_cnt", 0), p.get("run_time_ns", 0))
            for p in out if p.get("name") in names}


def run_one(root, loops, names):
    tmp = tempfile.mkdtemp(prefix="probe-ns-")
    sock = os.path.join(tmp, "s.sock")
    cli = os.path.join(root, "build/cli/fdwatch")
    cmd = ["taskset", "-c", "0", os.path.join(root, "build/daemon/fdwatchd"),
           "--config", "/dev/null", "--socket", sock, "--state-dir", os.path.join(tmp, "state"),
           "--lock-file", os.path.join(tmp, "lock"), "--audit-interval", "0"]
    log = open(os.path.join(tmp, "log"), "w")
    d = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            if subprocess.run([cli, "--socket", sock, "status"], capture_output=True).returncode == 0:
                break
            if d.poll() is not None:
                raise RuntimeError(f"fdwatchd exited: see {tmp}/log")
            time.sleep(0.1)
        before = progs_stats(names)
        loop = os.path.join(root, "build/bench/fdwatch-bench-loop")
        for mode, n in loops:
            subprocess.run(["taskset", "-c", "1", loop, mode, str(n)], check=True,
                           stdout=subprocess.DEVNULL)
        after = progs_stats(names)
        res = {}
        for pid, (name, cnt, ns) in after.items():
            if pid in before and cnt > before[pid][1]:
                res[name] = (ns - before[pid][2]) / (cnt - before[pid][1])
        return res
    finally:
        d.terminate()
        d.wait(timeout=60)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    loops = [("dupclose", 1000000), ("openclose", 500000)]
    names = ["exit_close", "exit_dup", "exit_openat"]
    args, builds = [], []
    i = 0
    while i < len(argv):
        if argv[i] == "--loops":
            loops = [(m, int(n)) for m, n in (x.split(":") for x in argv[i + 1].split())]
            i += 2
        elif argv[i] == "--progs":
            names = argv[i + 1].split(",")
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) < 2:
        sys.exit(__doc__)
    rounds = int(args[0])
    builds = [a.split("=", 1) for a in args[1:]]
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        was = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    table = {}
    try:
        for r in range(rounds):
            for label, root in builds:
                res = run_one(root, loops, names)
                table.setdefault(label, []).append(res)
                print(f"round {r + 1} {label:>10}: " +
                      "  ".join(f"{n} {res.get(n, float('nan')):.1f}" for n in names), flush=True)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(was)
    print("median ns per run:")
    for label, rows in table.items():
        meds = []
        for n in names:
            v = sorted(x[n] for x in rows if n in x)
            meds.append(f"{n} {v[len(v) // 2]:.1f} ({v[0]:.0f}-{v[-1]:.0f})" if v else f"{n} -")
        print(f"  {label:>10}: " + "  ".join(meds))


if __name__ == "__main__":
    main(sys.argv[1:])
