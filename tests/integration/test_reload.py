#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The configuration file under a running daemon (fdwatch.conf(5)).

A real fdwatchd started with --config FILE; SIGHUP with a bad file: the
error is logged at priority err naming file, line and key, the daemon keeps
running with the configuration it had (the audit stays off); SIGHUP with a
good file: a live option takes effect (the audit starts running), an option
that needs a restart is named in a warning and keeps its value. The command
line overrides the file at start and at every reload. A bad file at start
is exit 2 with the same message; --check-config says so with exit 1."""

import os
import re
import signal
import subprocess
import tempfile
import time

import fdwtest as T
from fdwtest import check, check_eq


def write(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def wait_log(d, pattern, after, timeout=20):
    """The first daemon log line past offset `after` matching `pattern`."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(d.log_path, errors="replace") as f:
            f.seek(after)
            for line in f.read().splitlines():
                if rx.search(line):
                    return line
        if not d.alive():
            raise T.Failure(f"fdwatchd died waiting for /{pattern}/\n{d.log_tail()}")
        time.sleep(0.1)
    raise T.Failure(f"no log line /{pattern}/ within {timeout}s\n{d.log_tail()}")


def log_size(d):
    return os.path.getsize(d.log_path)


def audit_runs(d):
    return d.status()["audit"]["runs"]


def main(r):
    tmp = tempfile.mkdtemp(prefix="fdwt-reload-")
    conf = os.path.join(tmp, "fdwatch.conf")

    with r.case("a bad file at start: exit 2, and --check-config exit 1, naming file, line and key"):
        write(conf, "# comment\nhistory = 0\n")
        c = subprocess.run([T.FDWATCHD, "--config", conf, "--socket", os.path.join(tmp, "x.sock"),
                            "--lock-file", os.path.join(tmp, "x.lock"), "--state-dir", tmp],
                           capture_output=True, text=True, timeout=20)
        check_eq(c.returncode, 2, "exit code of fdwatchd with a bad file")
        check(f"{conf}:2: history: invalid value '0'" in c.stderr,
              f"the start error names file, line and key: {c.stderr!r}")
        check(c.stderr.startswith("<3>"), f"logged at priority err: {c.stderr!r}")
        c = subprocess.run([T.FDWATCHD, "--config", conf, "--check-config"],
                           capture_output=True, text=True, timeout=20)
        check_eq(c.returncode, 1, "exit code of --check-config with a bad file")
        check(f"{conf}:2: history: invalid value '0'" in c.stderr, f"--check-config: {c.stderr!r}")
        write(conf, "history = 5\n")
        c = subprocess.run([T.FDWATCHD, "--config", conf, "--print-config", "--history", "9"],
                           capture_output=True, text=True, timeout=20)
        check_eq(c.returncode, 0, "exit code of --print-config with a good file")
        check("\nhistory = 9\n" in c.stdout, f"the command line over the file: {c.stdout!r}")

    # the audit off in the file, the history size on the command line
    write(conf, "audit-interval = 0\nverbose = no\n")
    with T.Daemon(args=["--config", conf, "--history", "1000"]) as d:
        with r.case("the file is read at start: audit-interval = 0 keeps the audit off"):
            time.sleep(2.5)
            check_eq(audit_runs(d), 0, "audit runs with audit-interval = 0")

        with r.case("SIGHUP with a bad file: logged with file, line and key; old configuration kept"):
            write(conf, "audit-interval = 1\n\nmax-fds = lots\n")
            at = log_size(d)
            d.proc.send_signal(signal.SIGHUP)
            line = wait_log(d, r"reload: ", at)
            check(line.startswith("<3>"), f"a failed reload is logged at err: {line!r}")
            check(f"{conf}:3: max-fds: invalid value 'lots'" in line,
                  f"the error names file, line and key: {line!r}")
            check("keeping the configuration in effect" in line, f"says what it does: {line!r}")
            time.sleep(2.5)
            check(d.alive(), "the daemon survives a bad reload")
            check_eq(audit_runs(d), 0, "audit runs after a rejected file (audit-interval = 1 not taken)")

        with r.case("SIGHUP with a good file: live options change, restart-only ones are named"):
            # history: the command line wins (1000 both times): no warning for it
            write(conf, "audit-interval = 1\nhistory = 77\nmax-clients = 10\n[leak]\nmin_fit = 0.7\n")
            at = log_size(d)
            d.proc.send_signal(signal.SIGHUP)
            line = wait_log(d, r"reload: configuration read", at)
            check(line.startswith("<6>"), f"a good reload is logged at info: {line!r}")
            check("2 settings changed" in line, f"audit-interval and leak.min_fit: {line!r}")
            warn = wait_log(d, r"kept until a restart", at)
            check(warn.startswith("<4>"), f"restart-only changes are a warning: {warn!r}")
            check(warn.endswith(": max-clients"), f"names max-clients, not history: {warn!r}")
            deadline = time.monotonic() + 10
            while audit_runs(d) == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            check(audit_runs(d) > 0, "the audit runs after audit-interval = 1 was reloaded")

        with r.case("a bad reload after a good one keeps the good one"):
            runs = audit_runs(d)
            write(conf, "audit-interval = 0\n[nope]\nx = 1\n")
            at = log_size(d)
            d.proc.send_signal(signal.SIGHUP)
            line = wait_log(d, r"reload: ", at)
            check(f"{conf}:3: x: key in unknown section [nope]" in line, f"{line!r}")
            deadline = time.monotonic() + 10
            while audit_runs(d) <= runs and time.monotonic() < deadline:
                time.sleep(0.2)
            check(audit_runs(d) > runs, "the audit still runs (audit-interval = 0 not taken)")

        with r.case("a missing explicit file at reload: logged, kept"):
            os.unlink(conf)
            at = log_size(d)
            d.proc.send_signal(signal.SIGHUP)
            line = wait_log(d, r"reload: ", at)
            check(f"{conf}: No such file or directory" in line, f"{line!r}")
            check(d.alive(), "alive after a reload without its file")
            d.status()


T.run(main)
