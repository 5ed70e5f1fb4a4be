#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A false-positive sweep: real programs from Debian packages under a
private fdwatchd whose detectors' thresholds are turned down, in the
default mode and in deep mode (--races-io).

For each workload and mode: a fresh private daemon (bench/private_daemon.py),
the workload for --secs seconds, `fdwatch verify PID` of its long-lived
processes (and their children) while they run, then the daemon's leak and
race alerts and its status. Alerts are split into the workload's (its
processes: descendants of this script, which is their subreaper) and the
host's (everything else the daemon saw meanwhile). Every alert of a correct
program is a false positive to look at; a verify difference is model drift.

It installs nothing: a workload whose program is missing is skipped, saying
which. Root only (BPF). Each run takes /tmp/fdw-heavy.lock (--lock) while
its daemon is loaded, so do not wrap the script in flock(1).

    bench/sweep.py --list
    bench/sweep.py [--secs 60] [--modes default,deep] [--only nginx,redis]
                   [--json out.json] [--keep]
"""
import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from private_daemon import private_daemon  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# thresholds turned down so that the detectors get a chance to fire: the
# growth trends over 10 s (fast) and 5 s intervals (slow), a leaked fd
# reported at once, deep mode for any process with a finding
LEAK_ARGS = ["fast_window=10", "fast_min_samples=10", "fast_min_rate=1", "fast_min_rise=10",
             "slow_interval=5", "slow_min_samples=4", "slow_min_rate=6", "slow_min_rise=5",
             "exhaustion_ratio=0.5", "exec_min_age=0", "race_deep=1"]
DAEMON_ARGS = ["--audit-interval", "5", "--audit-sample", "32"]
MODES = {"default": [], "deep": ["--races-io"]}

PR_SET_CHILD_SUBREAPER = 36


def log(msg):
    print(msg, flush=True)


class Ctx:
    """One workload run: its directory, the processes it started, the
    long-lived ones to verify, and its deadline."""

    def __init__(self, d, tmp, secs):
        self.d, self.dir, self.secs = d, tmp, secs
        self.procs = []
        self.long_lived = {}  # name -> pid
        self.threads = []
        self.stop = threading.Event()
        self.notes = []
        self.cleanup = None  # called before the processes are killed

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def write(self, name, text, mode=0o644):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def bg(self, argv, name, long_lived=False, user=None, cwd=None, env=None, stdin=None):
        """Start argv (a list, or a string for sh -c) in its own session,
        its output in NAME.log."""
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
        if user:
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"] + argv
        out = open(self.path(name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                             stdin=stdin if stdin is not None else subprocess.DEVNULL,
                             cwd=cwd or self.dir, env=env, start_new_session=True)
        out.close()
        self.procs.append(p)
        if long_lived:
            self.long_lived[name] = p.pid
        return p

    def run(self, argv, name, timeout=120, check=True, user=None, cwd=None, env=None):
        p = self.bg(argv, name, user=user, cwd=cwd, env=env)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            killpg(p)
            raise RuntimeError(f"{name}: timed out after {timeout}s")
        if check and rc:
            raise RuntimeError(f"{name}: exit {rc} (see {name}.log)")
        return rc

    def loop(self, fn, name):
        """fn() again and again in a thread until the run's end."""
        def body():
            n = 0
            while not self.stop.is_set():
                try:
                    fn()
                    n += 1
                except Exception as e:  # noqa: BLE001 - a load step failing is a note
                    self.notes.append(f"{name}: {e}")
                    self.stop.wait(1)
            self.notes.append(f"{name}: {n} rounds")
        t = threading.Thread(target=body, daemon=True)
        t.start()
        self.threads.append(t)

    def alive(self):
        return not self.stop.is_set()


def killpg(p, sig=signal.SIGTERM):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, sig)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30, host="127.0.0.1"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection((host, port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def wait_path(p, timeout=30):
    end = time.monotonic() + timeout
    while not os.path.exists(p):
        if time.monotonic() > end:
            raise RuntimeError(f"{p} did not appear")
        time.sleep(0.1)


# ---------------------------------------------------------------- workloads

WORKLOADS = {}


def workload(name, needs, what):
    def reg(fn):
        WORKLOADS[name] = (needs, what, fn)
        return fn
    return reg


@workload("nginx", ["nginx", "wrk"], "nginx (2 workers, aio threads) under wrk, reload and log reopen")
def w_nginx(c):
    port = free_port()
    os.makedirs(c.path("www"))
    with open(c.path("www", "big.bin"), "wb") as f:
        f.write(os.urandom(256 * 1024))
    c.write("www/index.html", "hello\n")
    conf = c.write("nginx.conf", f"""
worker_processes 2;
daemon off;
pid {c.path('nginx.pid')};
error_log {c.path('error.log')} info;
thread_pool default threads=4;
events {{ worker_connections 1024; }}
http {{
    access_log {c.path('access.log')};
    client_body_temp_path {c.path('tmp-body')};
    proxy_temp_path {c.path('tmp-proxy')};
    fastcgi_temp_path {c.path('tmp-fcgi')};
    uwsgi_temp_path {c.path('tmp-uwsgi')};
    scgi_temp_path {c.path('tmp-scgi')};
    open_file_cache max=100 inactive=2s;
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {c.path('www')};
        location /big.bin {{ aio threads; sendfile off; }}
        location /ok {{ return 200 "ok\\n"; }}
    }}
}}
""")
    c.bg(["nginx", "-c", conf, "-p", c.dir], "nginx", long_lived=True)
    wait_port(port)
    base = f"http://127.0.0.1:{port}"
    c.bg(["wrk", "-t2", "-c50", f"-d{c.secs + 10}", f"{base}/ok"], "wrk-ok")
    c.bg(["wrk", "-t1", "-c20", f"-d{c.secs + 10}", f"{base}/big.bin"], "wrk-big")

    def signals():
        c.stop.wait(c.secs / 3)
        if c.alive():
            os.kill(c.long_lived["nginx"], signal.SIGUSR1)  # reopen logs
        c.stop.wait(c.secs / 3)
        if c.alive():
            os.kill(c.long_lived["nginx"], signal.SIGHUP)  # reload: new workers
        c.stop.wait(c.secs)
    c.loop(signals, "nginx-signals")


@workload("redis", ["redis-server", "redis-benchmark", "redis-cli"],
          "redis-server (io-threads 2, AOF) under redis-benchmark, BGSAVE/BGREWRITEAOF forks")
def w_redis(c):
    port = free_port()
    c.bg(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", c.dir,
          "--appendonly", "yes", "--io-threads", "2", "--io-threads-do-reads", "yes",
          "--save", "", "--daemonize", "no", "--maxclients", "500",
          "--lazyfree-lazy-user-del", "yes", "--unixsocket", c.path("redis.sock")],
         "redis-server", long_lived=True)
    wait_port(port)
    c.bg(["redis-benchmark", "-p", str(port), "-c", "50", "--threads", "2", "-n", "100000000",
          "-r", "100000", "-q", "-t", "set,get,lpush,lpop,incr,sadd,hset"], "redis-benchmark")
    cli = ["redis-cli", "-p", str(port)]

    def admin():
        for cmd in (["BGSAVE"], ["BGREWRITEAOF"], ["CLIENT", "LIST"], ["UNLINK", "mylist"],
                    ["CONFIG", "SET", "appendfsync", "always"],
                    ["CONFIG", "SET", "appendfsync", "everysec"]):
            c.run(cli + cmd, "redis-cli", check=False)
            c.stop.wait(2)
        # connection churn
        for _ in range(50):
            c.run(cli + ["PING"], "redis-cli", check=False)
    c.loop(admin, "redis-admin")


@workload("memcached", ["memcached", "memcslap"], "memcached -t 4 under memcslap (connection churn)")
def w_memcached(c):
    port = free_port()
    c.bg(["memcached", "-u", "nobody", "-t", "4", "-p", str(port), "-U", "0", "-l", "127.0.0.1",
          "-c", "1024", "-m", "64"], "memcached", long_lived=True)
    wait_port(port)

    def slap():
        c.run(["memcslap", f"--servers=127.0.0.1:{port}", "--concurrency=20",
               "--execute-number=2000", "--flush"], "memcslap", timeout=300, check=False)
    c.loop(slap, "memcslap")

    def churn():
        for _ in range(100):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"set k 0 0 1\r\nx\r\nget k\r\n")
                s.recv(100)
        c.stop.wait(0.2)
    c.loop(churn, "memcached-churn")


PG_BINS = "/usr/lib/postgresql/15/bin"


@workload("postgres", [f"{PG_BINS}/postgres", f"{PG_BINS}/initdb", "pgbench"],
          "postgres 15 (archive_command, logging collector) under pgbench, also -C")
def w_postgres(c):
    data, arch = c.path("data"), c.path("arch")
    os.chmod(c.dir, 0o755)
    for d in (data, arch, c.path("pglog"), c.path("sock")):
        os.makedirs(d, mode=0o700)
        shutil.chown(d, "postgres", "postgres")
    c.run([f"{PG_BINS}/initdb", "-D", data, "-A", "trust", "-U", "postgres"], "initdb",
          user="postgres")
    port = free_port()
    c.bg([f"{PG_BINS}/postgres", "-D", data, "-p", str(port), "-k", c.path("sock"), "-c",
          "listen_addresses=127.0.0.1", "-c", "archive_mode=on", "-c",
          f"archive_command=cp %p {arch}/%f", "-c", "wal_level=replica", "-c",
          "max_wal_size=32MB", "-c", "min_wal_size=32MB", "-c", "checkpoint_timeout=30s",
          "-c", "logging_collector=on", "-c", f"log_directory={c.dir}/pglog",
          "-c", "max_connections=50"], "postgres", long_lived=True, user="postgres")
    wait_port(port)
    time.sleep(1)
    pg = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    c.run(["pgbench", "-i", "-s", "5"] + pg + ["postgres"], "pgbench-init", user="postgres",
          timeout=300)
    c.bg(["pgbench", "-c", "8", "-j", "2", "-T", str(c.secs + 10)] + pg + ["postgres"],
         "pgbench", user="postgres")
    c.bg(["pgbench", "-C", "-c", "2", "-j", "1", "-S", "-T", str(c.secs + 10)] + pg +
         ["postgres"], "pgbench-connect", user="postgres")

    def switch():
        c.run(["psql"] + pg + ["-c", "select pg_switch_wal(); checkpoint;",
                               "-c", "copy (select 1) to program 'cat >/dev/null'"],
              "psql", user="postgres", check=False)
        c.stop.wait(5)
    c.loop(switch, "pg-switch-wal")


@workload("sshd", ["/usr/sbin/sshd", "ssh", "ssh-keygen"],
          "sshd -D (privsep, re-exec) with ssh logins to root in two loops")
def w_sshd(c):
    port = free_port()
    os.makedirs("/run/sshd", exist_ok=True)
    c.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", c.path("hostkey")], "keygen")
    c.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", c.path("userkey")], "keygen")
    shutil.copy(c.path("userkey.pub"), c.path("authorized_keys"))
    conf = c.write("sshd_config", f"""Port {port}
ListenAddress 127.0.0.1
HostKey {c.path('hostkey')}
PidFile {c.path('sshd.pid')}
AuthorizedKeysFile {c.path('authorized_keys')}
PermitRootLogin prohibit-password
StrictModes no
UsePAM yes
KbdInteractiveAuthentication no
PasswordAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
""")
    c.write("sftp.batch", "ls /\nget /etc/hostname " + c.path("got") + "\n")
    c.bg(["/usr/sbin/sshd", "-D", "-e", "-f", conf], "sshd", long_lived=True)
    wait_port(port)
    ssh = ["ssh", "-p", str(port), "-i", c.path("userkey"), "-o", "BatchMode=yes", "-o",
           "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
           "LogLevel=ERROR", "root@127.0.0.1"]

    def login():
        c.run(ssh + ["ls -l /proc/self/fd; echo x | cat; sleep 0.2"], "ssh", check=False)

    def tty():
        c.run(ssh[:1] + ["-tt"] + ssh[1:] + ["tty; exit"], "ssh-tty", check=False)
        c.run(["sftp", "-P", str(port), "-i", c.path("userkey"), "-o", "BatchMode=yes",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-b", c.path("sftp.batch"), "root@127.0.0.1"], "sftp", check=False)
    c.loop(login, "ssh-login")
    c.loop(tty, "ssh-tty")


@workload("make", ["make", "gcc"], "make -j4 of 60 C files with a recursive sub-make, again and again")
def w_make(c):
    for sub in ("a", "b"):
        for i in range(30):
            c.write(f"{sub}/f{i}.c", f"#include <stdio.h>\nint f_{sub}{i}(void) "
                    f"{{ return printf(\"%d\\n\", {i}); }}\n")
        c.write(f"{sub}/Makefile", "SRC := $(wildcard *.c)\nlib.a: $(SRC:.c=.o)\n"
                "\tar rcs $@ $^\n%.o: %.c\n\t$(CC) -O1 -c $< -o $@\nclean:\n\trm -f *.o lib.a\n")
    c.write("Makefile", "all:\n\t$(MAKE) -C a\n\t+$(MAKE) -C b\nclean:\n"
            "\t$(MAKE) -C a clean\n\t$(MAKE) -C b clean\n")

    def build():
        c.run(["make", "-s", "clean"], "make-clean", check=False)
        c.run(["make", "-j4", "-s"], "make", timeout=300)
    c.loop(build, "make")


@workload("ninja", ["ninja", "gcc"], "ninja -j4 of 40 C files (a console pool job too)")
def w_ninja(c):
    rules = ["rule cc\n  command = gcc -O1 -c $in -o $out\n",
             "rule ar\n  command = ar rcs $out $in\n",
             "rule say\n  command = sh -c 'echo built; ls /proc/self/fd >/dev/null'\n  pool = console\n"]
    objs = []
    for i in range(40):
        c.write(f"src/g{i}.c", f"int g{i}(int x) {{ return x * {i}; }}\n")
        rules.append(f"build obj/g{i}.o: cc src/g{i}.c\n")
        objs.append(f"obj/g{i}.o")
    rules.append(f"build lib.a: ar {' '.join(objs)}\nbuild say: say lib.a\ndefault say\n")
    c.write("build.ninja", "".join(rules))

    def build():
        c.run(["ninja", "-t", "clean"], "ninja-clean", check=False)
        c.run(["ninja", "-j4"], "ninja", timeout=300)
    c.loop(build, "ninja")


@workload("git", ["git"], "git commits, gc, clone over file://, log | head, grep, status")
def w_git(c):
    env = dict(os.environ, GIT_AUTHOR_NAME="s", GIT_AUTHOR_EMAIL="s@x", GIT_COMMITTER_NAME="s",
               GIT_COMMITTER_EMAIL="s@x", HOME=c.dir)
    src = c.path("src")
    c.run(["git", "init", "-q", src], "git", env=env)
    n = [0]

    def rounds():
        i = n[0]
        n[0] += 1
        for k in range(20):
            c.write(f"src/d{k % 5}/f{k}.txt", f"{i} {k}\n" * (50 + i))
        c.run(["git", "-C", src, "add", "-A"], "git", env=env)
        c.run(["git", "-C", src, "commit", "-q", "-m", f"r{i}"], "git", env=env)
        c.run("git log -p | head -20 >/dev/null", "git-log", cwd=src, env=env, check=False)
        c.run(["git", "-C", src, "grep", "-q", "-e", "5", "--threads", "4"], "git", env=env,
              check=False)
        c.run(["git", "-C", src, "status", "--porcelain"], "git", env=env)
        if i % 5 == 0:
            c.run(["git", "-C", src, "gc", "-q"], "git", env=env)
            dst = c.path(f"clone{i}")
            c.run(["git", "clone", "-q", "--no-local", f"file://{src}", dst], "git", env=env)
            c.run(["git", "-C", dst, "fsck"], "git", env=env)
            shutil.rmtree(dst)
    c.loop(rounds, "git")


PY_SCRIPT = r'''
import asyncio, concurrent.futures as cf, multiprocessing as mp, os, socket, subprocess, sys, tempfile, threading, time
END = time.monotonic() + float(sys.argv[1])
D = sys.argv[2]

def sq(x):
    with open("/etc/passwd") as f:
        return len(f.read()) * x

def io(i):
    p = os.path.join(D, f"f{i % 16}")
    with open(p, "w") as f:
        f.write("x" * 4096)
    with open(p) as f:
        n = len(f.read())
    a, b = socket.socketpair()
    a.sendall(b"hi"); b.recv(2); a.close(); b.close()
    return n

async def handle(r, w):
    data = await r.read(100)
    w.write(data); await w.drain(); w.close()

async def aio():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    for _ in range(20):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"ping"); await w.drain(); await r.read(100); w.close()
    p = await asyncio.create_subprocess_exec("cat", stdin=asyncio.subprocess.PIPE,
                                             stdout=asyncio.subprocess.PIPE)
    await p.communicate(b"x" * 1000)
    srv.close(); await srv.wait_closed()

def main():
    pools = [mp.get_context(m).Pool(3) for m in ("fork", "forkserver", "spawn")]
    with cf.ThreadPoolExecutor(8) as tp:
        while time.monotonic() < END:
            for p in pools:
                p.map(sq, range(20))
            list(tp.map(io, range(200)))
            subprocess.run(["true"], check=True)
            r, w = os.pipe()
            subprocess.run(["sh", "-c", f"echo hi >&{w}"], pass_fds=(w,), check=True)
            os.close(w); os.read(r, 10); os.close(r)
            subprocess.run("ls /proc/self/fd | wc -l", shell=True, capture_output=True)
            asyncio.run(aio())
            with cf.ProcessPoolExecutor(2) as pp:
                list(pp.map(sq, range(10)))
    for p in pools:
        p.close(); p.join()

if __name__ == "__main__":
    main()
'''


@workload("python", ["/usr/bin/python3"],
          "python3: multiprocessing (fork, forkserver, spawn), threads, subprocess, asyncio")
def w_python(c):
    c.write("load.py", PY_SCRIPT)
    c.bg(["/usr/bin/python3", c.path("load.py"), str(c.secs + 5), c.dir], "python",
         long_lived=True)


JAVA_SRC = r'''
import java.io.*;
import java.net.*;
import java.nio.*;
import java.nio.channels.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;

public class Load {
    public static void main(String[] a) throws Exception {
        long end = System.currentTimeMillis() + Long.parseLong(a[0]) * 1000;
        Path dir = Paths.get(a[1]);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        // an NIO echo server, a thread blocked in accept() and in read()
        ServerSocketChannel ss = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        int port = ((InetSocketAddress) ss.getLocalAddress()).getPort();
        Thread acc = new Thread(() -> {
            try {
                while (true) {
                    SocketChannel s = ss.accept();
                    pool.submit(() -> {
                        ByteBuffer b = ByteBuffer.allocate(64);
                        try { while (s.read(b) > 0) { b.flip(); s.write(b); b.clear(); } } catch (IOException e) { }
                        try { s.close(); } catch (IOException e) { }
                    });
                }
            } catch (IOException e) { }
        });
        acc.start();
        int round = 0;
        while (System.currentTimeMillis() < end) {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                final int k = i;
                fs.add(pool.submit(() -> {
                    Path p = dir.resolve("f" + (k % 8));
                    try {
                        Files.write(p, new byte[4096]);
                        try (FileChannel ch = FileChannel.open(p)) { ch.read(ByteBuffer.allocate(4096)); }
                        try (SocketChannel s = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
                            s.write(ByteBuffer.wrap("hi".getBytes())); s.read(ByteBuffer.allocate(2));
                        }
                    } catch (IOException e) { throw new UncheckedIOException(e); }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
            // a reader blocked on a channel that another thread closes (pre-close)
            SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
            Future<?> r = pool.submit(() -> { try { c.read(ByteBuffer.allocate(8)); } catch (IOException e) { } });
            Thread.sleep(20);
            c.close();
            r.get();
            Process pr = new ProcessBuilder("sh", "-c", "ls /proc/self/fd >/dev/null").start();
            pr.waitFor();
            pr.getInputStream().close(); pr.getOutputStream().close(); pr.getErrorStream().close();
            if (++round % 10 == 0) {
                // a listener closed under its blocked accept()
                ServerSocketChannel s2 = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
                Thread t = new Thread(() -> { try { s2.accept(); } catch (IOException e) { } });
                t.start(); Thread.sleep(20); s2.close(); t.join();
            }
        }
        ss.close();
        acc.join();
        pool.shutdown();
        pool.awaitTermination(10, TimeUnit.SECONDS);
    }
}
'''


@workload("java", ["java"], "OpenJDK: thread pool file and socket I/O, NIO server, pre-close, ProcessBuilder")
def w_java(c):
    c.write("Load.java", JAVA_SRC)
    c.bg(["java", "-Xmx256m", c.path("Load.java"), str(c.secs + 5), c.dir], "java",
         long_lived=True)


NODE_SRC = r'''
const http = require("http"), fs = require("fs"), cp = require("child_process"), path = require("path");
const end = Date.now() + Number(process.argv[2]) * 1000, dir = process.argv[3];
const srv = http.createServer((q, r) => {
  fs.readFile("/etc/services", () => r.end("ok\n"));
});
srv.listen(0, "127.0.0.1", async () => {
  const port = srv.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const get = (a) => new Promise((ok) => http.get({ port, host: "127.0.0.1", agent: a },
                                                    (r) => { r.resume(); r.on("end", ok); }).on("error", ok));
  while (Date.now() < end) {
    const jobs = [];
    for (let i = 0; i < 50; i++) jobs.push(get(i % 2 ? agent : undefined));
    for (let i = 0; i < 20; i++) jobs.push(fs.promises.open(path.join(dir, "f" + (i % 4)), "w")
                                             .then((h) => h.write("x".repeat(1000)).then(() => h.close())));
    jobs.push(new Promise((ok) => cp.execFile("sh", ["-c", "ls /proc/self/fd >/dev/null"], ok)));
    jobs.push(new Promise((ok) => { const c = cp.spawn("cat", [], { stdio: ["pipe", "pipe", "inherit"] });
                                   c.on("close", ok); c.stdin.end("x"); c.stdout.resume(); }));
    await Promise.all(jobs);
  }
  agent.destroy();
  srv.close();
});
'''


@workload("node", ["node"], "Node.js: http server and clients, fs.promises in libuv's pool, child_process")
def w_node(c):
    c.write("load.js", NODE_SRC)
    c.bg(["node", c.path("load.js"), str(c.secs + 5), c.dir], "node", long_lived=True)


SHELL_SRC = r'''
set -u
end=$(( $(date +%s) + $1 ))
cd "$2"
mkdir -p parts
for i in 1 2 3; do printf '#!/bin/sh\nls /proc/self/fd >/dev/null\necho part %s\n' $i > parts/p$i; chmod +x parts/p$i; done
while [ "$(date +%s)" -lt "$end" ]; do
    find /usr/share/doc -maxdepth 2 -name '*.gz' -exec wc -c {} + >/dev/null
    find /usr/share/doc -maxdepth 2 -type f -print0 | xargs -0 -P 4 -n 20 md5sum >/dev/null
    diff <(sort /etc/services) <(sort -r /etc/services | sort) >/dev/null
    echo hello | tee >(gzip -c >out.gz) | cat >/dev/null
    coproc BC { bc -q; }
    echo '2^10' >&"${BC[1]}"; read -r r <&"${BC[0]}"; kill "$BC_PID" 2>/dev/null; wait "$BC_PID" 2>/dev/null
    flock lock -c 'ls /proc/self/fd >/dev/null'
    ( exec 9>lock2; flock 9; cat /etc/hostname >/dev/null )
    flock lock3 sleep 0.05
    run-parts parts >/dev/null
    script -qc 'ls /proc/self/fd >/dev/null' /dev/null >/dev/null
    timeout 1 sh -c 'sleep 0.1'
    exec {fd}>fdfile; echo x >&"$fd"; exec {fd}>&-
    { sleep 0.1 | cat; } 2>/dev/null
done
'''


@workload("shell", ["bash", "find", "xargs", "flock", "run-parts", "script", "bc"],
          "bash: find -exec, xargs -P, process substitution, coproc, flock, run-parts, script")
def w_shell(c):
    c.write("load.sh", SHELL_SRC)
    c.bg(["bash", c.path("load.sh"), str(c.secs), c.dir], "shell", long_lived=True)


@workload("tmux", ["tmux"], "tmux server: windows and panes running commands, split and killed")
def w_tmux(c):
    sock = c.path("tmux.sock")
    tm = ["tmux", "-S", sock]
    c.run(tm + ["-f", "/dev/null", "new-session", "-d", "-s", "w", "sh"], "tmux")
    n = [0]

    def churn():
        n[0] += 1
        c.run(tm + ["new-window", "-d", "-t", "w", "sh -c 'ls -l /proc/self/fd; sleep 2'"], "tmux",
              check=False)
        c.run(tm + ["split-window", "-d", "-t", "w", "sh -c 'cat /etc/hostname; sleep 1'"],
              "tmux", check=False)
        c.run(tm + ["send-keys", "-t", "w:0", "ls /proc/self/fd | wc -l", "Enter"], "tmux",
              check=False)
        c.run(tm + ["run-shell", "true"], "tmux", check=False)
        c.stop.wait(0.5)
    c.loop(churn, "tmux")
    c.cleanup = lambda: c.run(tm + ["kill-server"], "tmux", check=False)
    # the server is a double fork's grandchild: ours as the subreaper
    end = time.monotonic() + 10
    while "tmux" not in c.long_lived and time.monotonic() < end:
        for pid in children_of(os.getpid()):
            if comm(pid).startswith("tmux"):
                c.long_lived["tmux"] = pid
        time.sleep(0.1)


# ---------------------------------------------------------------- /proc

def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def children_of(root):
    return [p for p in all_pids() if ppid_of(p) == root]


def all_pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def descendants(root):
    kids = {}
    for p in all_pids():
        kids.setdefault(ppid_of(p), []).append(p)
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


class Tracker:
    """The pids of this script's descendants (the workload, as their
    subreaper), polled every 50 ms, for telling its alerts from the host's."""

    def __init__(self, exclude):
        self.pids, self.exclude = {}, exclude
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.body, daemon=True)
        self.t.start()

    def body(self):
        me = os.getpid()
        while not self.stop.is_set():
            for p in descendants(me):
                if p not in self.exclude and p not in self.pids:
                    self.pids[p] = comm(p)
            self.stop.wait(0.05)

    def done(self):
        self.stop.set()
        self.t.join()


# ---------------------------------------------------------------- one run

def cli_json(d, *args, timeout=120):
    r = subprocess.run([d.cli, "--socket", d.sock, "--json", *args], capture_output=True,
                       text=True, timeout=timeout)
    try:
        return r.returncode, json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        return r.returncode, {"raw": r.stdout[:2000]}


def verify_round(d, c, results):
    """`fdwatch verify PID` of each long-lived process and its children."""
    for name, root in list(c.long_lived.items()):
        for pid in [root] + descendants(root):
            if comm(pid) in ("", "fdwatch"):
                continue
            rc, v = cli_json(d, "verify", str(pid))
            v = v or {}
            diffs = [x for x in v.get("differences", []) if not x.get("unsettled")]
            results.append({"workload_proc": name, "pid": pid, "comm": comm(pid), "rc": rc,
                            "ok": v.get("ok"), "checked": v.get("checked"),
                            "differences": diffs,
                            "unsettled": len(v.get("differences", [])) - len(diffs)})


def one_run(args, name, mode):
    needs, what, fn = WORKLOADS[name]
    res = {"workload": name, "mode": mode}
    lockf = open(args.lock, "a")
    fcntl.flock(lockf, fcntl.LOCK_EX)
    try:
        dargs = DAEMON_ARGS + MODES[mode] + [x for kv in LEAK_ARGS for x in ("--leak", kv)]
        with private_daemon(args.builddir, f"fdw-sweep-{name}-", dargs) as d:
            tmp = tempfile.mkdtemp(prefix=f"fdw-sweep-{name}-w-")
            c = Ctx(d, tmp, args.secs)
            st0 = cli_json(d, "status")[1]
            tracker = Tracker({d.proc.pid})
            verifies = []
            t0 = time.monotonic()
            try:
                fn(c)
                for frac in (0.3, 0.6, 0.9):
                    while time.monotonic() < t0 + args.secs * frac:
                        time.sleep(0.2)
                    verify_round(d, c, verifies)
            except Exception as e:  # noqa: BLE001 - reported with the run
                res["error"] = f"{type(e).__name__}: {e}"
            finally:
                c.stop.set()
                if c.cleanup:
                    with contextlib.suppress(Exception):
                        c.cleanup()
                for p in c.procs:
                    killpg(p)
                for p in c.procs:
                    try:
                        p.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        killpg(p, signal.SIGKILL)
                        p.wait()
                for t in c.threads:
                    t.join(timeout=30)
                # orphans that came to us as the subreaper (tmux's server,
                # sshd's and postgres's children, ...): killed and reaped
                for p in descendants(os.getpid()):
                    if p != d.proc.pid:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(p, signal.SIGKILL)
                time.sleep(3)  # the detectors' ticks after the last records
                reap(d.proc.pid)
            tracker.done()
            st1 = cli_json(d, "status")[1]
            leaks = (cli_json(d, "leaks")[1] or {}).get("alerts", [])
            races = (cli_json(d, "races")[1] or {}).get("races", [])
            mine = set(tracker.pids)
            seen = {}
            for a in leaks + races:
                seen[a["id"]] = a
            alerts = sorted(seen.values(), key=lambda a: a["id"])
            res.update({
                "secs": round(time.monotonic() - t0, 1),
                "received": st1["events_received"] - st0["events_received"],
                "lost": st1["events_lost"] - st0["events_lost"],
                "anomalies": st1["anomalies"] - st0["anomalies"],
                "audit": {k: st1["audit"][k] - st0["audit"][k] for k in st1["audit"]},
                "processes_seen": len(mine),
                "alerts": [brief(a) for a in alerts if a["pid"] in mine],
                "host_alerts": [brief(a) for a in alerts if a["pid"] not in mine],
                "verify": verifies,
                "notes": c.notes,
                "dir": tmp,
            })
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                res["daemon_log"] = open(os.path.join(d.tmp, "daemon.log")).read()[-4000:]
    finally:
        fcntl.flock(lockf, fcntl.LOCK_UN)
        lockf.close()
    return res


def reap(keep):
    """Reap the orphans that exited (every Popen of the run was waited
    for already); not the daemon, `keep`."""
    for p in descendants(os.getpid()):
        if p != keep:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p, os.WNOHANG)


def brief(a):
    ev = a.get("evidence") or {}
    return {"id": a["id"], "kind": a["kind"], "pid": a["pid"], "comm": a["comm"],
            "state": a["state"], "summary": a["summary"], "evidence": ev}


def report(r):
    log(f"== {r['workload']} [{r['mode']}]  {r.get('secs', '?')}s")
    if "error" in r:
        log(f"   ERROR: {r['error']}")
    if "received" not in r:
        return
    v = r["verify"]
    bad = [x for x in v if x["differences"]]
    log(f"   records {r['received']}, lost {r['lost']}, anomalies {r['anomalies']}, "
        f"audit {r['audit']['checked']} checked / {r['audit']['divergences']} divergent / "
        f"{r['audit']['inconclusive']} inconclusive; {r['processes_seen']} processes")
    log(f"   verify: {len(v)} checks of {len({x['pid'] for x in v})} processes, "
        f"{len(bad)} with differences, {sum(x['unsettled'] for x in v)} unsettled")
    for x in bad:
        log(f"     verify {x['pid']} ({x['comm']}): {x['differences'][:5]}")
    log(f"   alerts: {len(r['alerts'])} of the workload, {len(r['host_alerts'])} of the host")
    for a in r["alerts"]:
        log(f"     [{a['kind']}] {a['pid']} {a['comm']} {a['state']}: {a['summary']}")
    for a in r["host_alerts"]:
        log(f"     host [{a['kind']}] {a['pid']} {a['comm']}: {a['summary']}")
    for n in r["notes"]:
        log(f"   note: {n}")


def missing(needs):
    return [n for n in needs if not (os.access(n, os.X_OK) if "/" in n else shutil.which(n))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--builddir", default=os.path.join(SRC, "build"))
    ap.add_argument("--secs", type=int, default=60, help="seconds of load per run (default 60)")
    ap.add_argument("--modes", default="default,deep", help="default,deep (--races-io)")
    ap.add_argument("--only", help="comma-separated workloads (default all)")
    ap.add_argument("--lock", default="/tmp/fdw-heavy.lock")
    ap.add_argument("--json", help="write every run's results here")
    ap.add_argument("--keep", action="store_true", help="keep the workloads' directories")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = ap.parse_args()
    if args.list:
        for n, (needs, what, _) in WORKLOADS.items():
            m = missing(needs)
            log(f"{n:10} {what}" + (f"  [missing: {', '.join(m)}]" if m else ""))
        return 0
    if os.geteuid():
        log("sweep: needs root (fdwatchd loads BPF)")
        return 77
    names = args.only.split(",") if args.only else list(WORKLOADS)
    for n in names:
        if n not in WORKLOADS:
            log(f"sweep: no workload {n!r} (--list)")
            return 2
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            log(f"sweep: no mode {m!r} (default, deep)")
            return 2
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    results = []
    for n in names:
        m = missing(WORKLOADS[n][0])
        if m:
            log(f"== {n}: skipped, not installed: {', '.join(m)}")
            results.append({"workload": n, "skipped": m})
            continue
        for mode in modes:
            r = one_run(args, n, mode)
            report(r)
            results.append(r)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
