# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for the leak detector tests (test_leaks*.py, test_prometheus.py,
test_nginx_noleak.py), on top of fdwtest.py: the fdw_leak program's line
protocol, the /v1/leaks API, waiting with a bound, the daemon's log.
Not a test itself."""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import fdwtest as T
from fdwtest import Failure


class LeakProg:
    """tests/progs/fdw_leak: writes "WORD k=v ..." lines, takes commands as
    lines on stdin, ends at EOF on stdin."""

    def __init__(self, *args, exe=None):
        """`exe`: a copy of fdw_leak to run instead (its name is the command)."""
        path = exe or os.path.join(T.PROGS, "fdw_leak")
        if not os.access(path, os.X_OK):
            raise Failure(f"test program {path} is not built")
        self.args = [str(a) for a in args]
        self.p = subprocess.Popen([path] + self.args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.p.pid
        self.buf = b""
        self.lines = []

    def expect(self, word, timeout=60):
        """Waits for the next line starting with `word`; returns its k=v as a dict."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, _, self.buf = self.buf.partition(b"\n")
                text = line.decode(errors="replace")
                self.lines.append(text)
                parts = text.split()
                if parts and parts[0] == word:
                    return dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"fdw_leak {' '.join(self.args)}: no {word} line within {timeout}s "
                              f"(lines so far: {self.lines[-5:]})")
            poller = select.poll()  # fds above 1023 are fine (select() is not)
            poller.register(fd, select.POLLIN)
            if poller.poll(left * 1000):
                chunk = os.read(fd, 65536)
                if not chunk:
                    err = self.p.stderr.read().decode(errors="replace") if self.p.poll() is not None else ""
                    raise Failure(f"fdw_leak {' '.join(self.args)} ended before {word} "
                                  f"(exit {self.p.poll()}): {err.strip()}")
                self.buf += chunk

    def send(self, cmd):
        self.p.stdin.write((cmd + "\n").encode())
        self.p.stdin.flush()

    def finish(self, timeout=30):
        """EOF on stdin: the program ends; returns its exit code."""
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"fdw_leak {' '.join(self.args)} did not end within {timeout}s of EOF")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except (OSError, AttributeError):
                pass


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def api_get(d, path):
    """GET on the daemon's socket; returns (status, parsed JSON body)."""
    c = _UnixHTTP(d.sock)
    try:
        c.request("GET", path)
        resp = c.getresponse()
        body = resp.read()
    finally:
        c.close()
    try:
        return resp.status, json.loads(body)
    except ValueError:
        raise Failure(f"GET {path}: {resp.status} with a body that is not JSON: {body[:300]!r}")


def leaks(d, pid=None):
    """/v1/leaks[?pid=]: the whole document."""
    st, doc = api_get(d, "/v1/leaks" + (f"?pid={pid}" if pid else ""))
    if st != 200:
        raise Failure(f"GET /v1/leaks: {st} {doc}")
    if not isinstance(doc.get("alerts"), list):
        raise Failure(f"GET /v1/leaks: no alerts list: {str(doc)[:300]}")
    return doc


def exec_alerts(alerts, pids):
    """The exec-leak alerts among `alerts` whose process is one of `pids`."""
    return [a for a in alerts if a.get("kind") == "exec-leak" and a.get("pid") in pids]


def api_exec_alerts(d, pids):
    """exec_alerts() of GET /v1/leaks."""
    return exec_alerts(leaks(d)["alerts"], pids)


def cli_exec_alerts(d, pids):
    """exec_alerts() of `fdwatch leaks --json`."""
    doc = d.cli_json("leaks")
    return exec_alerts(doc["alerts"] if isinstance(doc, dict) else doc, pids)


def alerts_of(d, pid, kind=None, state=None):
    out = []
    for a in leaks(d)["alerts"]:
        if a.get("pid") == pid and (kind is None or a.get("kind") == kind) and \
                (state is None or a.get("state") == state):
            out.append(a)
    return out


def wait_for(fn, timeout, what, interval=0.5):
    """Calls fn() until it returns something true; returns that. Failure
    with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {timeout}s")
        time.sleep(interval)


def wait_alert(d, pid, kind, timeout, state="firing"):
    def find():
        got = alerts_of(d, pid, kind, state)
        return got[0] if got else None
    return wait_for(find, timeout, f"{state} {kind} alert for pid {pid}")


def daemon_log(d):
    with open(d.log_path, errors="replace") as f:
        return f.read()


def log_lines(d, alert_id):
    """The daemon's log lines about one alert."""
    pat = re.compile(rf"^<(\d)>fdwatchd: leak alert {alert_id} (firing|resolved): ")
    return [(int(m.group(1)), m.group(2), line) for line in daemon_log(d).splitlines()
            for m in [pat.match(line)] if m]


def soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                v = line.split()[3]
                return None if v == "unlimited" else int(v)
    return None


def metrics_port(d, timeout=10):
    """The port of --metrics-listen 127.0.0.1:0, from the daemon's log."""
    def find():
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", daemon_log(d))
        return int(m.group(1)) if m else None
    return wait_for(find, timeout, "the daemon's 'metrics on' log line", 0.1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=10):
    """(status, body text) of a plain HTTP GET."""
    import urllib.request
    import urllib.error
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), dict(e.headers)


def unique_copy(tmp, prefix):
    """fdw_leak copied to tmp under a command name no other process has
    (metrics group by command: other runs of fdw_leak must not count)."""
    name = (prefix + os.urandom(4).hex())[:15]
    dst = os.path.join(tmp, name)
    shutil.copy2(os.path.join(T.PROGS, "fdw_leak"), dst)
    return dst, name


def pattern(target):
    """A site's target as the daemon writes it (fdw_leak_pattern): a run of
    digits between non-letters becomes '*'."""
    return re.sub(r"(?<![A-Za-z0-9])[0-9]+(?![A-Za-z0-9])", "*", target)


def describe(alerts):
    """Alerts in one line, for a failure's message."""
    return "; ".join(f"pid {a['pid']} {a.get('comm')} {a.get('state')}: {a['summary']}"
                     for a in alerts) or "none"


def read_line(proc, what, timeout=30):
    """The next line proc writes on its stdout (a pipe), split in words,
    read a byte at a time: nothing buffered is left behind for the next
    call. Failure after `timeout` s, or if proc ends first."""
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise Failure(f"{what}: no line in {timeout}s (so far {buf!r})")
        c = os.read(proc.stdout.fileno(), 1)
        if not c:
            raise Failure(f"{what} ended (exit {proc.poll()}), so far {buf!r}")
        buf += c
    return buf.decode().split()


def children(pid):
    """pid's children (its main thread's), [] once it is gone."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def run_in_tmp(r, prefix, run_all):
    """run_all(r, tmp, procs) in a new temporary directory; then each
    process it put in procs is killed with its process group (start each
    in a session of its own) and reaped, and the directory removed."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    procs = []
    try:
        run_all(r, tmp, procs)
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def stop_process(p, timeout=20):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
