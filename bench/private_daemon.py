# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private fdwatchd of a build for one benchmark run (follow_owners.py,
lost_owners.py): its own socket, state directory and lock file in a
temporary directory, started, waited for until ready, stopped and removed.
Root only: fdwatchd loads eBPF programs."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from types import SimpleNamespace


def status(cli, sock):
    """`fdwatch status` of the daemon at `sock`: its JSON (RuntimeError on failure)."""
    r = subprocess.run([cli, "--socket", sock, "--json", "status"], capture_output=True,
                       text=True, timeout=60)
    if r.returncode:
        raise RuntimeError(f"status: {r.stderr.strip()}")
    return json.loads(r.stdout)


@contextlib.contextmanager
def private_daemon(build, prefix, args=(), ready_secs=120):
    """BUILD's fdwatchd with `--config /dev/null` and `args`, in a new
    directory whose name starts with `prefix` (mode 0711; its log in
    daemon.log). Yields,
    once the daemon says it is ready and its socket is open to every user
    (0666), a namespace: proc (the Popen), sock, cli (BUILD's fdwatch),
    tmp. On leaving: SIGTERM (SIGKILL after 30 s), the directory removed."""
    daemon = os.path.join(build, "daemon", "fdwatchd")
    cli = os.path.join(build, "cli", "fdwatch")
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o711)
    sock = os.path.join(tmp, "s.sock")
    os.mkdir(os.path.join(tmp, "st"))
    log = open(os.path.join(tmp, "daemon.log"), "w")
    d = subprocess.Popen([daemon, "--config", "/dev/null", "--socket", sock, "--state-dir",
                          os.path.join(tmp, "st"), "--lock-file", os.path.join(tmp, "lock"),
                          *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_secs
        while True:
            if d.poll() is not None:
                raise RuntimeError(f"fdwatchd exited {d.returncode}")
            if os.path.exists(sock):
                try:
                    if status(cli, sock).get("ready"):
                        break
                except (RuntimeError, ValueError):
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("fdwatchd not ready")
            time.sleep(0.2)
        os.chmod(sock, 0o666)
        yield SimpleNamespace(proc=d, sock=sock, cli=cli, tmp=tmp)
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(timeout=30)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
