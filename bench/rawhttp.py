# SPDX-License-Identifier: LGPL-2.1-or-later
"""A GET over fdwatchd's unix socket, raw (no CLI process to start): for
bench/status_lat.py, and lost_owners.py's pollers, which import it as the
user they run as (the bench directory on their sys.path)."""
import json
import socket


def get(sock, target="/v1/status"):
    """GET `target` with Connection: close; the reply's head and body as sent."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(sock)
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    return head, body


def raw_status(sock):
    """GET /v1/status: its JSON (RuntimeError when not a 200)."""
    head, body = get(sock, "/v1/status")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"status: {head[:100]!r}")
    if b"chunked" in head.lower():
        out, pos = b"", 0
        while True:
            eol = body.index(b"\r\n", pos)
            n = int(body[pos:eol], 16)
            if not n:
                break
            out += body[eol + 2:eol + 2 + n]
            pos = eol + 4 + n
        body = out
    return json.loads(body)
