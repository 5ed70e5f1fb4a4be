#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The growth detector and leak sites on real processes, default settings.

(1) fdw_leak dup: the textbook leak (open a file, dup it, close only the
original) 20 times a second. Reported as fd-growth within 45 s of its
start (the fast detector wants its whole 30 s window of growth), with a rate near 1200/min and the time to the process's own
RLIMIT_NOFILE soft limit; the limit is re-read when prlimit changes it; the
leak is ONE site (dup of openat <path>) whose count is exactly the number
of fds the program says it leaked, with a captured user stack that names
the leaking function (the program is built with frame pointers). Logged
once with <4> when it fires, once with <5> when the process exits.
(2) fdw_leak steady, in the same run: 400 fds opened and closed every
second (clean, spiky): no alert of any kind.
(3) A second daemon with a short slow-detector interval: a leak of one fd
a second, below the fast detector's rate, is found by the slow detector."""

import os
import resource
import shutil
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwt-leaks-")
    try:
        run_all(r, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(r, tmp):
    path = os.path.join(tmp, "leaky.db")
    with open(path, "w") as f:
        f.write("data\n")

    with T.Daemon() as d:
        clean = H.LeakProg("steady", 45, 200)
        leak = H.LeakProg("dup", 20, 40, path)
        try:
            leak.expect("START")
            t0 = time.monotonic()
            clean.expect("START")
            soft = H.soft_nofile(leak.pid)

            with r.case("textbook leak at 20 fds/s: fd-growth within 45 s"):
                a = H.wait_alert(d, leak.pid, "fd-growth", 45)
                took = time.monotonic() - t0
                T.log(f"fd-growth alert {a['id']} after {took:.1f}s: {a['summary']}")
                check(took <= 45, f"reported after {took:.1f}s")
                ev = a["evidence"]
                check_eq(a["comm"], "fdw_leak", "comm")
                check(isinstance(a.get("start_time"), (int, float)) and a["start_time"] > 1e9,
                      f"start_time {a.get('start_time')!r}")
                check(900 <= ev["rate_per_min"] <= 1500,
                      f"rate {ev['rate_per_min']:.0f}/min, the program leaks 1200/min")
                check_eq(ev["limit_soft"], soft, "evidence limit_soft vs /proc/PID/limits")
                eta = ev["seconds_to_limit"]
                want = (soft - ev["fds"]) / (ev["rate_per_min"] / 60)
                check(eta is not None and abs(eta - want) <= max(5, want * 0.1),
                      f"seconds_to_limit {eta}, expected about {want:.0f}")
                check_eq(a["state"], "firing", "state")

            with r.case("prlimit: the new soft limit shows in the evidence"):
                hard = resource.prlimit(leak.pid, resource.RLIMIT_NOFILE)[1]
                new_soft = min(hard, 4000) if soft != 4000 else 3000
                resource.prlimit(leak.pid, resource.RLIMIT_NOFILE, (new_soft, hard))
                a = H.wait_for(lambda: [x for x in H.alerts_of(d, leak.pid, "fd-growth", "firing")
                                        if x["evidence"].get("limit_soft") == new_soft],
                               25, f"evidence with limit_soft {new_soft}")[0]
                check(a["evidence"]["seconds_to_limit"] < (new_soft / 20) + 5,
                      f"seconds_to_limit {a['evidence']['seconds_to_limit']} with limit {new_soft}")

            done = leak.expect("DONE", timeout=60)
            leaked = int(done["leaked"])
            first, last = int(done["first"]), int(done["last"])

            with r.case("the leak is one site with the leaked count and a stack"):
                doc = H.leaks(d, leak.pid)
                sites = doc.get("sites") or []
                check(sites, f"no sites for pid {leak.pid}: {str(doc)[:300]}")
                top = sites[0]
                T.log(f"top site: {top['count']} x {top['syscall']} of {top['opened_by']} "
                      f"{top['target']}; stacks {[(s['count'], s['frames'][:3]) for s in top['stacks']]}")
                check_eq(top["syscall"], "dup", "site syscall")
                check_eq(top["opened_by"], "openat", "site opened_by")
                check_eq(top["target"], H.pattern(path), "site target")
                check_eq(top["comm"], "fdw_leak", "site comm")
                check_eq(top["count"], leaked, "site count vs the fds the program leaked")
                same = [s for s in sites if s["target"] == H.pattern(path)]
                check_eq(len(same), 1, "sites with the leaked path")
                fds = [s["fd"] for s in top["sample_fds"]]
                check(fds and all(first <= fd <= last for fd in fds),
                      f"sample fds {fds} outside the leaked range {first}..{last}")
                check(all(s["origin"]["from_fd"] is not None for s in top["sample_fds"]),
                      "sample fds without from_fd (they are dups)")
                # stacks: captured once the process was suspect, so most fds have one
                check(doc.get("stacks_captured") is True, "stacks_captured")
                with_stack = sum(s["count"] for s in top["stacks"])
                check_eq(with_stack + top["without_stack"] + top["other_stacks"], leaked,
                         "stack counts add up to the site count")
                check(with_stack >= leaked // 2,
                      f"only {with_stack} of {leaked} fds have a stack")
                frames = [f for s in top["stacks"] for f in s["frames"]]
                check(any(f.startswith(("leak_loop+", "leak_once+")) and "(fdw_leak)" in f
                          for f in frames), f"no leak_loop/leak_once frame in {frames}")
                check(any(f.startswith("dup+") for f in frames),
                      f"the innermost frame is not dup: {frames[:2]}")

            with r.case("fdwatch leaks (table and --json) shows the alert"):
                c = d.cli("leaks")
                check_eq(c.returncode, 0, "exit code")
                rows = [l for l in c.stdout.splitlines() if f" {leak.pid} " in l]
                check(any("fd-growth" in l and "firing" in l for l in rows),
                      f"no firing fd-growth row for {leak.pid}:\n{c.stdout}")
                js = d.cli_json("leaks")
                check(any(x["pid"] == leak.pid and x["kind"] == "fd-growth" for x in js["alerts"]),
                      "leaks --json")

            with r.case("clean spiky program: no alert"):
                clean.expect("DONE", timeout=60)
                got = H.alerts_of(d, clean.pid)
                check(not got, f"alerts for the clean program: {[x['summary'] for x in got]}")

            with r.case("exit resolves it; fire and resolve logged once each"):
                a = H.alerts_of(d, leak.pid, "fd-growth")[0]
                leak.finish()
                a = H.wait_for(lambda: [x for x in H.alerts_of(d, leak.pid, "fd-growth")
                                        if x["id"] == a["id"] and x["state"] == "resolved"],
                               15, "resolved alert")[0]
                check_eq(a["resolution"], "process exited", "resolution")
                check(a["resolved_at"] >= a["fired_at"], "resolved_at before fired_at")
                lines = H.log_lines(d, a["id"])
                check_eq([(p, w) for p, w, _ in lines], [(4, "firing"), (5, "resolved")],
                         f"log lines of alert {a['id']}: {lines}")
                check(H.alerts_of(d, leak.pid, state="firing") == [],
                      "alerts still firing for an exited process")
        finally:
            leak.kill()
            clean.kill()

    with T.Daemon(args=["--leak", "slow_interval=2", "--leak", "slow_min_samples=8",
                        "--leak", "slow_min_rise=6"]) as d:
        slow = H.LeakProg("slow", 60, 0)
        try:
            slow.expect("START")
            t0 = time.monotonic()
            with r.case("a slow leak (1 fd/s) is found by the slow detector"):
                a = H.wait_alert(d, slow.pid, "fd-growth", 60)
                T.log(f"slow: alert after {time.monotonic() - t0:.1f}s: {a['summary']}")
                ev = a["evidence"]
                check_eq(ev["detector"], "slow", "detector")
                check(40 <= ev["rate_per_min"] <= 80, f"rate {ev['rate_per_min']:.1f}/min, "
                      "the program leaks 60/min")
                top = ev["sites"][0]
                check_eq((top["syscall"], top["type"]), ("socket", "sock"), "top site")
            slow.send("stop")
            done = slow.expect("DONE")
            with r.case("slow leak: the site count is what the program leaked"):
                top = H.leaks(d, slow.pid)["sites"][0]
                check_eq(top["count"], int(done["leaked"]), "site count")
        finally:
            slow.kill()


if __name__ == "__main__":
    T.run(main)
