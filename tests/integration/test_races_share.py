#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One user's idle processes cannot take the race detector from the host.

The detector keeps findings state for max_race_procs processes (1,024 by
default) until they exit. Before, the first processes with a finding took
it, whoever they were: an unprivileged user's 1,024 idle two-thread
processes, each with one double close, left every other process on the
host without race findings for as long as they lived (counted in
fdwatch_dropped_total{resource="race_processes"}, nothing else). It is now
shared by owner as the alert store is: a user at most a quarter, users
together all but the last eighth.

Here with max_race_procs=16 (a quarter is 4): 18 stopped `fdw_race spam 1`
processes of uid 65534 (two threads, one double close each), then one of
root's: root's double close is reported, uid 65534 holds 4 processes'
state, the rest refused and counted."""

import os
import signal
import subprocess
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H
from test_races import races, wait_finding

NOBODY = 65534


def spam(user):
    wrap = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] if user else []
    p = subprocess.Popen(wrap + [os.path.join(T.PROGS, "fdw_race"), "spam", "1"],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    return p


def dropped_race_procs(d):
    """fdwatch_dropped_total{resource="race_processes"} and {..._share}, from /metrics."""
    out = {}
    status, text, _ = H.http_get(f"http://127.0.0.1:{d.metrics_port}/metrics")
    check_eq(status, 200, "GET /metrics")
    for line in text.splitlines():
        for res in ("race_processes", "race_processes_share"):
            if line.startswith(f'fdwatch_dropped_total{{resource="{res}"}}'):
                out[res] = float(line.split()[-1])
    return out


def main(r):
    T.require_root_and_bpf()
    with T.Daemon(args=["--leak", "max_race_procs=16",
                        "--metrics-listen", "127.0.0.1:0"]) as d:
        d.metrics_port = H.metrics_port(d)
        with r.case("one user's 18 processes with a double close leave root's found"):
            flood = []
            try:
                for _ in range(18):
                    flood.append(spam(True))
                for sp in flood:
                    line = sp.stdout.readline().decode()
                    check(line.startswith("CP spam"), f"spam: {line!r}")
                # every flood process's double close applied and tried
                deadline = time.monotonic() + 20
                while True:
                    dr = dropped_race_procs(d)
                    if dr.get("race_processes", 0) >= 12 or time.monotonic() > deadline:
                        break
                    time.sleep(0.3)
                root = spam(False)
                try:
                    line = root.stdout.readline().decode()
                    check(line.startswith("CP spam"), f"spam: {line!r}")
                    a = wait_finding(d, root.pid, "double-close")
                    check_eq(a.get("uid"), 0, "root's alert")
                finally:
                    root.send_signal(signal.SIGKILL)
                    root.wait()
                mine = {a["pid"] for a in d.cli_json("races")["races"]
                        if a["state"] == "firing" and a.get("uid") == NOBODY}
                check_eq(len(mine), 4, "processes of uid 65534 with findings (a quarter of 16)")
                dr = dropped_race_procs(d)
                check(dr.get("race_processes_share", 0) >= 14 and
                      dr.get("race_processes", 0) >= dr.get("race_processes_share", 0),
                      f"refusals counted: {dr!r}")
            finally:
                for sp in flood:
                    sp.send_signal(signal.SIGKILL)
                    sp.wait()


if __name__ == "__main__":
    T.run(main)
