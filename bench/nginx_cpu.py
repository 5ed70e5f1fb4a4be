#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""nginx (Debian's, one worker) serving a small file to wrk under fdwatchd:
events/s the daemon processed and its CPU per event (per million events).

usage: bench/nginx_cpu.py PAIRS SECS LABEL=SOURCE_ROOT [LABEL=SOURCE_ROOT ...]

nginx and wrk run pinned to CPU 1 (the daemon has the other); each run
does short connections (Connection: close) then keep-alive, SECS each.
"""
import json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    x = s[s.rindex(")") + 2:].split()
    return (int(x[11]) + int(x[12])) / TICK


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def status(cli, sock):
    for _ in range(40):
        r = subprocess.run([cli, "--socket", sock, "status", "--json"], capture_output=True, text=True)
        try:
            return json.loads(r.stdout)
        except ValueError:
            time.sleep(0.5)
    raise RuntimeError("no status")


def start_nginx(tmp):
    port = free_port()
    prefix = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(prefix, "www"))
    with open(os.path.join(prefix, "www", "index.html"), "w") as f:
        f.write("hello\n" * 10)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
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
    keepalive_requests 1000000;
    server {{ listen 127.0.0.1:{port}; root {prefix}/www; location / {{ }} }}
}}
""")
    p = subprocess.Popen(["taskset", "-c", "1", "nginx", "-p", prefix, "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start")


def wrk(port, secs, close):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{secs}s"]
    if close:
        cmd += ["-H", "Connection: close"]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}/index.html"], capture_output=True,
                         text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def run_one(root, secs):
    tmp = tempfile.mkdtemp(prefix="ngx-", dir=None)
    sock = os.path.join(tmp, "s.sock")
    cli = os.path.join(root, "build/cli/fdwatch")
    cmd = [os.path.join(root, "build/daemon/fdwatchd"), "--socket", sock,
           "--state-dir", os.path.join(tmp, "state"), "--audit-interval", "0"]
    if "--lock-file" in subprocess.run([cmd[0], "--help"], capture_output=True, text=True).stdout:
        cmd += ["--lock-file", os.path.join(tmp, "lock")]
    log = open(os.path.join(tmp, "log"), "w")
    d = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    ng = None
    res = {}
    try:
        for _ in range(1200):
            try:
                if os.path.exists(sock) and status(cli, sock).get("ready"):
                    break
            except Exception:
                pass
            time.sleep(0.1)
        ng, port = start_nginx(tmp)
        time.sleep(0.5)
        for name, close in (("short", True), ("keepalive", False)):
            s0 = status(cli, sock)
            c0 = cpu(d.pid)
            t0 = time.monotonic()
            rps = wrk(port, secs, close)
            s1 = status(cli, sock)
            c1 = cpu(d.pid)
            wall = time.monotonic() - t0
            ev = s1["events_received"] - s0["events_received"]
            res[name] = dict(rps=rps, ev=ev, ev_s=ev / wall, lost=s1["events_lost"] - s0["events_lost"],
                             cpu_ns=(c1 - c0) * 1e9 / max(ev, 1), cpu_frac=(c1 - c0) / wall)
    finally:
        if ng:
            ng.terminate()
            ng.wait(10)
        d.terminate()
        try:
            d.wait(20)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def main():
    pairs, secs = int(sys.argv[1]), int(sys.argv[2])
    builds = [a.split("=", 1) for a in sys.argv[3:]]
    allr = {lab: [] for lab, _ in builds}
    for i in range(pairs):
        for lab, root in builds:
            try:
                r = run_one(root, secs)
            except Exception as e:
                print(f"{i} {lab}: failed {e}", flush=True)
                continue
            allr[lab].append(r)
            for k, v in r.items():
                print(f"{i} {lab} {k}: req/s={v['rps']:.0f} events={v['ev']} events/s={v['ev_s']:.0f} "
                      f"lost={v['lost']} daemon_cpu={v['cpu_frac'] * 100:.1f}% "
                      f"cpu/event={v['cpu_ns']:.0f} ns ({v['cpu_ns'] / 1000:.3f} s per M events)",
                      flush=True)
    for lab, rs in allr.items():
        for k in ("short", "keepalive"):
            xs = [r[k]["cpu_ns"] for r in rs if k in r]
            es = [r[k]["ev_s"] for r in rs if k in r]
            rq = [r[k]["rps"] for r in rs if k in r]
            if xs:
                print(f"{lab} {k}: cpu/event median {statistics.median(xs):.0f} ns "
                      f"(range {min(xs):.0f}-{max(xs):.0f}); events/s median {statistics.median(es):.0f}; "
                      f"req/s median {statistics.median(rq):.0f}")


main()
