#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real server is not a leak; real leaks in the same run are.

Debian's nginx (master and 2 workers, a temporary prefix and config on
127.0.0.1) under a bounded load from this script that rises and falls: the
number of keep-alive connections held moves between troughs (200-900) and
peaks (1,500-2,400) in phases of 8-16 s, ramping at a few hundred
connections a second, 50 of them replaced every second, and 2-8 threads
(fewer in troughs) doing short requests on fresh connections, for 150 s.

The detectors' windows are shortened so that both can fire within the run:
the slow detector's interval is 3 s (--leak slow_interval=3: 10 intervals,
its minimum, in 30 s; 50 in the run), the fast one keeps its 30 s window.
Two leaks in the same run prove the detectors were live: fdw_leak leaking
20 fds a second is reported within 45 s (its 30 s window of sustained
growth, then a tick and a drain), and one leaking 1 fd a second
(below the fast detector's rate) is reported by the slow detector. nginx
gets no alert of any kind, and its workers' fds (from /proc) really rose
and fell by hundreds several times."""

import os
import random
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

DURATION = 150
LEAK_ARGS = ["--leak", "slow_interval=3"]
PEAK = (1500, 2400)
TROUGH = (200, 900)
PHASE_S = (8, 16)
RAMP_UP = 250    # connections opened per second at most
RAMP_DOWN = 400  # closed per second at most
REPLACE = 50     # held connections replaced per second
CHURNERS = 8


def schedule(seed=11):
    """[(seconds from start, target held, active churners)]: a trough to
    begin with, then peaks and troughs in turn."""
    rnd = random.Random(seed)
    out, t, up = [(0.0, 300, 2)], 10.0, True
    while t < DURATION:
        lo, hi = PEAK if up else TROUGH
        out.append((t, rnd.randint(lo, hi), CHURNERS if up else 2))
        t += rnd.uniform(*PHASE_S)
        up = not up
    return out


def nginx_conf(prefix, port):
    return f"""
worker_processes 2;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_timeout 300s;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        location / {{ }}
    }}
}}
"""


REQ = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"
REQ_CLOSE = b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def read_response(s):
    """Reads one response with Content-Length; returns its status."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise OSError("closed")
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        b = s.recv(65536)
        if not b:
            raise OSError("closed")
        body += b
    return int(head.split()[1])


class Load:
    def __init__(self, port):
        self.port = port
        self.held = []
        self.stop = threading.Event()
        self.ok = 0
        self.errors = 0
        self.lock = threading.Lock()
        self.threads = []
        self.target = 0
        self.churners = 0

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.sendall(REQ)
        st = read_response(s)
        if st != 200:
            raise OSError(f"status {st}")
        return s

    def count(self, ok):
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.errors += 1

    def churn(self, i):
        while not self.stop.is_set():
            if i >= self.churners:
                self.stop.wait(0.2)
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                s.sendall(REQ_CLOSE)
                self.count(read_response(s) == 200)
                s.close()
            except OSError:
                self.count(False)
            time.sleep(0.01)

    def steer(self):
        """Ten times a second: towards the target, within the ramp rates;
        once a second: replace REPLACE random held connections."""
        rnd = random.Random(4)
        tick = 0
        while not self.stop.wait(0.1):
            tick += 1
            gap = self.target - len(self.held)
            for _ in range(min(gap, RAMP_UP // 10)):
                try:
                    self.held.append(self.connect())
                    self.count(True)
                except OSError:
                    self.count(False)
            for _ in range(min(-gap, RAMP_DOWN // 10)):
                self.held.pop(rnd.randrange(len(self.held))).close()
            if tick % 10 == 0 and self.held:
                for _ in range(REPLACE):
                    i = rnd.randrange(len(self.held))
                    try:
                        self.held[i].close()
                        self.held[i] = self.connect()
                        self.count(True)
                    except OSError:
                        self.count(False)

    def start(self):
        self.threads = [threading.Thread(target=self.churn, args=(i,), daemon=True)
                        for i in range(CHURNERS)]
        self.threads.append(threading.Thread(target=self.steer, daemon=True))
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        for s in self.held:
            s.close()


def swings(series, min_swing):
    """(rises, falls) of at least min_swing, between turning points."""
    ups = downs = 0
    lo = hi = series[0] if series else 0
    state = None
    for v in series:
        if state != "up" and v - lo >= min_swing:
            ups, state, hi = ups + 1, "up", v
        elif state != "down" and hi - v >= min_swing:
            downs, state, lo = downs + 1, "down", v
        if state != "down":
            hi = max(hi, v)
        if state != "up":
            lo = min(lo, v)
    return ups, downs


def children(pid):
    return [p for p, f in T.proc_stats() if int(f[1]) == pid]


def main(r):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                      else None)
    if not nginx:
        raise T.Skip("nginx not installed (apt install nginx)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = PEAK[1] + CHURNERS + 500
    if hard < need:
        raise T.Skip(f"RLIMIT_NOFILE hard limit {hard} too small for {PEAK[1]} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, need * 2)), hard))

    tmp = tempfile.mkdtemp(prefix="fdwnginx-")
    try:
        serve(r, tmp, nginx)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def serve(r, tmp, nginx):
    os.chmod(tmp, 0o755)  # workers run as an unprivileged user
    os.mkdir(os.path.join(tmp, "www"))
    with open(os.path.join(tmp, "www", "index.html"), "w") as f:
        f.write("hello from nginx\n" * 20)
    port = H.free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_conf(tmp, port))
    leakfile = os.path.join(tmp, "leaky")
    with open(leakfile, "w") as f:
        f.write("x\n")

    with T.Daemon(args=LEAK_ARGS) as d:
        ng = subprocess.Popen([nginx, "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "error.log")],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        load = None
        leaks = []
        try:
            def up():
                if ng.poll() is not None:
                    raise T.Failure(f"nginx exited with {ng.returncode}: "
                                    f"{ng.stderr.read().decode(errors='replace')}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return True
                except OSError:
                    return False
            H.wait_for(up, 30, "nginx accepting connections", 0.2)
            workers = H.wait_for(lambda: (lambda w: w if len(w) == 2 else None)(children(ng.pid)),
                                 10, "2 nginx workers")
            nginx_pids = [ng.pid] + workers
            T.log(f"nginx master {ng.pid}, workers {workers}, port {port}")

            plan = schedule()
            T.log("load plan (s, held, churners): "
                  + " ".join(f"{t:.0f}:{n}/{c}" for t, n, c in plan))
            load = Load(port)
            load.target, load.churners = plan[0][1], plan[0][2]
            load.start()
            fast = H.LeakProg("dup", 20, 45, leakfile)
            leaks.append(fast)
            fast.expect("START")
            slow = H.LeakProg("slow", 60, 0)
            leaks.append(slow)
            slow.expect("START")
            t0 = time.monotonic()

            series, fast_alert, slow_alert, step = [], None, None, 1
            while time.monotonic() - t0 < DURATION:
                now = time.monotonic() - t0
                while step < len(plan) and plan[step][0] <= now:
                    load.target, load.churners = plan[step][1], plan[step][2]
                    step += 1
                series.append(sum(len(os.listdir(f"/proc/{w}/fd")) for w in workers))
                if fast_alert is None:
                    got = H.alerts_of(d, fast.pid, "fd-growth", "firing")
                    if got:
                        fast_alert = (now, got[0])
                if slow_alert is None:
                    got = H.alerts_of(d, slow.pid, "fd-growth", "firing")
                    if got:
                        slow_alert = (now, got[0])
                time.sleep(1)  # the pace of the plan and of the samples, not a wait

            with r.case("the fast leak in the same run is reported within 45 s"):
                check(fast_alert is not None, "no fd-growth alert for the 20 fds/s leak")
                T.log(f"fast leak reported after {fast_alert[0]:.0f}s: {fast_alert[1]['summary']}")
                check(fast_alert[0] <= 45, f"reported after {fast_alert[0]:.0f}s")

            with r.case("the slow leak (1 fd/s) is reported by the slow detector"):
                check(slow_alert is not None,
                      f"no fd-growth alert for the 1 fd/s leak in {DURATION}s: the slow "
                      "detector was not live at this interval")
                T.log(f"slow leak reported after {slow_alert[0]:.0f}s: {slow_alert[1]['summary']}")
                check_eq(slow_alert[1]["evidence"]["detector"], "slow", "detector")

            with r.case("nginx's load rose and fell by hundreds of fds several times"):
                T.log(f"load: {load.ok} requests/connections ok, {load.errors} errors; workers' "
                      f"fds from /proc each second: min {min(series)}, max {max(series)}")
                T.log("workers' fds: " + " ".join(map(str, series)))
                ups, downs = swings(series, 500)
                check(max(series) >= PEAK[0], f"the workers held {max(series)} fds at most")
                check(ups >= 4 and downs >= 4,
                      f"{ups} rises and {downs} falls of 500 fds or more (want 4 each)")
                check(load.ok > 5000, f"only {load.ok} successful requests")
                check(load.errors <= load.ok // 100, f"{load.errors} errors")

            with r.case("nginx: no alert of any kind"):
                got = [a for a in H.leaks(d)["alerts"] if a["pid"] in nginx_pids]
                check(not got, "alerts for nginx: " +
                      "; ".join(f"{a['kind']} {a.get('state')} pid {a['pid']}: {a['summary']}"
                                for a in got))
                ps = d.processes_by_pid()
                for w in workers:
                    check(ps.get(w, {}).get("fds", 0) >= 10, f"worker {w} not tracked")
        finally:
            if load:
                load.finish()
            for leak in leaks:
                leak.kill()
            H.stop_process(ng)


if __name__ == "__main__":
    T.run(main)
