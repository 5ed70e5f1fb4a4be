# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for fdwatch's `bpf` integration tests. Standard library only.

Every test script does:

    import fdwtest as T
    def main(r):          # r: T.Runner
        with T.Daemon() as d:
            with r.case("name"):
                ...
    T.run(main)

Exit codes (meson's convention): 0 pass, 77 skip, 1 fail. A skip happens only
when the machine cannot run the test (not root, no BPF); with
FDWATCH_REQUIRE_BPF=1 (CI) those become failures. The same holds inside a
test: a case that raises Skip is a failed case under FDWATCH_REQUIRE_BPF=1
(a case that could not run must not vanish into a passing file), and only
counted as skipped otherwise.

STRICT (FDWATCH_REQUIRE_BPF=1 or CI=true): optional kernel paths that a
developer's machine may refuse (fanotify, userfaultfd, io_uring, ...) are
required; see optional_refused(). SANITIZED (FDWT_SANITIZED=1, set by
scripts/sanitize.sh): the binaries are built with the sanitizers.

Paths come from the environment (set by tests/integration/meson.build):
FDWATCHD, FDWATCH (binaries), FDWT_PROGS (directory of tests/progs programs).
Without them, FDWATCH_BUILD_ROOT (default: <source>/build) is used.
"""

import contextlib
import ctypes
import errno
import functools
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77
REQUIRE_BPF = os.environ.get("FDWATCH_REQUIRE_BPF") == "1"
ON_CI = os.environ.get("CI", "") not in ("", "0", "false")
STRICT = REQUIRE_BPF or ON_CI
# scripts/sanitize.sh: fdwatchd and the programs are an ASan+UBSan build
# (FDWT_SANITIZED=1): slower, ASan's allocator instead of glibc malloc's,
# no valgrind
SANITIZED = os.environ.get("FDWT_SANITIZED") == "1"

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.environ.get("FDWATCH_BUILD_ROOT") or os.path.join(SRC_ROOT, "build")
FDWATCHD = os.environ.get("FDWATCHD") or os.path.join(BUILD_ROOT, "daemon", "fdwatchd")
FDWATCH = os.environ.get("FDWATCH") or os.path.join(BUILD_ROOT, "cli", "fdwatch")
PROGS = os.environ.get("FDWT_PROGS") or os.path.join(BUILD_ROOT, "tests", "progs")

O_CLOEXEC_OCTAL = 0o2000000  # O_CLOEXEC as /proc/PID/fdinfo/FD `flags:` shows it


class Skip(Exception):
    """The machine cannot run this (part of a) test."""


class Failure(AssertionError):
    """A check failed; the message says what was compared."""


def log(msg):
    print(msg, flush=True)


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def check_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got!r}, expected {want!r}")


# --------------------------------------------------------------------------
# Results


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    @contextlib.contextmanager
    def case(self, name):
        t0 = time.monotonic()
        try:
            yield
        except Skip as e:
            if REQUIRE_BPF:
                self.failed += 1
                self.failures.append(name)
                log(f"FAIL {name}: could not run, and FDWATCH_REQUIRE_BPF=1 forbids skipping:\n"
                    f"{indent(str(e))}")
            else:
                self.skipped += 1
                log(f"skip {name}: {e}")
        except Failure as e:
            self.failed += 1
            self.failures.append(name)
            log(f"FAIL {name}:\n{indent(str(e))}")
        except Exception as e:  # a crash of the test or a tool: still a failure
            self.failed += 1
            self.failures.append(name)
            log(f"FAIL {name}: {type(e).__name__}: {e}\n{indent(traceback.format_exc())}")
        else:
            self.passed += 1
            log(f"ok   {name} ({time.monotonic() - t0:.2f}s)")

    def finish(self):
        line = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            line += f", {self.skipped} skipped"
        if self.failures:
            log("failed: " + ", ".join(self.failures))
        log(line)
        if self.failed:
            return 1
        if self.passed == 0:
            return SKIP
        return 0


def indent(text, pfx="    "):
    return "\n".join(pfx + l for l in str(text).rstrip("\n").split("\n"))


def optional_refused(what):
    """An optional kernel path this machine refused: a Failure where every
    path is required (STRICT: CI, FDWATCH_REQUIRE_BPF=1), else a Skip of
    the case (which REQUIRE_BPF would turn into a failure anyway)."""
    if STRICT:
        raise Failure(f"{what} (required with FDWATCH_REQUIRE_BPF=1 or CI=true)")
    raise Skip(what)


def skip_env(msg):
    """The environment cannot run the bpf suite: skip, or fail on CI."""
    if REQUIRE_BPF:
        log(f"FAIL: {msg} (FDWATCH_REQUIRE_BPF=1: not skipping)")
        log("0 passed, 1 failed")
        sys.exit(1)
    log(f"SKIP: {msg}")
    sys.exit(SKIP)


def run(main):
    """Sets up the environment, runs main(runner), exits with its verdict."""
    r = Runner()
    for path in (FDWATCHD, FDWATCH):
        if not os.access(path, os.X_OK):
            log(f"FAIL: {path} is not built")
            log("0 passed, 1 failed")
            sys.exit(1)
    require_root_and_bpf()
    try:
        main(r)
    except Skip as e:
        skip_env(str(e))
    except Exception as e:
        r.failed += 1
        r.failures.append("setup")
        log(f"FAIL (outside any case): {type(e).__name__}: {e}\n{indent(traceback.format_exc())}")
    finally:
        Prog.kill_all()
    sys.exit(r.finish())


# --------------------------------------------------------------------------
# Environment


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_SYSCALLS = {
    "x86_64": {"bpf": 321, "kcmp": 312, "close": 3, "close_range": 436, "dup2": 33,
               "dup3": 292, "exit": 60},
    "aarch64": {"bpf": 280, "kcmp": 272, "close": 57, "close_range": 436, "dup3": 24,
                "exit": 93},
}


def sysnr(name):
    try:
        return _SYSCALLS[platform.machine()][name]
    except KeyError:
        raise Skip(f"syscall number of {name} unknown on {platform.machine()}")


def _bpf_can_load():
    """Loads a two-instruction raw_tracepoint program: proves that this
    process may load tracing BPF programs at all. Returns None or a reason."""
    insns = (ctypes.c_uint64 * 2)(0x00000000000000B7, 0x0000000000000095)  # r0 = 0; exit
    lic = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)
    BPF_PROG_TYPE_RAW_TRACEPOINT = 17
    ctypes.c_uint32.from_buffer(attr, 0).value = BPF_PROG_TYPE_RAW_TRACEPOINT
    ctypes.c_uint32.from_buffer(attr, 4).value = 2
    ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(insns)
    ctypes.c_uint64.from_buffer(attr, 16).value = ctypes.addressof(lic)
    BPF_PROG_LOAD = 5
    fd = _libc.syscall(ctypes.c_long(sysnr("bpf")), ctypes.c_int(BPF_PROG_LOAD), attr,
                       ctypes.c_uint(128))
    if fd < 0:
        e = ctypes.get_errno()
        return f"bpf(BPF_PROG_LOAD) failed: {os.strerror(e)}"
    os.close(fd)
    return None


def require_root_and_bpf():
    if os.geteuid() != 0:
        skip_env("the bpf suite needs root")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip_env("no kernel BTF (/sys/kernel/btf/vmlinux)")
    why = _bpf_can_load()
    if why:
        skip_env(f"cannot load BPF programs here: {why}")
    tr = "/sys/kernel/tracing"
    if os.path.isdir(tr) and not os.path.ismount(tr):
        rc = subprocess.run(["mount", "-t", "tracefs", "tracefs", tr],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if rc.returncode == 0:
            log(f"note: mounted tracefs on {tr}")
        else:
            log(f"note: could not mount tracefs on {tr}: {rc.stderr.strip()}")


# --------------------------------------------------------------------------
# /proc


def proc_table(pid):
    """{fd: (target, cloexec)} as the kernel shows it now."""
    base = f"/proc/{pid}"
    out = {}
    for name in os.listdir(f"{base}/fd"):
        fd = int(name)
        try:
            target = os.readlink(f"{base}/fd/{name}")
            with open(f"{base}/fdinfo/{name}") as f:
                flags = None
                for line in f:
                    if line.startswith("flags:"):
                        flags = int(line.split()[1], 8)
                        break
        except FileNotFoundError:
            continue  # closed meanwhile: only possible if the process runs
        if flags is None:
            raise Failure(f"/proc/{pid}/fdinfo/{fd} has no flags: line")
        out[fd] = (target, bool(flags & O_CLOEXEC_OCTAL))
    return out


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return s[s.rindex(")") + 2]


def proc_comm(pid):
    try:
        # a comm is any 15 bytes, not always UTF-8
        with open(f"/proc/{pid}/comm", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return "?"


def fd_target(pid, fd):
    """What /proc/PID/fd/FD points at; None when there is no such fd."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None


def detachers():
    """Pids of stopped daemons' `fdwatchd-detach` children (each keeps its
    daemon's probes attached while it closes their links, ~2 s)."""
    return [int(x) for x in os.listdir("/proc")
            if x.isdigit() and proc_comm(int(x)) == "fdwatchd-detach"]


def wait_no_detachers(timeout=30):
    """Until no `fdwatchd-detach` is left (True), or `timeout` s (False)."""
    deadline = time.monotonic() + timeout
    while detachers():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def wait_proc_stopped(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        st = proc_state(pid)
        if st in ("T", "t"):
            return
        if st is None or st in ("Z", "X"):
            raise Failure(f"process {pid} ended instead of stopping")
        if time.monotonic() > deadline:
            raise Failure(f"process {pid} did not stop within {timeout}s (state {st})")
        time.sleep(0.005)


def proc_stats():
    """(pid, the fields of /proc/PID/stat after comm) for every process
    /proc lists now: fields[0] is the state, [1] the ppid, [2] the pgid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                st = f.read()
        except OSError:
            continue
        out.append((int(name), st[st.rindex(")") + 2:].split()))
    return out


def changing_fds(pid):
    """True when a thread of `pid` is inside close, close_range, dup2 or
    dup3 now: /proc already shows such a syscall's effect while the model
    (which follows completed syscalls) waits for its return, and a last
    close can block in the kernel for a while (a bpf link's detach)."""
    nrs = set()
    for name in ("close", "close_range", "dup2", "dup3"):
        try:
            nrs.add(sysnr(name))
        except Exception:
            pass
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                first = f.read().split()
        except OSError:
            continue
        if first and first[0].lstrip("-").isdigit() and int(first[0]) in nrs:
            return True
    return False


def pid_exists(pid):
    return os.path.exists(f"/proc/{pid}")


def kcmp_file(pid1, fd1, pid2, fd2):
    """0 same open file description, 1/2 ordering, as kcmp(KCMP_FILE)."""
    KCMP_FILE = 0
    r = _libc.syscall(ctypes.c_long(sysnr("kcmp")), ctypes.c_int(pid1), ctypes.c_int(pid2),
                      ctypes.c_int(KCMP_FILE), ctypes.c_ulong(fd1), ctypes.c_ulong(fd2))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"kcmp({pid1},{pid2},FILE,{fd1},{fd2}): {os.strerror(e)}")
    return r


# --------------------------------------------------------------------------
# The daemon


class Daemon:
    """fdwatchd on a private socket, state directory and host lock file.

    with Daemon() as d: ... stops it with SIGTERM at the end and checks the
    exit code (0) and that the socket file is gone."""

    # Starting means loading and verifying the probes and reading all of
    # /proc: on the 2-core machines, beside other fdwatchd instances and
    # benchmarks, that has taken over 20 s. The time it took is logged.
    def __init__(self, args=(), wrapper=(), ready_timeout=60, stop_timeout=20):
        self.args = list(args)
        self.wrapper = list(wrapper)
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.proc = None
        self.tmp = None
        self.stopped_ok = None

    # -- lifecycle
    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="fdwt-daemon-")
        self.sock = os.path.join(self.tmp, "fdwatch.sock")
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.state)
        # tests run several daemons at once by design: each its own host lock
        self.lock = os.path.join(self.tmp, "fdwatchd.lock")
        self.log_path = os.path.join(self.tmp, "daemon.log")
        self.log = open(self.log_path, "w+")
        cmd = self.wrapper + [FDWATCHD, "--socket", self.sock, "--state-dir", self.state,
                              "--lock-file", self.lock] + self.args
        # the host's /etc/fdwatch/fdwatch.conf, if any, is not the test's
        if "--config" not in self.args:
            cmd[len(self.wrapper) + 1:len(self.wrapper) + 1] = ["--config", "/dev/null"]
        log(f"starting: {' '.join(cmd)}")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = t0 + self.ready_timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise Failure(f"fdwatchd exited with {rc} before it was ready "
                              f"(BPF loads in this environment, so this is a daemon failure)\n"
                              f"{self.log_tail()}")
            if os.path.exists(self.sock):
                # a slow first answer is not a failure until the deadline
                left = max(1.0, deadline - time.monotonic())
                try:
                    c = self.cli("status", timeout=min(10, left))
                    if c.returncode == 0:
                        break
                except Failure:
                    pass
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise Failure(f"fdwatchd not answering `fdwatch status` within "
                              f"{self.ready_timeout}s\n{self.log_tail()}")
            time.sleep(0.1)
        self.ready_s = time.monotonic() - t0
        log(f"daemon ready after {self.ready_s:.2f}s (pid {self.proc.pid})")
        return self

    def stop(self):
        """SIGTERM; returns (exit code, socket removed). Raises Failure unless clean."""
        if self.proc is None or self.stopped_ok is not None:
            return
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            self.stopped_ok = False
            raise Failure(f"fdwatchd died during the test with {rc}\n{self.log_tail()}")
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.stopped_ok = False
            raise Failure(f"fdwatchd did not exit within {self.stop_timeout}s of SIGTERM\n"
                          f"{self.log_tail()}")
        sock_left = os.path.exists(self.sock)
        self.stopped_ok = rc == 0 and not sock_left
        if not self.stopped_ok:
            raise Failure(f"fdwatchd after SIGTERM: exit code {rc} (want 0), socket file "
                          f"{'still exists' if sock_left else 'removed'}\n{self.log_tail()}")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
        if self.tmp and not os.environ.get("FDWT_KEEP_TMP"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def others(self):
        """Other fdwatchd processes on this machine (they can interfere)."""
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit() and self.proc and int(name) != self.proc.pid and proc_comm(int(name)) == "fdwatchd":
                try:
                    with open(f"/proc/{name}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                    out.append(f"{name}: {cmd}")
                except OSError:
                    pass
        return out

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return "(no daemon log)"
        text = "daemon log (last lines):\n" + indent("\n".join(lines[-n:]) or "(empty)")
        others = self.others()
        if others:
            text += "\nnote: other fdwatchd instances were running:\n" + indent("\n".join(others))
        return text

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, et, ev, tb):
        try:
            if self.proc and self.stopped_ok is None:
                try:
                    self.stop()
                    log("daemon stopped cleanly (exit 0, socket removed)")
                except Failure as e:
                    if et is None:
                        raise
                    log(f"FAIL also: {e}")
        finally:
            self.cleanup()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # -- CLI
    def cli(self, *args, json_out=False, timeout=60):
        cmd = [FDWATCH, "--socket", self.sock] + (["--json"] if json_out else []) + [str(a) for a in args]
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"`{' '.join(cmd)}` did not finish within {timeout}s")

    def cli_json(self, *args, timeout=60):
        c = self.cli(*args, json_out=True, timeout=timeout)
        if c.returncode != 0:
            raise Failure(f"`fdwatch --json {' '.join(map(str, args))}` exit {c.returncode}: "
                          f"{c.stderr.strip() or c.stdout.strip()}")
        try:
            return json.loads(c.stdout)
        except ValueError as e:
            raise Failure(f"`fdwatch --json {' '.join(map(str, args))}` printed invalid JSON "
                          f"({e}): {c.stdout[:500]!r}")

    def status(self):
        return self.cli_json("status")

    @contextlib.contextmanager
    def paused(self):
        """The daemon stopped (SIGSTOP) for the block, continued after it
        (also on an error): what the block does fills its ring."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.proc.pid, signal.SIGCONT)

    def check_lost(self, r, name):
        """A case `name`: records were lost (the test caused its loss)."""
        with r.case(f"{name}: the ring overflowed (records were lost)"):
            st = self.status()
            check(st.get("events_lost", 0) > 0,
                  f"events_lost {st.get('events_lost')}: the test did not cause a loss")

    def ps(self):
        return self.cli_json("ps")

    def fds(self, pid):
        return self.cli_json("fds", pid)

    def fd(self, pid, fd):
        return self.cli_json("fds", pid, fd)

    def events(self, pid=None, limit=None):
        args = ["events"]
        if pid is not None:
            args += ["--pid", pid]
        if limit is not None:
            args += ["--limit", limit]
        c = self.cli(*args, json_out=True)
        if c.returncode != 0:
            raise Failure(f"`fdwatch --json {' '.join(map(str, args))}` exit {c.returncode}: "
                          f"{c.stderr.strip()}")
        return parse_events(c.stdout)

    def verify(self, pid=None):
        args = ["verify"] + ([pid] if pid is not None else [])
        return self.cli(*args, json_out=True)

    def processes_by_pid(self):
        return {p["pid"]: p for p in self.ps()["processes"]}


def parse_events(text):
    """`fdwatch --json events` prints one object per line; accept a single
    {"events": [...]} object too."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("{") and "\n" not in text:
        obj = json.loads(text)
        if isinstance(obj, dict) and "events" in obj and "syscall" not in obj:
            return obj["events"]
        return [obj]
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise Failure(f"events output line is not JSON ({e}): {line[:300]!r}")
    return out


# --------------------------------------------------------------------------
# GET over the daemon's socket from another user or namespace


# A script of its own, to run as another uid or inside unshare/setpriv:
# `python3 -c UNIX_GET SOCK TARGET FOLLOW STRICT` (unix_get_cmd() builds
# that). It prints one JSON line {"status": N, "body": "...", "pid": P}: the
# body with a chunked encoding decoded, P the client's own pid (as its pid
# namespace numbers it). FOLLOW > 0: a stream, read for FOLLOW s (or to
# its end); 0: read until the server closes, 30 s at most. STRICT 1: every
# error is the script's (a traceback, exit 1): a refused connect, no end
# within the 30 s, a malformed chunk; STRICT 0: a refused connect is
# status -errno, the answer is what came in the time, and decoding stops
# at a malformed chunk (a followed stream is cut off mid-chunk).
UNIX_GET = r'''
import json, os, socket, sys, time
path, target = sys.argv[1], sys.argv[2]
follow, strict = float(sys.argv[3]), sys.argv[4] == "1"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
except OSError as e:
    if strict:
        raise
    print(json.dumps({"status": -e.errno, "body": str(e), "pid": os.getpid()}))
    sys.exit(0)
s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
data, ended = b"", False
end = time.monotonic() + (follow or 30)
s.settimeout(0.5)
while time.monotonic() < end:
    try:
        b = s.recv(65536)
    except socket.timeout:
        continue
    if not b:
        ended = True
        break
    data += b
if strict and not ended:
    sys.exit(f"GET {target}: the answer did not end within {follow or 30:g} s "
             f"({len(data)} bytes)")
head, _, body = data.partition(b"\r\n\r\n")
status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
if b"chunked" in head.lower():
    out, rest = b"", body
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        try:
            n = int(line, 16)
        except ValueError:
            if strict:
                raise
            break
        out, rest = out + rest[:n], rest[n + 2:]
    body = out
print(json.dumps({"status": status, "body": body.decode(errors="replace"),
                  "pid": os.getpid()}))
'''


def unix_get_cmd(python, sock, target, follow=0, strict=False):
    """The command line of a UNIX_GET client run by `python` (an
    interpreter the client's uid may run); prefix it with setpriv,
    unshare, ..., or pass user= to subprocess."""
    return [python, "-c", UNIX_GET, sock, target, f"{follow:g}", "1" if strict else "0"]


def unix_get_json(python, sock, target, **ids):
    """GET `target` with a strict UNIX_GET client run by `python`, as the
    subprocess keywords `ids` say (user=, group=, extra_groups=):
    (status, the body parsed)."""
    out = subprocess.run(unix_get_cmd(python, sock, target, strict=True), capture_output=True,
                         text=True, timeout=60, **ids).stdout
    r = json.loads(out)
    return r["status"], json.loads(r["body"])


# --------------------------------------------------------------------------
# Comparing the model with /proc


def model_table(js):
    out = {}
    dups = []
    for e in js.get("fds", []):
        if e["fd"] in out:
            dups.append(e["fd"])
        out[e["fd"]] = (e.get("target"), e.get("cloexec"))
    return out, dups


def table_diff(model, kernel):
    lines = []
    for fd in sorted(set(model) | set(kernel)):
        m, k = model.get(fd), kernel.get(fd)
        if m is None:
            lines.append(f"fd {fd}: missing in model (/proc: {k[0]!r} cloexec={int(k[1])})")
        elif k is None:
            lines.append(f"fd {fd}: extra in model (model: {m[0]!r} cloexec={m[1]}); not in /proc")
        else:
            if m[0] != k[0]:
                lines.append(f"fd {fd}: target: model {m[0]!r} != /proc {k[0]!r}")
            if m[1] is not k[1]:
                lines.append(f"fd {fd}: cloexec: model {m[1]!r} != /proc {k[1]} "
                             f"(target {k[0]!r})")
    return lines


def assert_table_matches(d, pid, label="", verify=True, allow_stale=False):
    """`fdwatch fds PID` equals /proc/PID/fd (+fdinfo) exactly, and
    `fdwatch verify PID` exits 0. Returns the model's JSON."""
    where = f"pid {pid} ({proc_comm(pid)}){' at ' + label if label else ''}"
    js = d.fds(pid)
    kernel = proc_table(pid)
    problems = []
    if js.get("pid") != pid:
        problems.append(f"answer's pid is {js.get('pid')!r}")
    model, dups = model_table(js)
    for fd in dups:
        problems.append(f"fd {fd} listed twice by the model")
    problems += table_diff(model, kernel)
    if js.get("stale") and not allow_stale:
        try:
            st = d.status()
        except Failure:
            st = {}
        if st.get("events_lost") == 0:
            problems.append(
                "table still marked stale while the process is stopped, with no lost events "
                "(a re-read from /proc should have made it exact and cleared the flag); status: "
                + ", ".join(f"{k}={st.get(k)}" for k in ("stale_tables", "resyncs", "anomalies",
                                                          "resync_fds_failed") if k in st))
        else:
            log(f"note: {where}: table stale, events_lost={st.get('events_lost')}")
    if problems:
        raise Failure(f"model of {where} differs from /proc "
                      f"({len(model)} fds in model, {len(kernel)} in /proc):\n"
                      + indent("\n".join(problems[:60]))
                      + (f"\n    ... {len(problems) - 60} more" if len(problems) > 60 else ""))
    if verify:
        c = d.verify(pid)
        if c.returncode != 0:
            raise Failure(f"`fdwatch verify {pid}` exit {c.returncode} although `fdwatch fds` "
                          f"equals /proc at {where}:\n{indent(c.stdout.strip() + c.stderr.strip())}")
        try:
            v = json.loads(c.stdout)
            check(v.get("ok") is True and not v.get("differences"),
                  f"verify {pid} exit 0 but says {c.stdout.strip()[:300]}")
        except ValueError:
            raise Failure(f"`fdwatch --json verify {pid}` printed invalid JSON: {c.stdout[:300]!r}")
    return js


def by_fd(js):
    return {e["fd"]: e for e in js.get("fds", [])}


def assert_ofd_consistent(d, pids, models=None):
    """For every pair of fds among `pids`: same `ofd` in the model exactly
    when kcmp(KCMP_FILE) says they share an open file description."""
    if models is None:
        models = {pid: d.fds(pid) for pid in pids}
    entries = []
    for pid in pids:
        for e in models[pid].get("fds", []):
            if "ofd" not in e:
                raise Failure(f"pid {pid} fd {e['fd']}: no `ofd` field")
            entries.append((pid, e["fd"], e["ofd"], e.get("target")))

    def cmp(a, b):
        r = kcmp_file(a[0], a[1], b[0], b[1])
        return 0 if r == 0 else (-1 if r == 1 else 1)

    try:
        entries.sort(key=functools.cmp_to_key(cmp))
    except OSError as e:
        if e.errno == errno.ENOSYS:
            raise Skip("kcmp() is not available")
        raise
    groups, cur = [], [entries[0]] if entries else []
    for a, b in zip(entries, entries[1:]):
        if kcmp_file(a[0], a[1], b[0], b[1]) == 0:
            cur.append(b)
        else:
            groups.append(cur)
            cur = [b]
    if cur:
        groups.append(cur)
    problems = []
    ofd_owner = {}
    for g in groups:
        ofds = {e[2] for e in g}
        if len(ofds) > 1:
            problems.append("same open file description (kcmp), different ofd in model: "
                            + ", ".join(f"pid {p} fd {fd} ofd={o}" for p, fd, o, _ in g))
        for o in ofds:
            if o in ofd_owner and ofd_owner[o] is not g:
                other = ofd_owner[o]
                problems.append(f"ofd {o} shared by different open file descriptions: "
                                f"pid {g[0][0]} fd {g[0][1]} ({g[0][3]}) and pid {other[0][0]} "
                                f"fd {other[0][1]} ({other[0][3]})")
            ofd_owner[o] = g
    if problems:
        raise Failure("ofd identities disagree with the kernel:\n" + indent("\n".join(problems[:40])))


def check_origin(js, fd, syscall=None, tid=None, from_fd="unset", source="event"):
    e = by_fd(js).get(fd)
    check(e is not None, f"fd {fd} not in the model")
    o = e.get("origin") or {}
    where = f"pid {js.get('pid')} fd {fd} ({e.get('target')})"
    if source is not None:
        check_eq(o.get("source"), source, f"{where} origin.source")
    if syscall is not None:
        check_eq(o.get("syscall"), syscall, f"{where} origin.syscall")
    if tid is not None:
        check_eq(o.get("tid"), tid, f"{where} origin.tid")
    if from_fd != "unset":
        check_eq(o.get("from_fd"), from_fd, f"{where} origin.from_fd")
    return e


# --------------------------------------------------------------------------
# Test programs (tests/progs) that stop themselves at checkpoints


class Checkpoint:
    def __init__(self, line):
        parts = line.split()
        if len(parts) < 3 or parts[0] != "CP":
            raise Failure(f"bad checkpoint line {line!r}")
        self.name = parts[1]
        self.kv = {}
        for p in parts[2:]:
            k, _, v = p.partition("=")
            self.kv[k] = v
        self.pid = int(self.kv["pid"])
        self.pids = [int(x) for x in self.kv.get("pids", str(self.pid)).split(",")]

    def int(self, k):
        return int(self.kv[k])

    def ints(self, k):
        v = self.kv.get(k, "")
        return [int(x) for x in v.split(",") if x != ""]

    def get(self, k, default=None):
        return self.kv.get(k, default)

    def __repr__(self):
        return f"CP {self.name} {self.kv}"


class Prog:
    _all = []

    def __init__(self, name, *args, env=None):
        path = os.path.join(PROGS, name)
        if not os.access(path, os.X_OK):
            raise Failure(f"test program {path} is not built")
        self.name = name
        self.p = subprocess.Popen([path] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, env=env)
        self.pid = self.p.pid
        self.buf = b""
        self.stopped = []
        self.seen = {self.pid}
        self.cp = None
        Prog._all.append(self)

    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"{self.name}: no checkpoint within {timeout}s "
                              f"(state {proc_state(self.pid)})")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def next_cp(self, expect=None, timeout=60):
        line = self._readline(timeout)
        if line is None:
            rc = self.p.wait(timeout=30)
            raise Failure(f"{self.name} exited with {rc} before checkpoint {expect or ''} "
                          f"(see its stderr above)")
        cp = Checkpoint(line)
        if expect is not None and cp.name != expect:
            raise Failure(f"{self.name}: checkpoint {cp.name!r}, expected {expect!r}")
        for pid in cp.pids:
            self.seen.add(pid)
            if pid == self.pid:
                while True:
                    _, st = os.waitpid(pid, os.WUNTRACED)
                    if os.WIFSTOPPED(st):
                        break
                    if os.WIFEXITED(st) or os.WIFSIGNALED(st):
                        self.p.returncode = os.waitstatus_to_exitcode(st)
                        raise Failure(f"{self.name} ended at checkpoint {cp.name}")
            else:
                wait_proc_stopped(pid)
        self.stopped = list(cp.pids)
        self.cp = cp
        return cp

    def cont(self):
        # the others first: the writer of the line usually waits for them
        for pid in reversed(self.stopped):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped = []

    def finish(self, timeout=60):
        """Continues the program and expects it to exit 0 without further checkpoints."""
        if self.stopped:
            self.cont()
        try:
            rest, _ = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"{self.name} did not exit within {timeout}s")
        rest = (self.buf + (rest or b"")).decode(errors="replace").strip()
        if rest:
            raise Failure(f"{self.name}: unexpected output at the end: {rest[:300]!r}")
        check(self.p.returncode == 0, f"{self.name} exited with {self.p.returncode}")

    def run_out(self, timeout=60):
        """Continues through the remaining checkpoints without checking
        them, so the program cleans up after itself, and expects exit 0."""
        while True:
            if self.stopped:
                self.cont()
            line = self._readline(timeout)
            if line is None:
                break
            self.buf = line.encode() + b"\n" + self.buf
            self.next_cp(timeout=timeout)
        self.finish(timeout)

    def kill(self):
        for pid in self.seen:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.p.poll() is None:
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.p.stdout:
            self.p.stdout.close()

    @classmethod
    def kill_all(cls):
        for p in cls._all:
            if p.p.poll() is None:
                p.kill()
        cls._all = []


def check_checkpoint(r, d, prog, cp, extra=None, ofd=True):
    """The usual checks at a checkpoint, one case per stopped process plus
    one for ofd consistency; `extra(models)` adds the test's own checks."""
    models = {}
    for pid in cp.pids:
        with r.case(f"{prog.name}:{cp.name}: table of pid {pid} equals /proc"):
            models[pid] = assert_table_matches(d, pid, cp.name)
    if ofd and len(models) == len(cp.pids):
        with r.case(f"{prog.name}:{cp.name}: ofd identities agree with kcmp"):
            assert_ofd_consistent(d, cp.pids, models)
    if extra is not None and len(models) == len(cp.pids):
        with r.case(f"{prog.name}:{cp.name}: provenance"):
            extra(models)
    return models


def run_prog(r, d, name, *args, checks=None, ofd=True, expect_cps=None, require_all=True,
             before=None):
    """Runs a program through all its checkpoints. checks: {cp_name:
    fn(cp, models)} for the test's own checks at that checkpoint; before:
    {cp_name: fn(cp)} run (as a case of its own) before the table check."""
    checks = checks or {}
    before = before or {}
    prog = Prog(name, *args)
    seen = []
    try:
        while True:
            line = prog._readline(120)
            if line is None:
                break
            prog.buf = line.encode() + b"\n" + prog.buf
            cp = prog.next_cp()
            seen.append(cp.name)
            if cp.name in before:
                with r.case(f"{name}:{cp.name}: before the table check"):
                    before[cp.name](cp)
            fn = checks.get(cp.name)
            check_checkpoint(r, d, prog, cp,
                             extra=(lambda models, fn=fn, cp=cp: fn(cp, models)) if fn else None,
                             ofd=ofd)
            prog.cont()
        with r.case(f"{name} {' '.join(map(str, args))}: ran to completion"):
            prog.finish()
            if expect_cps is not None:
                check_eq(seen, list(expect_cps), "checkpoints reached")
            missing = [k for k in checks if k not in seen] if require_all else []
            check(not missing, f"checkpoints never reached: {missing}")
    finally:
        if prog.p.poll() is None:
            prog.kill()
    return seen
