#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon does not leak. (1) Without valgrind: after exercising every CLI
command (and malformed requests, and clients that vanish) many times, the
daemon holds the same fds as before. (2) Under valgrind (--leak-check=full
--errors-for-leak-kinds=definite --error-exitcode=99 --track-fds=yes): every
CLI command, then SIGTERM: exit 0, socket removed, no definite leak, no open
fd at exit besides stdin/stdout/stderr. The fd check compares the sets of
lasting (fd, target) pairs before and after, /proc ones included (the
daemon's LRU cache of DIR_CACHE /proc/TID/fd directories may turn over, but
not grow past its bound; any other /proc fd must be the same). A daemon
that does not start under valgrind fails (with valgrind's complaints);
valgrind missing is a skip by hand, a failure with FDWATCH_REQUIRE_BPF=1 or
CI=true."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import fdwtest as T
from fdwtest import check


def raw_request(path, data, read=True, first=False):
    """read: the whole answer; first: only its first bytes, then hang up
    (mid-answer); neither: hang up at once (before the answer)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    if data:
        s.sendall(data)
    out = b""
    if first:
        try:
            out = s.recv(4096)
        except socket.timeout:
            pass
    elif read:
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except socket.timeout:
            pass
    s.close()
    return out


def exercise(d, target_pid, rounds=1):
    """Every CLI command, malformed requests and vanishing clients."""
    results = []
    for _ in range(rounds):
        for args in (["status"], ["ps"], ["fds", target_pid], ["fds", target_pid, 0],
                     ["events"], ["events", "--pid", target_pid, "--limit", "5"],
                     ["verify", target_pid], ["verify"], ["fds", 999999999]):
            for js in (False, True):
                results.append((args, d.cli(*args, json_out=js).returncode))
        fol = subprocess.Popen([T.FDWATCH, "--socket", d.sock, "--json", "events", "--follow"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        fol.stdout.readline()
        fol.kill()
        fol.wait()
        raw_request(d.sock, b"GARBAGE\r\n\r\n")
        raw_request(d.sock, b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConn", read=False)
        raw_request(d.sock, b"", read=False)
        raw_request(d.sock, b"GET /v1/nosuch HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw_request(d.sock, b"GET /v1/processes/abc/fds HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        # streamed answers left mid-way, and a table's names still being
        # read in the thread pool when its client goes (refresh.c)
        for target in (f"/v1/processes/{target_pid}/fds", "/v1/processes", "/v1/events"):
            req = f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            raw_request(d.sock, req, read=False)
            raw_request(d.sock, req, first=True)
    return results


def expected_rc(args, rc):
    if args == ["fds", 999999999]:
        return rc == 1
    if args == ["verify"]:
        # every process on the machine, running ones too: differences are
        # possible here and not this test's subject; a crash is
        return 0 <= rc < 64
    return rc == 0


def fd_targets(pid):
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            pass
    return out


def lasting_fds(pid, samples=8, interval=0.25):
    """The daemon's lasting fds, /proc ones included: the (fd, target) pairs
    present in every one of a few samples. A /proc directory it opens for a
    moment while it reads another process (for `verify`, `fds`, a resync)
    is in few samples, not all; one it forgot to close is in every one."""
    common = None
    for i in range(samples):
        if i:
            time.sleep(interval)
        now = set(fd_targets(pid).items())
        common = now if common is None else common & now
    return dict(common)


def fd_set_diff(before, after):
    lines = []
    for fd in sorted(set(before) | set(after)):
        b, a = before.get(fd), after.get(fd)
        if b != a:
            lines.append(f"fd {fd}: before {b!r}, after {a!r}")
    return lines


CACHED_DIR = re.compile(r"^/proc/\d+/fd$")


def dir_cache_bound():
    """daemon/sys/procfs.c keeps the /proc/TID/fd directories of the last
    DIR_CACHE tasks it read open (an LRU cache, entries of dead tasks
    included until evicted): that many such fds may come and go."""
    src = os.environ.get("FDWATCH_SOURCE_ROOT") or T.SRC_ROOT
    with open(os.path.join(src, "daemon", "sys", "procfs.c")) as f:
        m = re.search(r"#define\s+FDW_PROCFS_DIR_CACHE\s+(\d+)", f.read())
    if not m:
        raise T.Failure("no FDW_PROCFS_DIR_CACHE in daemon/sys/procfs.c: this test's model of the "
                        "daemon's /proc directory cache needs updating")
    return int(m.group(1))


def check_same_fds(before, after, bound):
    """Equal sets of (fd, target), /proc fds included, except the bounded
    cache of /proc/TID/fd directories, whose size must stay within its bound."""
    cb = {fd: t for fd, t in before.items() if CACHED_DIR.match(t)}
    ca = {fd: t for fd, t in after.items() if CACHED_DIR.match(t)}
    rest_b = {fd: t for fd, t in before.items() if fd not in cb}
    rest_a = {fd: t for fd, t in after.items() if fd not in ca}
    T.log(f"daemon's lasting fds: {len(before)} before ({len(cb)} cached /proc/TID/fd), "
          f"{len(after)} after ({len(ca)} cached); cache bound {bound}")
    problems = fd_set_diff(rest_b, rest_a)
    for when, c in (("before", cb), ("after", ca)):
        if len(c) > bound:
            problems.append(f"{len(c)} /proc/TID/fd directories open {when}, more than the "
                            f"daemon's cache of {bound}: {sorted(c.values())}")
    check(not problems, f"the daemon's lasting fds changed ({len(before)} before, "
          f"{len(after)} after):\n" + T.indent("\n".join(problems[:40])))


def main(r):
    target = os.getpid()
    with T.Daemon() as d:
        with r.case("every CLI command answers (exit 0 except the unknown pid)"):
            res = exercise(d, target)
            bad = [(a, rc) for a, rc in res if not expected_rc(a, rc)]
            check(not bad, f"unexpected exit codes: {bad}")
        with r.case("daemon fds (the same set, /proc ones included) after requests, "
                    "follows and bad clients"):
            bound = dir_cache_bound()
            before = lasting_fds(d.proc.pid)
            exercise(d, target, rounds=5)
            after = lasting_fds(d.proc.pid)
            check_same_fds(before, after, bound)
            check(d.alive(), "daemon died")

    if T.SANITIZED:
        # scripts/sanitize.sh: an ASan build cannot run under valgrind;
        # LeakSanitizer checks every exit of this daemon instead
        T.log("valgrind half not run: this daemon is built with ASan (LeakSanitizer "
              "checked its exit above)")
        return
    vg = shutil.which("valgrind")
    if not vg:
        with r.case("valgrind is installed"):
            # a Skip: a failure with FDWATCH_REQUIRE_BPF=1; STRICT covers CI=true
            T.optional_refused("valgrind not found (scripts/install-deps.sh installs it)")
        return
    tmp = tempfile.mkdtemp(prefix="fdwt-vg-")
    vglog = os.path.join(tmp, "valgrind.log")
    wrapper = [vg, f"--suppressions={os.path.join(T.HERE, 'valgrind.supp')}",
               "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--error-exitcode=99", "--track-fds=yes", f"--log-file={vglog}"]
    d = T.Daemon(wrapper=wrapper, ready_timeout=300, stop_timeout=180)
    try:
        try:
            d.start()
        except T.Failure as e:
            # Whatever valgrind's log says (it names bpf in many harmless
            # lines), a daemon that does not start is a failed case: the
            # message carries valgrind's complaints for whoever reads it.
            text = open(vglog, errors="replace").read() if os.path.exists(vglog) else ""
            said = []
            for l in text.splitlines():
                l = re.sub(r"^--\d+-- ", "", l)
                if re.search(r"unhandled|Unsupported", l) and l not in said:
                    said.append(l)  # each complaint once (some repeat by the hundred)
            said = "\n".join(said)[:2000]
            with r.case("fdwatchd starts under valgrind"):
                raise T.Failure(f"{e}\n" + (f"valgrind said:\n{T.indent(said)}\n(an ASan "
                                            "build is the other way: meson setup "
                                            "-Db_sanitize=address)" if said else ""))
            return
        with r.case("valgrind: every CLI command answers"):
            res = exercise(d, target)
            bad = [(a, rc) for a, rc in res if not expected_rc(a, rc)]
            check(not bad, f"unexpected exit codes under valgrind: {bad}")
        with r.case("valgrind: SIGTERM gives exit 0 and removes the socket"):
            d.stop()
        text = open(vglog, errors="replace").read()
        with r.case("valgrind: no definitely lost memory, no errors"):
            m = re.search(r"definitely lost: ([\d,]+) bytes", text)
            lost = int(m.group(1).replace(",", "")) if m else 0
            errs = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
            if not (lost == 0 and errs and errs.group(1) == "0"):
                # the error reports: blocks of "==PID== " lines after a heading
                blocks = re.findall(r"(==\d+== (?:Invalid|Conditional|Syscall param|Use of|"
                                    r"Mismatched|Source and|\S+ bytes in \S+ blocks are definitely)"
                                    r".*?)\n==\d+== \n", text, re.S)
                raise T.Failure(f"definitely lost {lost} bytes, "
                                f"{errs.group(0) if errs else 'no ERROR SUMMARY'}:\n"
                                + T.indent("\n\n".join(blocks[:6])[:6000]))
        with r.case("valgrind: no fd open at exit besides stdin/stdout/stderr"):
            check(re.search(r"FILE DESCRIPTORS: \d+ open", text),
                  "no FILE DESCRIPTORS summary in the valgrind log")
            # valgrind lists its own --log-file as "inherited": not the daemon's
            opened = [(int(n), what) for n, what in
                      re.findall(r"Open (?:file descriptor|\S+ socket) (\d+): ?(.*)", text)
                      if int(n) > 2 and what.strip() != vglog]
            if opened:
                i = text.find("FILE DESCRIPTORS")
                raise T.Failure(f"fds open at exit: {opened}\n" + T.indent(text[i:i + 3000]))
    finally:
        d.cleanup()
        if not os.environ.get("FDWT_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    T.run(main)
