#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real server is not a leak; a real leak in the same run is.

Debian's nginx (master and 2 workers, a temporary prefix and config on
127.0.0.1) under a bounded load from this script: 2,000 keep-alive
connections held (thousands of fds in the workers), 100 of them replaced
every second, and 8 threads doing short requests on fresh connections, for
about a minute. Meanwhile fdw_leak leaks 20 fds a second. With the default
settings the leak is reported within 30 s and nginx gets no alert of any
kind."""

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

HELD = 2000
DURATION = 60


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

    def churn(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                s.sendall(REQ_CLOSE)
                self.count(read_response(s) == 200)
                s.close()
            except OSError:
                self.count(False)
            time.sleep(0.01)

    def replace(self):
        rnd = random.Random(4)
        while not self.stop.wait(1.0):
            for _ in range(100):
                i = rnd.randrange(len(self.held))
                try:
                    self.held[i].close()
                    self.held[i] = self.connect()
                    self.count(True)
                except OSError:
                    self.count(False)

    def start(self):
        for _ in range(HELD):
            self.held.append(self.connect())
            self.count(True)
        self.threads = [threading.Thread(target=self.churn, daemon=True) for _ in range(8)]
        self.threads.append(threading.Thread(target=self.replace, daemon=True))
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)
        for s in self.held:
            s.close()


def children(pid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    st = f.read()
                if int(st[st.rindex(")") + 2:].split()[1]) == pid:
                    out.append(int(name))
            except (OSError, ValueError):
                pass
    return out


def main(r):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                      else None)
    if not nginx:
        raise T.Skip("nginx not installed (apt install nginx)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < HELD + 500:
        raise T.Skip(f"RLIMIT_NOFILE hard limit {hard} too small for {HELD} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, HELD * 2 + 1000)), hard))

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

    with T.Daemon() as d:
        ng = subprocess.Popen([nginx, "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "error.log")],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        load = None
        leak = None
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

            load = Load(port)
            load.start()
            T.log(f"{HELD} connections held")
            leak = H.LeakProg("dup", 20, 45, leakfile)
            leak.expect("START")
            t0 = time.monotonic()

            with r.case("the leak in the same run is reported within 30 s"):
                a = H.wait_alert(d, leak.pid, "fd-growth", 30)
                T.log(f"leak reported after {time.monotonic() - t0:.1f}s: {a['summary']}")

            peak = 0
            while time.monotonic() - t0 < DURATION:
                peak = max(peak, sum(len(os.listdir(f"/proc/{w}/fd")) for w in workers))
                time.sleep(1)

            with r.case("nginx under load held thousands of fds"):
                T.log(f"load: {load.ok} requests/connections ok, {load.errors} errors; "
                      f"workers' fds at peak {peak}")
                check(peak >= HELD, f"the workers held {peak} fds at most")
                check(load.ok > HELD + 1000, f"only {load.ok} successful requests")
                check(load.errors <= load.ok // 100, f"{load.errors} errors")

            with r.case("nginx: no alert of any kind"):
                got = [a for a in H.leaks(d)["alerts"] if a["pid"] in nginx_pids]
                check(not got, "alerts for nginx: " +
                      "; ".join(f"{a['kind']} pid {a['pid']}: {a['summary']}" for a in got))
                ps = d.processes_by_pid()
                for w in workers:
                    check(ps.get(w, {}).get("fds", 0) >= 10, f"worker {w} not tracked")
        finally:
            if load:
                load.finish()
            if leak:
                leak.kill()
            H.stop_process(ng)


if __name__ == "__main__":
    T.run(main)
