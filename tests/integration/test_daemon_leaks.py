#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The daemon does not leak. (1) Without valgrind: after exercising every CLI
command (and malformed requests, and clients that vanish) many times, the
daemon holds the same fds as before. (2) Under valgrind (--leak-check=full
--errors-for-leak-kinds=definite --error-exitcode=99 --track-fds=yes): every
CLI command, then SIGTERM: exit 0, socket removed, no definite leak, no open
fd at exit besides stdin/stdout/stderr. If valgrind cannot run fdwatchd
(bpf syscalls it does not know), this part is skipped with the evidence;
use an ASan build instead (meson setup -Db_sanitize=address)."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq


def raw_request(path, data, read=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    if data:
        s.sendall(data)
    out = b""
    if read:
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


def settled_fds(pid, samples=5):
    """The daemon's fds, without the /proc directories it opens for a moment
    while it reads other processes: the smallest of a few samples."""
    best = None
    for _ in range(samples):
        time.sleep(0.3)
        fds = {fd: t for fd, t in fd_targets(pid).items() if not t.startswith("/proc/")}
        if best is None or len(fds) < len(best):
            best = fds
    return best


def main(r):
    target = os.getpid()
    with T.Daemon() as d:
        with r.case("every CLI command answers (exit 0 except the unknown pid)"):
            res = exercise(d, target)
            bad = [(a, rc) for a, rc in res if not expected_rc(a, rc)]
            check(not bad, f"unexpected exit codes: {bad}")
        with r.case("daemon fds do not grow with requests, follows and bad clients"):
            before = settled_fds(d.proc.pid)
            exercise(d, target, rounds=5)
            after = settled_fds(d.proc.pid)
            grown = {fd: t for fd, t in after.items() if fd not in before}
            check(len(after) <= len(before),
                  f"daemon had {len(before)} lasting fds, now {len(after)}; new: {grown}")
            check(d.alive(), "daemon died")

    vg = shutil.which("valgrind")
    if not vg:
        if T.ON_CI:
            with r.case("valgrind is installed (required on CI)"):
                raise T.Failure("valgrind not found")
        T.log("note: valgrind not installed; valgrind part skipped")
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
            text = open(vglog, errors="replace").read() if os.path.exists(vglog) else ""
            if re.search(r"unhandled (syscall|ioctl)|Unsupported|WARNING: unhandled|bpf", text):
                with r.case("valgrind can run fdwatchd"):
                    raise T.Skip("valgrind cannot run fdwatchd here (use an ASan build: meson "
                                 "setup -Db_sanitize=address); valgrind said:\n"
                                 + T.indent("\n".join(l for l in text.splitlines()
                                                      if re.search("unhandled|Unsupported|bpf", l))[:2000]))
                return
            with r.case("fdwatchd starts under valgrind"):
                raise e
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
