#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prometheus metrics, end to end.

fdwatchd --metrics-listen 127.0.0.1:0 while fdw_leak leaks 20 fds a
second: GET /metrics is the text format 0.0.4 and `promtool check metrics`
accepts it (no lint findings); other paths and methods get 404/405; a
non-loopback address is refused at start. Then a real Prometheus server
(Debian's `prometheus`, on loopback, temporary config and TSDB, with the
repository's alerting rules) scrapes the daemon, and the test finds, through
Prometheus' HTTP API, the leaking program's series (its open fds, growing
with what it leaked), the firing fd-growth alert count, the rules loaded and
healthy, and FdwatchFdLeak pending or firing."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import fdwtest as T
from fdwtest import check, check_eq
import test_leaks_helpers as H

SRC = os.environ.get("FDWATCH_SOURCE_ROOT") or T.SRC_ROOT
RULES = os.path.join(SRC, "monitoring", "fdwatch-rules.yml")


def prom_query(base, q):
    st, body, _ = H.http_get(f"{base}/api/v1/query?query={urllib.parse.quote(q)}")
    if st != 200:
        raise T.Failure(f"query {q}: HTTP {st}: {body[:300]}")
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise T.Failure(f"query {q}: {body[:300]}")
    return doc["data"]["result"]


def main(r):
    promtool = shutil.which("promtool")
    prometheus = shutil.which("prometheus")
    if not promtool or not prometheus:
        raise T.Skip("promtool/prometheus not installed (apt install prometheus)")

    with r.case("a non-loopback --metrics-listen is refused"):
        for addr in ("0.0.0.0:9464", "192.0.2.1:9464", "[::]:9464"):
            c = subprocess.run([T.FDWATCHD, "--socket", "/nonexistent/x.sock",
                                "--metrics-listen", addr],
                               capture_output=True, text=True, timeout=20)
            check(c.returncode != 0, f"{addr}: exit 0")
            check("not a loopback address" in c.stderr, f"{addr}: stderr {c.stderr!r}")

    tmp = tempfile.mkdtemp(prefix="fdwprom-")
    try:
        scrape(r, tmp, promtool, prometheus)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scrape(r, tmp, promtool, prometheus):
    path = os.path.join(tmp, "leaky")
    with open(path, "w") as f:
        f.write("x\n")
    prom = None
    with T.Daemon(args=["--metrics-listen", "127.0.0.1:0"]) as d:
        port = H.metrics_port(d)
        url = f"http://127.0.0.1:{port}"
        exe, comm = H.unique_copy(tmp, "fdwprom")
        leak = H.LeakProg("dup", 20, 150, path, exe=exe)
        try:
            leak.expect("START")
            H.wait_alert(d, leak.pid, "fd-growth", 30)

            with r.case("GET /metrics: text format 0.0.4, promtool check metrics accepts it"):
                st, body, hdr = H.http_get(url + "/metrics")
                check_eq(st, 200, "status")
                check(hdr.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
                      f"Content-Type {hdr.get('Content-Type')!r}")
                c = subprocess.run([promtool, "check", "metrics"], input=body,
                                   capture_output=True, text=True, timeout=30)
                check_eq(c.returncode, 0, f"promtool check metrics exit ({c.stdout}{c.stderr})")
                check(not c.stdout.strip() and not c.stderr.strip(),
                      f"promtool findings: {c.stdout}{c.stderr}")
                for fam in ("fdwatch_events_received_total", "fdwatch_events_lost_total",
                            "fdwatch_tracked_processes", "fdwatch_tracked_fds",
                            "fdwatch_resyncs_total", "fdwatch_audit_divergences_total",
                            "process_open_fds", "process_max_fds", "fdwatch_alerts_firing",
                            "fdwatch_open_fds", "fdwatch_dropped_total"):
                    check(f"# TYPE {fam} " in body, f"no {fam} family")
                check('fdwatch_alerts_firing{kind="fd-growth"} ' in body, "alerts by kind")
                check(f'fdwatch_open_fds{{command="{comm}",' in body,
                      f"no {comm} group in fdwatch_open_fds")
                # bounded: one series per group, never per pid
                groups = [l for l in body.splitlines() if l.startswith("fdwatch_open_fds{")]
                check(len(groups) <= 21, f"{len(groups)} fdwatch_open_fds series")
                check(not any("pid=" in l for l in body.splitlines() if not l.startswith("#")),
                      "a pid label")

            with r.case("metrics: idle connections cannot keep a scraper out"):
                # what any local user can do: more idle connections than
                # the listener's 16, renewed; every scrape must still work
                import socket
                idle = []
                try:
                    for rnd in range(3):
                        for _ in range(40):
                            so = socket.create_connection(("127.0.0.1", port), timeout=5)
                            idle.append(so)
                        time.sleep(0.2)
                        st, body, _ = H.http_get(url + "/metrics")
                        check_eq(st, 200, f"scrape during the idle flood, round {rnd}")
                    st, body, _ = H.http_get(url + "/metrics")
                    dropped = [l for l in body.splitlines()
                               if l.startswith('fdwatch_dropped_total{resource="metrics_clients"}')]
                    check(dropped and float(dropped[0].split()[-1]) >= 100,
                          f"idle connections closed are counted: {dropped}")
                finally:
                    for so in idle:
                        so.close()

            with r.case("metrics: other paths 404, other methods 405"):
                st, _, _ = H.http_get(url + "/nope")
                check_eq(st, 404, "GET /nope")
                c = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    "-X", "POST", url + "/metrics"],
                                   capture_output=True, text=True, timeout=20)
                check_eq(c.stdout.strip(), "405", "POST /metrics")

            pport = H.free_port()
            base = f"http://127.0.0.1:{pport}"
            cfg = os.path.join(tmp, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                        f"rule_files:\n  - {RULES}\n"
                        "scrape_configs:\n  - job_name: fdwatch\n    static_configs:\n"
                        f"      - targets: ['127.0.0.1:{port}']\n")
            plog = open(os.path.join(tmp, "prometheus.log"), "w+")
            prom = subprocess.Popen([prometheus, f"--config.file={cfg}",
                                     f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                                     f"--web.listen-address=127.0.0.1:{pport}"],
                                    stdin=subprocess.DEVNULL, stdout=plog, stderr=subprocess.STDOUT)

            def prom_tail():
                plog.seek(0)
                return "\n".join(plog.read().splitlines()[-15:])

            def ready():
                if prom.poll() is not None:
                    raise T.Failure(f"prometheus exited with {prom.returncode}:\n{prom_tail()}")
                try:
                    return H.http_get(base + "/-/ready", timeout=2)[0] == 200
                except OSError:
                    return False  # not listening yet

            with r.case("Prometheus starts and scrapes fdwatchd"):
                try:
                    H.wait_for(ready, 60, "Prometheus ready")
                except T.Failure as e:
                    raise T.Failure(f"{e}\nprometheus log:\n{prom_tail()}")
                res = H.wait_for(lambda: [x for x in prom_query(base, 'up{job="fdwatch"}')
                                          if x["value"][1] == "1"], 60, "up == 1")
                check_eq(res[0]["metric"]["instance"], f"127.0.0.1:{port}", "instance")

            with r.case("Prometheus has the leaking program's series"):
                def grown():
                    res = prom_query(base, f'fdwatch_open_fds{{job="fdwatch",command="{comm}"}}')
                    return res if res and float(res[0]["value"][1]) >= 200 else None
                res = H.wait_for(grown, 60, f"fdwatch_open_fds{{command=\"{comm}\"}} >= 200")
                n = float(res[0]["value"][1])
                now = len(os.listdir(f"/proc/{leak.pid}/fd"))
                check(n <= now + 5, f"Prometheus says {n} fds, the process has {now}")
                T.log(f"Prometheus: fdwatch_open_fds{{command=\"{comm}\"}} = {n} "
                      f"(process has {now})")
                # it grows: a rate over the last 15 s close to 20/s
                rate = H.wait_for(lambda: prom_query(
                    base, f'deriv(fdwatch_open_fds{{command="{comm}"}}[15s])'), 30, "deriv")
                v = float(rate[0]["value"][1])
                check(10 <= v <= 30, f"deriv of the series {v:.1f}/s, the program leaks 20/s")
                res = H.wait_for(lambda: [x for x in prom_query(
                    base, 'fdwatch_alerts_firing{kind="fd-growth"}')
                    if float(x["value"][1]) >= 1], 30, "fd-growth firing >= 1")
                res = H.wait_for(lambda: prom_query(
                    base, f'fdwatch_leak_limit_eta_seconds{{command="{comm}"}}'), 30,
                    "time to the limit series")
                check(float(res[0]["value"][1]) > 0, f"eta {res[0]['value']}")

            with r.case("Prometheus loaded the rules; FdwatchFdLeak is pending or firing"):
                st, body, _ = H.http_get(base + "/api/v1/rules")
                doc = json.loads(body)
                rules = [rr for g in doc["data"]["groups"] for rr in g["rules"]]
                names = {rr["name"] for rr in rules}
                check({"FdwatchFdLeak", "FdwatchFdExhaustionWithinHour",
                       "FdwatchEventsLost"} <= names, f"rules {sorted(names)}")
                bad = [rr["name"] for rr in rules if rr.get("health") not in ("ok", "unknown")]
                check(not bad, f"unhealthy rules: {bad}")

                def leak_alert():
                    st, body, _ = H.http_get(base + "/api/v1/alerts")
                    al = json.loads(body)["data"]["alerts"]
                    return [a for a in al if a["labels"].get("alertname") == "FdwatchFdLeak"]
                al = H.wait_for(leak_alert, 30, "FdwatchFdLeak in /api/v1/alerts")
                check(al[0]["state"] in ("pending", "firing"), f"state {al[0]['state']}")
                T.log(f"FdwatchFdLeak: {al[0]['state']}")
        finally:
            leak.kill()
            if prom is not None:
                H.stop_process(prom)


if __name__ == "__main__":
    T.run(main)
