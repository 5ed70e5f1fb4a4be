#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kill -9 of fdwatchd, again and again, while it writes alerts, and a
restart each time on the same socket, lock file and state directory.

A churn of short-lived processes that run into EMFILE (each one an
fd-limit-hit alert that fires, then resolves when it exits) keeps the
alert store dirty, so the state file (alerts/alerts.c: temp file, fsync,
rename) is rewritten every few seconds; the daemon is killed with SIGKILL
at a random moment ROUNDS times. After every kill:

- the state file is whole JSON, no `.corrupt` file appears, and no temp
  file is left beside it after the restart;
- the restarted daemon (stale socket replaced, lock taken over) is ready,
  serves every alert id the file held (persisted alerts back), and its
  table of a process that lived through the kill matches /proc
  (`fdwatch verify PID`: rebuilt from /proc);
- the last restart stops cleanly with SIGTERM.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq

ROUNDS = 6

# Children that hit EMFILE and hold it for a while, one after another.
CHURN = r'''
import os, resource, subprocess, sys, time
child = r"""
import os, resource, time
resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))
fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
for _ in range(3):
    try:
        os.open("/dev/null", os.O_RDONLY)
    except OSError:
        pass
time.sleep(2.5)
"""
procs = []
while True:
    procs = [p for p in procs if p.poll() is None]
    while len(procs) < 6:
        procs.append(subprocess.Popen([sys.executable, "-c", child]))
    time.sleep(0.3)
'''

HOLDER = r'''
import os, sys, time
fds = [os.open(sys.argv[1], os.O_RDONLY) for _ in range(40)]
print("ready", flush=True)
time.sleep(3600)
'''


class Fixed:
    """fdwatchd on fixed paths (so that a restart meets what the killed one left)."""

    def __init__(self, tmp):
        self.sock = os.path.join(tmp, "fdwatch.sock")
        self.state = os.path.join(tmp, "state")
        self.lock = os.path.join(tmp, "fdwatchd.lock")
        self.log_path = os.path.join(tmp, "daemon.log")
        os.makedirs(self.state, exist_ok=True)
        self.proc = None

    def start(self, timeout=90):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([T.FDWATCHD, "--socket", self.sock, "--state-dir", self.state,
                                      "--lock-file", self.lock, "--max-alerts", "2000"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check(self.proc.poll() is None, f"fdwatchd exited {self.proc.returncode}\n{self.tail()}")
            if self.cli("status", timeout=max(1, deadline - time.monotonic())).returncode == 0:
                return
            time.sleep(0.1)
        raise T.Failure(f"not ready in {timeout}s\n{self.tail()}")

    def cli(self, *args, timeout=30):
        try:
            return subprocess.run([T.FDWATCH, "--socket", self.sock] + list(args),
                                  capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise T.Failure(f"fdwatch {' '.join(args)}: no answer in {timeout}s\n{self.tail()}")

    def get(self, path):
        c = self.cli("--json", *path)
        check_eq(c.returncode, 0, f"fdwatch {' '.join(path)}: {c.stderr.strip()}")
        return [json.loads(x) for x in c.stdout.splitlines() if x.strip()]

    def tail(self):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-30:])


def state_file_ids(path):
    with open(path) as f:
        doc = json.load(f)  # whole JSON, or this raises
    alerts = doc["alerts"] if isinstance(doc, dict) else doc
    return {a["id"] for a in alerts}


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwt-kill9-")
    target = os.path.join(tmp, "held-file")
    open(target, "w").close()
    churn = subprocess.Popen([sys.executable, "-c", CHURN], start_new_session=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, target], stdout=subprocess.PIPE,
                              text=True)
    d = Fixed(tmp)
    statef = os.path.join(d.state, "alerts.json")
    try:
        check_eq(holder.stdout.readline().strip(), "ready", "holder")
        d.start()
        rng = random.Random(int(os.environ.get("FDWT_SEED", "0")) or None)
        saves = 0
        for rnd in range(ROUNDS):
            with r.case(f"round {rnd + 1}: kill -9 while alerts are written, restart"):
                # wait for the file to be rewritten at least once in this life
                m0 = os.stat(statef).st_mtime_ns if os.path.exists(statef) else 0
                deadline = time.monotonic() + 30
                while (not os.path.exists(statef) or os.stat(statef).st_mtime_ns == m0):
                    check(time.monotonic() < deadline,
                          f"the state file was not written in 30 s\n{d.tail()}")
                    time.sleep(0.05)
                saves += 1
                time.sleep(rng.uniform(0.0, 3.0))
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                check(os.path.exists(d.sock), "the killed daemon's socket file is gone (no test)")
                ids = state_file_ids(statef)
                check(len(ids) > 0, "no alerts in the state file")
                d.start()
                docs = d.get(["leaks"])
                alerts = docs[0]["alerts"] if len(docs) == 1 and "alerts" in docs[0] else docs
                got = {a["id"] for a in alerts}
                missing = ids - got
                check(not missing, f"alerts of the file not served after restart: {sorted(missing)[:10]}")
                left = [n for n in os.listdir(d.state) if n.endswith((".tmp", ".corrupt"))]
                check(not left, f"beside the state file after the restart: {left}")
                c = d.cli("verify", str(holder.pid))
                check_eq(c.returncode, 0, f"verify of a process that lived through the kill: "
                                          f"{c.stdout[-500:]} {c.stderr.strip()}")
                fds = d.get(["fds", str(holder.pid)])
                names = json.dumps(fds)
                check(names.count(target) >= 40, "the held file's fds not in the rebuilt table")
                T.log(f"round {rnd + 1}: {len(ids)} alerts in the file, all back")
        with r.case("clean stop after the last restart"):
            d.proc.send_signal(signal.SIGTERM)
            check_eq(d.proc.wait(timeout=30), 0, "exit code")
            check(not os.path.exists(d.sock), "socket left after SIGTERM")
            ids = state_file_ids(statef)
            check(len(ids) > 0, "alerts lost at the clean stop")
            with open(d.log_path, errors="replace") as f:
                log = f.read()
            check("corrupt" not in log, "a state file was found corrupt:\n" + d.tail())
    finally:
        os.killpg(churn.pid, signal.SIGKILL)
        churn.wait()
        holder.kill()
        holder.wait()
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


T.run(main)
