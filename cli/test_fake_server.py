#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A fake fdwatchd for testing the fdwatch CLI without BPF or root.

It serves canned answers in the shape of docs/api.md over HTTP/1.1 on unix
sockets, including chunked NDJSON follow streams.

    test_fake_server.py --serve SOCK          serve until interrupted
    test_fake_server.py --fdwatch PATH        run the CLI checks (meson test)

Set FDWATCH_TEST_WRAPPER to run every fdwatch under a wrapper, e.g.
    FDWATCH_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99
                          --log-file=/tmp/vg.%p"
"""

import argparse
import http.server
import json
import os
import re
import select
import shlex
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

EVENT_TS = 1795000000.123456        # 11:06:40.123 UTC


# A program's name is the basename of what it exec'd (a symlink's will
# do): any bytes but NUL and '/', a terminal's escapes among them. This one
# sets the window title and clears the screen where a terminal obeys it.
HOSTILE_COMM = "\x1b]0;pw\x07\x1b[2J"


def status_doc():
    return {
        "version": "0.1.0", "abi": 1, "pid": 1234, "uptime_s": 3725.5,
        "events_received": 1000, "events_lost": 7,
        "events_lost_per_cpu": [3, 4], "events_dropped_decode": 0,
        "processes": 120, "tables": 118, "fds": 3456,
        "stale_tables": 1, "resyncs": 2, "resync_fds_failed": 0,
        "audit": {"runs": 3, "checked": 30, "divergences": 5},
        "history": {"size": 1000, "capacity": 100000, "dropped": 0},
        "limits": {"max_processes": 65536, "max_fds": 4194304,
                   "max_clients": 64},
        "dropped": {"processes": 0, "fds": 0, "clients": 0,
                    "followers": 0},
    }


def processes_doc():
    return {"processes": [
        {"pid": 300, "comm": "worker", "fds": 1234, "table": 12,
         "threads": 4, "stale": True, "limit_soft": 4096,
         "growth_per_min": 12.5},
        {"pid": 1, "comm": "init", "fds": 12, "table": 7, "threads": 1,
         "stale": False, "limit_soft": 1024, "growth_per_min": 0.0},
        {"pid": 42, "comm": "cat", "fds": 5, "table": 9, "threads": 2,
         "stale": False, "limit_soft": 8, "growth_per_min": None},
    ]}


def origin(syscall, tid, ts, from_fd=None, source="event"):
    return {"syscall": syscall, "tid": tid, "ts": ts, "from_fd": from_fd,
            "source": source}


def fds_doc(pid, now):
    if pid == 300:
        return {"pid": 300, "comm": "worker", "table": 12, "stale": True,
                "fds": [{"fd": 0, "cloexec": False, "target": "/dev/null",
                         "type": "chr", "ofd": 1, "generation": 1,
                         "origin": origin(None, None, None,
                                          source="procfs")}]}
    return {"pid": 42, "comm": "cat", "table": 9, "stale": False, "fds": [
        {"fd": 5, "cloexec": False, "target": "/etc/passwd", "type": "reg",
         "ofd": 17, "generation": 1,
         "origin": origin("dup", 43, now - 300.5, from_fd=3)},
        {"fd": 0, "cloexec": False, "target": "/dev/pts/0", "type": "chr",
         "ofd": 2, "generation": 1,
         "origin": origin(None, None, None, source="procfs")},
        {"fd": 3, "cloexec": True, "target": "/etc/passwd", "type": "reg",
         "ofd": 17, "generation": 2, "origin": origin("openat", 42, now - 3.5)},
        {"fd": 12, "cloexec": True, "target": "/tmp/we\nird name",
         "type": "reg", "ofd": 30, "generation": 1,
         "origin": origin("openat", 42, now - 2 * 3600 - 5)},
        # a name that is the escape of the one above, spelt out
        {"fd": 13, "cloexec": True, "target": "/tmp/we\\x0aird name",
         "type": "reg", "ofd": 32, "generation": 1,
         "origin": origin("openat", 42, now - 2 * 3600 - 5)},
        {"fd": 100, "cloexec": False, "target": "socket:[12345]",
         "type": "sock", "ofd": 31, "generation": 4,
         "origin": origin("accept4", 44, now - 3 * 86400 - 5)},
    ]}


def history():
    return [
        {"generation": 1, "target": "/tmp/old",
         "origin": origin("open", 42, EVENT_TS - 10),
         "closed": {"syscall": "close", "tid": 42, "ts": EVENT_TS - 5}},
        {"generation": 0, "target": "pipe:[77]",
         "origin": origin(None, None, None, source="procfs"),
         "closed": {"syscall": "dup2", "tid": None, "ts": None}},
    ]


def fd_doc(now):
    f = dict(fds_doc(42, now)["fds"][2])
    f["origin"] = origin("openat", 42, EVENT_TS)
    f["history"] = history()
    return {"pid": 42, "fd": f}


def events_doc():
    return [
        {"seq": 10, "ts": EVENT_TS, "pid": 42, "tid": 42, "comm": "cat",
         "syscall": "openat", "dirfd": -100, "dirfd_name": "AT_FDCWD",
         "path": "/etc/passwd", "flags": 524288,
         "flags_names": ["O_RDONLY", "O_CLOEXEC"], "mode": 0, "ret": 3},
        {"seq": 11, "ts": EVENT_TS + 1, "pid": 42, "tid": 43, "comm": "cat",
         "syscall": "dup2", "oldfd": 3, "newfd": 10, "ret": 10},
        {"seq": 12, "ts": EVENT_TS + 2, "pid": 42, "tid": 42, "comm": "cat",
         "syscall": "close", "fd": 99, "ret": -9, "errno": "EBADF"},
        {"seq": 13, "ts": EVENT_TS + 3, "pid": 7, "tid": 7, "comm": "sh",
         "syscall": "pipe2", "fds": [3, 4], "flags": 0, "ret": 0},
        {"seq": 14, "ts": EVENT_TS + 4, "pid": 7, "tid": 7,
         "comm": "my prog", "syscall": "openat", "path": "/tmp/a b",
         "ret": -2, "errno": "ENOENT"},
        {"seq": 15, "ts": None, "pid": 8, "tid": 8, "comm": "sh",
         "syscall": "fork", "child": 9, "ret": 9},
    ]


def leaks_doc(now):
    return {"alerts": [
        {"id": 1, "kind": "fd-growth", "state": "firing", "pid": 42,
         "comm": "cat", "start_time": 123456, "fired_at": now - 125,
         "resolved_at": None,
         "summary": "fd count grew from 10 to 500 in 60s",
         "evidence": {"fds": 500, "sites": [{"syscall": "openat",
                                             "count": 490}],
                      "series": [10, 80, 150, 220, 290, 360, 430, 500],
                      "series_step_s": 1, "rate_per_min": 490.0,
                      "seconds_to_limit": 65.0, "limit_soft": 1024}},
        {"id": 2, "kind": "cloexec", "state": "resolved", "pid": 300,
         "comm": "worker", "start_time": 654321, "fired_at": now - 7300,
         "resolved_at": now - 60, "summary": "fd 7 leaked across exec",
         "evidence": {}},
    ]}


def verify_doc(pid):
    if pid is None:
        return {"ok": True, "checked": 120, "differences": []}
    return {"ok": False, "checked": 1, "differences": [
        {"pid": 42, "fd": 5, "kind": "missing", "model": None,
         "kernel": "/etc/passwd"},
        {"pid": 42, "fd": 12, "kind": "target", "model": "/tmp/a",
         "kernel": "/tmp/b"},
        {"pid": 42, "fd": 13, "kind": "extra", "model": "/tmp/c",
         "kernel": None, "thread_running": True, "unsettled": True},
    ]}


def dumps(doc):
    return json.dumps(doc, separators=(",", ":"))


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path, mode):
        self.mode = mode            # normal, trickle, finite, broken, hangup
        self.requests = []
        self.stream_lines = {}      # path -> the exact lines streamed
        super().__init__(path, Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-fdwatchd/0"

    def address_string(self):
        return "unix"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, doc, raw=None):
        body = (raw if raw is not None else dumps(doc)).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def client_gone(self, timeout):
        r, _, _ = select.select([self.connection], [], [], timeout)
        if not r:
            return False
        try:
            return self.connection.recv(1, 0) == b""
        except OSError:
            return True

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def stream(self, lines, more=None):
        """Send lines as NDJSON; then more() lines until the client leaves."""
        self.server.stream_lines[self.path] = list(lines)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            data = b"".join(line.encode() + b"\n" for line in lines)
            if self.server.mode == "finite":
                # Last line without its newline, then the end of the body.
                self.chunk(data[:-1])
                self.chunk(b"")
                return
            # Split a line across chunks and put several in one chunk.
            cut = data.find(b"\n") // 2 if data else 0
            if cut > 0:
                self.chunk(data[:cut])
                time.sleep(0.05)
            if data[cut:]:
                self.chunk(data[cut:])
            n = 0
            while not self.client_gone(0.02 if more else 0.2):
                if more:
                    n += 1
                    self.chunk(more(n).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        self.server.requests.append(self.path)
        now = time.time()
        mode = self.server.mode

        if mode == "hangup":
            self.close_connection = True
            return
        if mode == "mute":
            # a daemon that stopped answering: reads, never writes
            self.client_gone(60)
            self.close_connection = True
            return
        if mode == "drip":
            # an answer that starts and then stops
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"{")
            self.wfile.flush()
            self.client_gone(60)
            self.close_connection = True
            return
        if mode in ("stall", "idle"):
            # a follow stream: stall stops within a line, idle is quiet
            # (no event) for longer than the answer timeout before its
            # first line and between two
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if mode == "stall":
                    self.chunk(b'{"seq": 1, "pid"')
                    self.wfile.flush()
                    self.client_gone(60)
                elif not self.client_gone(11):
                    # quiet before the first line, then between two
                    self.chunk(b'{"seq": 1}\n')
                    self.wfile.flush()
                    if not self.client_gone(11):
                        self.chunk(b'{"seq": 2}\n')
                        self.chunk(b"")
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        if mode == "broken":
            self.send_json(200, None, raw='{"version": "0.1.0", oops')
            return

        m = re.fullmatch(r"/v1/processes/(\d+)/fds(?:/(\d+))?", url.path)
        if url.path == "/v1/status":
            self.send_json(200, status_doc())
        elif url.path == "/v1/processes":
            doc = processes_doc()
            if mode == "hostile":
                doc["processes"][0]["comm"] = HOSTILE_COMM
            self.send_json(200, doc)
        elif m and int(m.group(1)) in (42, 300):
            pid = int(m.group(1))
            if m.group(2) is None:
                doc = fds_doc(pid, now)
                if mode == "hostile":
                    doc["comm"] = HOSTILE_COMM
                self.send_json(200, doc)
            elif int(m.group(2)) == 3:
                self.send_json(200, fd_doc(now))
            else:
                self.send_json(404, {"error": "fd %s is not open in pid %d"
                                     % (m.group(2), pid),
                                     "history": history()})
        elif m:
            self.send_json(404, {"error": "no such process: %s" % m.group(1)})
        elif url.path == "/v1/events":
            evs = events_doc()
            if "pid" in q:
                evs = [e for e in evs if e["pid"] == int(q["pid"])]
            evs = evs[-int(q.get("limit", "100")):] if q.get("limit") != "0" else []
            if q.get("follow") == "1" and mode != "nofollow":
                def more(n):
                    return dumps({"seq": 100 + n, "ts": EVENT_TS + 100 + n,
                                  "pid": 42, "tid": 42, "comm": "cat",
                                  "syscall": "close", "fd": n, "ret": 0})
                # Different spacing than ours: the CLI must not reformat.
                self.stream([json.dumps(e) for e in evs],
                            more if mode == "trickle" else None)
            else:
                self.send_json(200, {"events": evs})
        elif url.path == "/v1/verify":
            pid = int(q["pid"]) if "pid" in q else None
            if pid not in (None, 42):
                self.send_json(404, {"error": "no such process: %d" % pid})
            else:
                self.send_json(200, verify_doc(pid))
        elif url.path == "/v1/leaks" and mode != "noleaks":
            doc = leaks_doc(now)
            if q.get("follow") == "1":
                self.stream([dumps(a) for a in doc["alerts"]])
            else:
                self.send_json(200, doc)
        elif url.path == "/v1/races" and mode == "hostile":
            # a program's name is the basename of what it exec'd: any
            # bytes but NUL and '/', a terminal's escapes among them
            esc = "\x1b]0;pw\x07\x1b[2J"
            self.send_json(200, {"races": [
                {"id": 1, "kind": "double-close", "state": "firing",
                 "pid": 42, "comm": esc, "summary": "thread 43 " + esc,
                 "evidence": {"findings": [
                     {"fd": 3, "tid": 43, "syscall": "close" + esc,
                      "generation": {
                          "created": {"syscall": "openat" + esc, "tid": 42},
                          "closed": {"syscall": "close", "tid": 42}}}]}},
                {"id": 2, "kind": "exec-leak" + esc, "state": "firing",
                 "pid": 44, "comm": esc, "summary": esc}]})
        elif url.path == "/v1/races" and mode == "races":
            self.send_json(200, {"races": [
                {"pid": 42, "kind": "close-while-used", "fd": 3},
                {"pid": 42, "kind": "fd-reuse", "fd": 5},
                {"pid": 300, "kind": "fd-reuse", "fd": 7}]})
        else:
            self.send_json(404, {"error": "no such path: %s" % url.path})


def start_server(path, mode):
    srv = Server(path, mode)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# ---- the checks ----------------------------------------------------------

class Checker:
    def __init__(self, fdwatch, tmp):
        self.fdwatch = fdwatch
        self.wrapper = shlex.split(os.environ.get("FDWATCH_TEST_WRAPPER", ""))
        self.passed = 0
        self.failed = 0
        self.sock = os.path.join(tmp, "fdwatch.sock")
        self.env = dict(os.environ, TZ="UTC", LC_ALL="C")
        self.env.pop("FDWATCH_SOCKET", None)
        self.servers = {"normal": start_server(self.sock, "normal")}
        for mode in ("trickle", "finite", "broken", "hangup", "noleaks",
                     "nofollow", "mute", "drip", "stall", "idle", "hostile"):
            self.servers[mode] = start_server(
                os.path.join(tmp, mode + ".sock"), mode)

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: %s%s" % (what, ("\n  " + detail.replace("\n", "\n  "))
                                  if detail else ""))
        return cond

    def cmd(self, args, sock=None):
        return self.wrapper + [self.fdwatch] + args + [
            "--socket", sock or self.sock]

    def run(self, args, sock=None, env=None, timeout=60):
        p = subprocess.run(self.cmd(args, sock), capture_output=True,
                           text=True, env=env or self.env, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def ok(self, args, **kw):
        rc, out, err = self.run(args, **kw)
        self.check(rc == 0 and err == "", "fdwatch %s: exit 0, quiet stderr"
                   % " ".join(args), "rc=%d stderr=%r" % (rc, err))
        return out

    def last_request(self, mode="normal"):
        reqs = self.servers[mode].requests
        return reqs[-1] if reqs else None

    # A table: cells are separated by two spaces or more.
    @staticmethod
    def cells(line):
        return [(m.group(0), m.start(), m.end())
                for m in re.finditer(r"\S+(?: \S+)*", line)]

    def table(self, out, header, right, what, headings=True):
        lines = out.splitlines()
        rows = [self.cells(line) for line in lines]
        if headings:
            self.check(rows and [c[0] for c in rows[0]] == header,
                       what + ": heading", repr(lines[:1]))
        for i, row in enumerate(rows):
            if not self.check(len(row) == len(header),
                              what + ": line %d has %d cells" % (i, len(header)),
                              repr(lines[i])):
                return []
        for col in range(len(header)):
            key = 2 if header[col] in right else 1
            pos = {row[col][key] for row in rows}
            self.check(len(pos) <= 1, what + ": column %s aligned"
                       % header[col], "\n".join(lines))
        for line in lines:
            self.check(line == line.rstrip(), what + ": no trailing spaces",
                       repr(line))
        data = rows[1:] if headings else rows
        return [[c[0] for c in row] for row in data]

    @staticmethod
    def kv(out):
        d = {}
        for line in out.splitlines():
            if not line:
                break
            k, _, v = line.partition(":")
            d[k] = v.strip()
        return d

    # ---- commands ----

    def test_status(self):
        out = self.ok(["status"])
        self.check(self.last_request() == "/v1/status", "status path")
        d = self.kv(out)
        want = {"version": "0.1.0", "uptime": "1h 2m 5s",
                "events received": "1000", "events lost": "7",
                "processes": "120", "tables": "118", "fds tracked": "3456",
                "stale tables": "1", "resyncs": "2",
                "audit divergences": "5",
                "history size": "1000 (capacity 100000)"}
        self.check(d == want, "status: key: value lines", out)
        starts = {len(line) - len(line.split(":", 1)[1].lstrip())
                  for line in out.splitlines()}
        self.check(len(starts) == 1, "status: values aligned", out)
        out = self.ok(["status", "--json"])
        self.check(json.loads(out) == status_doc(), "status --json", out)
        out = self.ok(["-J", "status"])
        self.check(json.loads(out) == status_doc(), "-J before command")

    def test_ps(self):
        hdr = ["PID", "COMMAND", "FDS", "GROWTH", "USE%", "TABLE", "STALE"]
        right = {"PID", "FDS", "GROWTH", "USE%", "TABLE"}
        out = self.ok(["ps"])
        self.check(self.last_request() == "/v1/processes", "ps path")
        rows = self.table(out, hdr, right, "ps")
        self.check(rows == [["1", "init", "12", "+0.0", "1.2%", "7", "no"],
                            ["42", "cat", "5", "-", "62.5%", "9", "no"],
                            ["300", "worker", "1234", "+12.5", "30.1%", "12",
                             "yes"]],
                   "ps: rows sorted by pid", out)
        out = self.ok(["-n", "ps"])
        rows = self.table(out, hdr, right, "ps -n", headings=False)
        self.check(len(rows) == 3 and rows[0][0] == "1", "ps -n", out)
        out = self.ok(["ps", "--noheadings", "--json"])
        self.check(json.loads(out) == processes_doc(), "ps --json", out)

    def test_ps_lsfd(self):
        """-o, +COLS, --sort, -p, -r, --list-columns: each table is checked
        against the JSON the same command prints with --json."""
        doc = {p["pid"]: p for p in processes_doc()["processes"]}
        cols = ["PID", "COMMAND", "FDS", "GROWTH", "LIMIT", "USE%", "THREADS",
                "PPID"]
        out = self.ok(["ps", "-o", ",".join(cols)])
        rows = self.table(out, cols, {"PID", "FDS", "GROWTH", "LIMIT",
                                      "USE%", "THREADS", "PPID"}, "ps -o")
        for row in rows:
            p = doc[int(row[0])]
            want = [str(p["pid"]), p["comm"], str(p["fds"]),
                    "-" if p["growth_per_min"] is None
                    else "%+.1f" % p["growth_per_min"],
                    str(p["limit_soft"]),
                    "%.1f%%" % (100.0 * p["fds"] / p["limit_soft"]),
                    str(p["threads"]), "-"]
            self.check(row == want, "ps -o: row of pid %d matches the JSON"
                       % p["pid"], "%r != %r" % (row, want))
        for key, order in (("fds", [300, 1, 42]), ("growth", [300, 1, 42]),
                           ("limit", [42, 300, 1]), ("pid", [1, 42, 300])):
            out = self.ok(["ps", "--sort", key, "-n", "-r", "-o", "PID"])
            self.check([int(x) for x in out.split()] == order,
                       "ps --sort %s" % key, repr(out))
        out = self.ok(["ps", "-o", "+LIMIT"])
        self.check(out.splitlines()[0].split() ==
                   ["PID", "COMMAND", "FDS", "GROWTH", "USE%", "TABLE", "STALE",
                    "LIMIT"], "ps -o +COLS adds to the defaults", out)
        out = self.ok(["ps", "-p", "42,300", "-r", "-o", "PID,COMMAND,FDS,STALE"])
        self.check(out == "PID COMMAND FDS STALE\n42 cat 5 no\n"
                   "300 worker 1234 yes\n", "ps -p -r", repr(out))
        out = self.ok(["ps", "-p", "42", "--json"])
        self.check(json.loads(out) == {"processes": [doc[42]]},
                   "ps -p --json keeps only those", out)
        out = self.ok(["ps", "--list-columns"])
        self.check(out.startswith("COLUMN") and "\nUSE%" in out and
                   "(default)" in out, "ps --list-columns", out)
        self.check(self.last_request() == "/v1/processes",
                   "--list-columns asks no daemon")  # the ps -p --json above
        rc, out, err = self.run(["ps", "-o", "PID,NOPE"])
        self.check(rc == 2 and "unknown column 'NOPE'" in err,
                   "ps -o: unknown column is a usage error", err)
        # colors: only when asked (not a terminal here), NO_COLOR honoured
        out = self.ok(["ps", "-o", "PID,STALE"])
        self.check("\033[" not in out, "ps: no colors off a terminal", out)
        out = self.ok(["ps", "-o", "PID,STALE", "--color=always"])
        self.check("\033[33myes\033[0m" in out and "\033[1mPID" in out,
                   "ps --color=always", repr(out))
        out = self.ok(["ps", "--color=auto"], env=dict(self.env, NO_COLOR="1"))
        self.check("\033[" not in out, "NO_COLOR", out)

    def test_fds_pids(self):
        rc, out, err = self.run(["fds", "-p", "42,300", "-o",
                                 "PID,COMMAND,FD,TARGET"])
        self.check(rc == 0 and "300" in err and "stale" in err,
                   "fds -p: a stale table still warns", err)
        rows = self.table(out, ["PID", "COMMAND", "FD", "TARGET"],
                          {"PID", "FD"}, "fds -p")
        want = []
        for pid in (42, 300):
            d = fds_doc(pid, 0)
            for f in d["fds"]:
                want.append([str(pid), d["comm"], str(f["fd"]),
                             f["target"].replace("\\", "\\x5c")
                             .replace("\n", "\\x0a")])
        want.sort(key=lambda r: int(r[2]))
        self.check(sorted(rows, key=lambda r: int(r[2])) == want,
                   "fds -p: every process's fds, with PID and COMMAND",
                   "%r\n%r" % (rows, want))
        rc, out, err = self.run(["fds", "-p", "42,9"])
        self.check(rc == 1 and err.splitlines()[-1] ==
                   "fdwatch: no such process: 9" and "/etc/passwd" in out,
                   "fds -p: an unknown pid is reported, the others shown",
                   "rc=%d err=%r" % (rc, err))

    def test_fds(self):
        hdr = ["FD", "CLOEXEC", "TYPE", "OFD", "GEN", "SYSCALL", "TID",
               "FROM", "AGE", "TARGET"]
        right = {"FD", "OFD", "GEN", "TID", "FROM", "AGE"}
        out = self.ok(["fds", "42"])
        self.check(self.last_request() == "/v1/processes/42/fds", "fds path")
        rows = self.table(out, hdr, right, "fds")
        self.check(rows == [
            ["0", "no", "chr", "2", "1", "-", "-", "-", "-", "/dev/pts/0"],
            ["3", "yes", "reg", "17", "2", "openat", "42", "-", "3s",
             "/etc/passwd"],
            ["5", "no", "reg", "17", "1", "dup", "43", "3", "5m",
             "/etc/passwd"],
            ["12", "yes", "reg", "30", "1", "openat", "42", "-", "2h",
             "/tmp/we\\x0aird name"],
            ["13", "yes", "reg", "32", "1", "openat", "42", "-", "2h",
             "/tmp/we\\x5cx0aird name"],
            ["100", "no", "sock", "31", "4", "accept4", "44", "-", "3d",
             "socket:[12345]"]], "fds: rows", out)
        # -r: spaces too are escaped, the escapes are not escaped again
        out = self.ok(["fds", "42", "-r", "-n", "-o", "FD,TARGET"])
        lines = out.splitlines()
        self.check("12 /tmp/we\\x0aird\\x20name" in lines and
                   "13 /tmp/we\\x5cx0aird\\x20name" in lines,
                   "fds -r: a newline and a spelt-out \\x0a print apart", out)

        rc, out, err = self.run(["fds", "--json", "42"])
        doc = json.loads(out)
        want = fds_doc(42, 0)
        for f in doc["fds"] + want["fds"]:
            f["origin"]["ts"] = None
        self.check(rc == 0 and doc == want, "fds --json is the daemon's object")
        self.check(list(doc) == ["pid", "comm", "table", "stale", "fds"],
                   "fds --json keeps the daemon's key order")

        rc, out, err = self.run(["fds", "300"])
        self.check(rc == 0 and len(err.splitlines()) == 1 and
                   "stale" in err and "300" in err,
                   "fds: stale table warns on stderr", err)
        rc, out, err = self.run(["fds", "300", "-J"])
        self.check(rc == 0 and err == "", "fds --json: no stale warning", err)

        rc, out, err = self.run(["fds", "9"])
        self.check(rc == 1 and err == "fdwatch: no such process: 9\n" and
                   out == "", "fds: unknown pid", "rc=%d err=%r" % (rc, err))

    def test_fd(self):
        out = self.ok(["fds", "42", "3"])
        self.check(self.last_request() == "/v1/processes/42/fds/3", "fd path")
        keys, _, hist = out.partition("\n\n")
        d = self.kv(keys)
        self.check(d.get("fd") == "3" and d.get("pid") == "42" and
                   d.get("target") == "/etc/passwd" and
                   d.get("cloexec") == "yes" and d.get("type") == "reg" and
                   d.get("ofd") == "17" and d.get("generation") == "2" and
                   d.get("syscall") == "openat" and d.get("tid") == "42" and
                   d.get("from fd") == "-" and d.get("source") == "event" and
                   d.get("opened", "").startswith("11:06:40.123 ("),
                   "fd: key: value lines", keys)
        rows = self.table(hist, ["GEN", "TARGET", "SYSCALL", "TID", "OPENED",
                                 "CLOSED-BY"], {"GEN", "TID"}, "fd history")
        self.check(rows == [
            ["1", "/tmp/old", "open", "42", "11:06:30.123", "close:42"],
            ["0", "pipe:[77]", "-", "-", "-", "dup2"]], "fd: history", hist)
        out = self.ok(["fds", "42", "3", "--json"])
        self.check(json.loads(out) == fd_doc(0), "fd --json", out)
        rc, out, err = self.run(["fds", "42", "7"])
        self.check(rc == 1 and err == "fdwatch: fd 7 is not open in pid 42\n"
                   and "/tmp/old" in out, "fd: closed fd shows its history",
                   "rc=%d err=%r out=%r" % (rc, err, out))

    def test_events(self):
        hdr = ["TIME", "PID", "TID", "COMMAND", "SYSCALL", "ARGS", "RET"]
        right = {"PID", "TID"}
        out = self.ok(["events"])
        self.check(self.last_request() == "/v1/events", "events path")
        rows = self.table(out, hdr, right, "events")
        self.check(rows == [
            ["11:06:40.123", "42", "42", "cat", "openat",
             "dirfd=AT_FDCWD path=/etc/passwd flags=O_RDONLY|O_CLOEXEC mode=0",
             "3"],
            ["11:06:41.123", "42", "43", "cat", "dup2", "oldfd=3 newfd=10",
             "10"],
            ["11:06:42.123", "42", "42", "cat", "close", "fd=99",
             "-9 (EBADF)"],
            ["11:06:43.123", "7", "7", "sh", "pipe2", "fds=[3,4] flags=0",
             "0"],
            ["11:06:44.123", "7", "7", "my prog", "openat",
             'path="/tmp/a b"', "-2 (ENOENT)"],
            ["-", "8", "8", "sh", "fork", "child=9", "9"]], "events: rows",
            out)
        # filters, checked against the JSON of the same events
        evs = events_doc()
        for args, keep in (
                (["--syscall", "openat,close"],
                 lambda e: e["syscall"] in ("openat", "close")),
                (["--failed"], lambda e: e.get("ret", 0) < 0),
                (["--comm", "sh"], lambda e: e["comm"] == "sh"),
                (["-p", "7,8"], lambda e: e["pid"] in (7, 8)),
                (["--since", "@%f" % (EVENT_TS + 1.5), "--until",
                  "@%f" % (EVENT_TS + 3.5)],
                 lambda e: e["ts"] is not None and
                 EVENT_TS + 1.5 <= e["ts"] <= EVENT_TS + 3.5)):
            out = self.ok(["events", "-J"] + args)
            got = [json.loads(x)["seq"] for x in out.splitlines()]
            self.check(got == [e["seq"] for e in evs if keep(e)],
                       "events %s --json" % " ".join(args), repr(got))
            self.check("limit=10000" in self.last_request(),
                       "events %s: looks further back" % " ".join(args),
                       self.last_request())
            out = self.ok(["events", "-n", "-r", "-o", "SEQ"] + args)
            self.check([int(x) for x in out.split()] ==
                       [e["seq"] for e in evs if keep(e)],
                       "events %s: table" % " ".join(args), repr(out))
        out = self.ok(["events", "-o", "SYSCALL,RET,ERRNO", "--failed",
                       "--color=always", "-n"])
        self.check("\033[31m-9 (EBADF)\033[0m" in out and
                   "\033[31mENOENT\033[0m" in out, "events: failures in red",
                   repr(out))
        out = self.ok(["events", "--pid", "42", "--limit=2", "-J"])
        self.check(self.last_request() == "/v1/events?pid=42&limit=2",
                   "events --pid --limit path", self.last_request())
        lines = out.splitlines()
        self.check([json.loads(x) for x in lines] == events_doc()[1:3] and
                   all(" " not in x for x in lines),
                   "events --json: one compact object per line", out)
        self.ok(["-p42", "events"])
        self.check(self.last_request() == "/v1/events?pid=42", "-pPID")

    def follow(self, args, nlines, sock=None):
        """Start a follow command; return (proc, first nlines of stdout)."""
        p = subprocess.Popen(self.cmd(args, sock), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env, bufsize=0)
        buf = b""
        deadline = time.time() + 30
        while buf.count(b"\n") < nlines and time.time() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r:
                data = os.read(p.stdout.fileno(), 65536)
                if not data:
                    break
                buf += data
        return p, [x + "\n" for x in buf.decode().split("\n")[:-1]]

    def test_follow(self):
        n = len(events_doc())
        p, lines = self.follow(["events", "-f", "--json"], n)
        self.check(self.last_request() == "/v1/events?follow=1",
                   "events -f path", self.last_request())
        sent = self.servers["normal"].stream_lines.get("/v1/events?follow=1")
        self.check(sent is not None and lines == [x + "\n" for x in sent],
                   "events -f --json: the daemon's lines, unchanged",
                   "%r\n%r" % (lines, sent))
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=30)
        err = p.stderr.read().decode()
        p.stdout.close()
        p.stderr.close()
        self.check(rc == 0 and err == "", "events -f: SIGINT exits 0",
                   "rc=%d err=%r" % (rc, err))

        p, lines = self.follow(["events", "--follow", "--pid=7", "--limit",
                                "1"], 2)
        self.check(self.last_request() == "/v1/events?pid=7&limit=1&follow=1",
                   "events -f --pid --limit path", self.last_request())
        self.check(len(lines) == 2 and lines[0].split() == [
            "TIME", "PID", "TID", "COMMAND", "SYSCALL", "ARGS", "RET"] and
            lines[1].split()[:4] == ["11:06:44.123", "7", "7", "my"] and
            re.search(r' path="/tmp/a b" +-2 \(ENOENT\)$', lines[1]) and
            lines[0].index("RET") == lines[1].index("-2 (ENOENT)") and
            lines[0].index("ARGS") == lines[1].index("path="),
            "events -f: heading and fixed-width lines", repr(lines))
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        p.stdout.close()
        p.stderr.close()
        self.check(rc == 0, "events -f: SIGTERM exits 0", "rc=%d" % rc)

        # The reader goes away while events keep coming: EPIPE, exit 0.
        trickle = os.path.join(os.path.dirname(self.sock), "trickle.sock")
        p, lines = self.follow(["events", "-f", "-n"], 3, sock=trickle)
        p.stdout.close()
        rc = p.wait(timeout=30)
        err = p.stderr.read().decode()
        p.stderr.close()
        self.check(len(lines) >= 3 and rc == 0 and err == "",
                   "events -f: closed pipe exits 0 quietly",
                   "rc=%d err=%r lines=%r" % (rc, err, lines))

        # The reader goes away while the stream is idle (`| head -1`).
        p, lines = self.follow(["events", "-f", "-J", "--limit", "1"], 1)
        p.stdout.close()
        try:
            rc = p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        p.stderr.close()
        self.check(len(lines) == 1 and rc == 0,
                   "events -f: closed pipe noticed while idle", "rc=%d" % rc)

        # A daemon that ignores follow=1 and answers the plain list.
        nofollow = os.path.join(os.path.dirname(self.sock), "nofollow.sock")
        rc, out, err = self.run(["events", "-f", "-J"], sock=nofollow)
        self.check(rc == 0 and [json.loads(x) for x in out.splitlines()] ==
                   events_doc(), "events -f: a plain list is split in lines",
                   "rc=%d out=%r err=%r" % (rc, out, err))
        rc, out, err = self.run(["events", "-f"], sock=nofollow)
        self.check(rc == 0 and len(out.splitlines()) == 1 + len(events_doc()),
                   "events -f: a plain list is rendered", out)
        # the filters hold for streams too, --json or not
        rc, out, err = self.run(["events", "-f", "-J", "--syscall", "close,pipe2"],
                                sock=nofollow)
        self.check(rc == 0 and [json.loads(x)["seq"] for x in out.splitlines()]
                   == [12, 13], "events -f --syscall --json", out)
        rc, out, err = self.run(["events", "-f", "-n", "--failed", "-o", "SEQ"],
                                sock=nofollow)
        self.check(rc == 0 and out.split() == ["12", "14"],
                   "events -f --failed", out)
        rc, out, err = self.run(["events", "-f", "--failed", "-o", "SEQ,RET",
                                 "--color=always"], sock=nofollow)
        lines = out.splitlines()
        self.check(rc == 0 and len(lines) == 3 and
                   lines[0] == "     \033[1mSEQ\033[0m  \033[1mRET\033[0m" and
                   lines[1] == "      12  \033[31m-9 (EBADF)\033[0m",
                   "events -f --color=always: the same columns, in color",
                   repr(lines))

    def test_verify(self):
        rc, out, err = self.run(["verify"])
        self.check(rc == 0 and out == "OK: model matches /proc for 120 processes\n",
                   "verify: ok", "rc=%d out=%r" % (rc, out))
        self.check(self.last_request() == "/v1/verify", "verify path")
        rc, out, err = self.run(["verify", "42"])
        self.check(self.last_request() == "/v1/verify?pid=42",
                   "verify PID path")
        self.check(rc == 3, "verify: mismatch exits 3", "rc=%d" % rc)
        rows = self.table(out, ["PID", "FD", "KIND", "MODEL", "KERNEL", "NOTE"],
                          {"PID", "FD"}, "verify")
        self.check(rows == [["42", "5", "missing", "-", "/etc/passwd", "-"],
                            ["42", "12", "target", "/tmp/a", "/tmp/b", "-"],
                            ["42", "13", "extra", "/tmp/c", "-",
                             "unsettled, thread running"]],
                   "verify: differences", out)
        rc, out, err = self.run(["verify", "42", "--json"])
        self.check(rc == 3 and json.loads(out) == verify_doc(42),
                   "verify --json: mismatch exits 3 with the object")
        rc, out, err = self.run(["verify", "-J"])
        self.check(rc == 0 and json.loads(out) == verify_doc(None),
                   "verify --json: ok")
        rc, out, err = self.run(["verify", "9"])
        self.check(rc == 1 and err == "fdwatch: no such process: 9\n",
                   "verify: unknown pid", err)

    def test_leaks(self):
        hdr = ["ID", "KIND", "STATE", "PID", "COMMAND", "FIRED", "TREND",
               "RATE", "ETA", "SUMMARY"]
        out = self.ok(["leaks"])
        self.check(self.last_request() == "/v1/leaks", "leaks path")
        rows = self.table(out, hdr, {"ID", "PID", "FIRED", "RATE", "ETA"},
                          "leaks")
        self.check(rows == [
            ["1", "fd-growth", "firing", "42", "cat", "2m", "_.-=+*#@",
             "490.0/min", "1m", "fd count grew from 10 to 500 in 60s"],
            ["2", "cloexec", "resolved", "300", "worker", "2h", "-", "-", "-",
             "fd 7 leaked across exec"]], "leaks: rows", out)
        # the sparkline in Unicode blocks where the locale is UTF-8
        out = self.ok(["leaks", "-n", "-o", "TREND"],
                      env=dict(self.env, LC_ALL="C.UTF-8"))
        self.check(out.splitlines()[0] == "\u2581\u2582\u2583\u2584\u2585"
                   "\u2586\u2587\u2588", "leaks: Unicode sparkline", repr(out))
        out = self.ok(["leaks", "-p", "300", "-o", "ID,PID", "-n"])
        self.check(out == "2  300\n", "leaks -p", repr(out))
        lines = self.run(["leaks", "-f"], sock=os.path.join(
            os.path.dirname(self.sock), "finite.sock"))[1].splitlines()
        out = self.ok(["leaks", "--json"])
        doc = json.loads(out)
        self.check([a["summary"] for a in doc["alerts"]] ==
                   [a["summary"] for a in leaks_doc(0)["alerts"]],
                   "leaks --json")
        finite = os.path.join(os.path.dirname(self.sock), "finite.sock")
        rc, out, err = self.run(["leaks", "-f", "-J"], sock=finite)
        self.check(self.last_request("finite") == "/v1/leaks?follow=1",
                   "leaks -f path")
        sent = self.servers["finite"].stream_lines.get("/v1/leaks?follow=1")
        self.check(rc == 0 and sent and out == "".join(x + "\n" for x in sent),
                   "leaks -f --json: lines, also the last without newline",
                   "rc=%d out=%r" % (rc, out))
        rc, out, err = self.run(["leaks", "-f"], sock=finite)
        lines = out.splitlines()
        self.check(rc == 0 and len(lines) == 3 and lines[0].split() == hdr and
                   lines[2].split()[:5] == ["2", "cloexec", "resolved", "300",
                                            "worker"] and
                   lines[0].index("TREND") == lines[1].index("_.-=+*#@"),
                   "leaks -f: heading and lines", out)
        noleaks = os.path.join(os.path.dirname(self.sock), "noleaks.sock")
        for args in (["leaks"], ["leaks", "-f"]):
            rc, out, err = self.run(args, sock=noleaks)
            self.check(rc == 1 and err == "fdwatch: no such path: /v1/leaks\n"
                       and out == "", "%s: 404 prints the daemon's error"
                       % " ".join(args), "rc=%d err=%r" % (rc, err))

    def test_races_escaped(self):
        # names from the daemon are the processes' (any bytes): the table
        # view must not hand a terminal escape sequences
        out = self.ok(["races", "--no-pager", "--color=never"],
                      sock=self.servers["hostile"].server_address)
        bad = [c for c in out if ord(c) < 0x20 and c != "\n" or ord(c) == 0x7f]
        self.check(not bad, "races: no control bytes in the table", repr(out))
        self.check(out.count("\\x1b]0;pw\\x07\\x1b[2J") >= 4,
                   "races: names shown escaped", repr(out))

    def test_failures(self):
        tmp = os.path.dirname(self.sock)
        for args in (["status"], ["ps"], ["fds", "1"], ["events", "-f"],
                     ["leaks", "-f"], ["verify"]):
            rc, out, err = self.run(args, sock=os.path.join(tmp, "nope.sock"))
            self.check(rc == 1 and out == "" and err ==
                       "fdwatch: cannot connect to fdwatchd at %s: "
                       "No such file or directory\n"
                       % os.path.join(tmp, "nope.sock"),
                       "%s: no daemon" % " ".join(args), err)
        for mode in ("broken", "hangup"):
            # --json prints the body as it came, checked, not parsed
            for args in (["status"], ["events", "-f"], ["status", "--json"],
                         ["ps", "--json"], ["fds", "--json", "42"]):
                rc, out, err = self.run(args, sock=os.path.join(
                    tmp, mode + ".sock"))
                self.check(rc == 1 and len(err.splitlines()) == 1 and
                           err.startswith("fdwatch: "),
                           "%s server: %s fails in one line" % (mode, args[0]),
                           "rc=%d err=%r" % (rc, err))

        env = dict(self.env, FDWATCH_SOCKET=self.sock)
        p = subprocess.run(self.wrapper + [self.fdwatch, "status", "-J"],
                           capture_output=True, text=True, env=env,
                           timeout=60)
        self.check(p.returncode == 0 and json.loads(p.stdout)["pid"] == 1234,
                   "FDWATCH_SOCKET", p.stderr)

        for args in (["bogus"], ["fds"], ["fds", "x"], ["fds", "1", "2", "3"],
                     ["ps", "--bogus"], ["status", "-f"], ["ps", "--limit", "1"],
                     ["events", "--limit", "-1"]):
            rc, out, err = self.run(args)
            self.check(rc == 2 and out == "" and "Usage:" in err,
                       "usage error: %s" % " ".join(args),
                       "rc=%d err=%r" % (rc, err))
        rc, out, err = self.run(["--help"])
        self.check(rc == 0 and "Exit status" in out, "--help")
        for cmd in ("status", "ps", "fds", "events", "verify", "leaks", "top"):
            rc, out, err = self.run([cmd, "--help"])
            self.check(rc == 0 and out.startswith("Usage: fdwatch " + cmd) and
                       "Examples:" in out, "%s --help" % cmd, out)
            rc, out2, err = self.run(["help", cmd])
            self.check(rc == 0 and out2 == out, "help %s" % cmd, out2)
        # every option and command of --help is in the man page
        rc, out, err = self.run(["--help"])
        man = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                           "docs", "man", "fdwatch.1.in")
        with open(man) as f:
            page = f.read().replace("\\-", "-")
        for opt in sorted(set(re.findall(r"--[a-z][a-z-]*", out))):
            self.check(opt in page, "man page documents %s" % opt)
        for cmd in ("status", "ps", "fds", "events", "verify", "leaks", "top"):
            self.check(".B %s" % cmd in page or ".BR %s" % cmd in page,
                       "man page documents %s" % cmd)
        rc, out, err = self.run(["top"])
        self.check(rc == 1 and "needs a terminal" in err,
                   "top off a terminal says so", err)

    def test_hung_daemon(self):
        """A daemon that stops answering: a one-line error within ~10 s."""
        tmp = os.path.dirname(self.sock)
        runs = []
        for mode, args in (("mute", ["status"]), ("mute", ["ps"]),
                           ("mute", ["events", "-f"]), ("mute", ["leaks", "-f"]),
                           ("drip", ["status"]), ("drip", ["events", "-f"]),
                           ("drip", ["leaks", "-f"]), ("stall", ["events", "-f"]),
                           ("idle", ["events", "-f", "-J"]),
                           ("mute", ["verify"])):
            p = subprocess.Popen(self.cmd(args, os.path.join(tmp, mode + ".sock")),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=self.env)
            runs.append((mode, args, p))
        start = time.monotonic()
        ended = {}
        while time.monotonic() - start < 25 and len(ended) < len(runs) - 1:
            for i, (_, _, p) in enumerate(runs):
                if i not in ended and p.poll() is not None:
                    ended[i] = time.monotonic() - start
            time.sleep(0.05)
        for i, (mode, args, p) in enumerate(runs):
            what = "%s daemon: fdwatch %s" % (mode, " ".join(args))
            if args == ["verify"]:
                # a verify answers when its check ends: it may wait longer
                self.check(p.poll() is None, what + " still waits")
            if p.poll() is None:
                p.kill()
            out, err = p.communicate()
            if args == ["verify"]:
                continue
            t = ended.get(i)
            if mode == "idle":
                self.check(p.returncode == 0 and err == "" and
                           out == '{"seq": 1}\n{"seq": 2}\n' and t and t > 21.5,
                           what + ": a stream idles before its first line "
                           "and between two",
                           "rc=%s t=%s out=%r err=%r" % (p.returncode, t, out, err))
                continue
            self.check(t is not None and 9 <= t <= 13.5 and p.returncode == 1
                       and len(err.splitlines()) == 1 and
                       err.startswith("fdwatch: ") and
                       ("within 10 s" in err if mode == "mute" else
                        "nothing for 10 s" in err),
                       what + ": one-line error in 9..13.5 s",
                       "rc=%s t=%s err=%r" % (p.returncode, t, err))

    def main(self):
        for name in sorted(n for n in dir(self) if n.startswith("test_")):
            try:
                getattr(self, name)()
            except Exception as e:      # a crash is a failure, not an abort
                self.check(False, "%s raised %r" % (name, e))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--serve", metavar="SOCK", help="serve until interrupted")
    g.add_argument("--fdwatch", metavar="PATH", help="check this fdwatch")
    ap.add_argument("--mode", default="normal",
                    help="with --serve: normal, trickle, finite, broken, "
                    "hangup, noleaks, nofollow, races, hostile")
    a = ap.parse_args()
    if a.serve:
        srv = Server(a.serve, a.mode)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            os.unlink(a.serve)
        return 0
    # sun_path holds 108 bytes: keep the sockets' paths short.
    tmpdir = None if len(tempfile.gettempdir()) < 60 else "/tmp"
    with tempfile.TemporaryDirectory(prefix="fdwatch-cli-", dir=tmpdir) as tmp:
        return Checker(os.path.abspath(a.fdwatch), tmp).main()


if __name__ == "__main__":
    sys.exit(main())
