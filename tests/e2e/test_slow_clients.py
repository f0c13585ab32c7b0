"""Clients that send their headers and then stall: under gunicorn each one holds a worker thread
while its body is read, so enough of them (the threads of every worker) once made /healthz and
every write wait for as long as they stayed. A body must now arrive within --body-timeout."""

from __future__ import annotations

import socket
import urllib.parse

import requests

from support.processes import connector
from support.remote_write import HEADERS, encode, write_request

THREADS = 4  # support.processes.connector: one worker of four threads


def stalled_write(url: str) -> socket.socket:
    """A connection that promises a 100,000-byte remote_write body and sends 10 bytes of it."""
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    sock = socket.create_connection((host, int(port)))
    head = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
    sock.sendall(f"POST /api/v1/write HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: 100000\r\n\r\n".encode()
                 + b"x" * 10)
    return sock


def test_stalled_bodies_are_408_and_free_their_threads(db_uri):
    with connector(db_uri, "--body-timeout", "1s") as url:
        stalled = [stalled_write(url) for _ in range(THREADS * 2)]
        try:
            # every stalled request is answered 408 and its connection closed by the server
            for sock in stalled:
                sock.settimeout(60)
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
                status_line, _, rest = answer.partition(b"\r\n")  # and the server closed the connection
                assert status_line.split(b" ")[1] == b"408", answer[:200]
                assert b"request body not received within 1 s (--body-timeout)" in rest
            # and the threads serve again
            assert requests.get(url + "/healthz", timeout=60).status_code == 200
            body = encode(write_request([({"__name__": "after_stall"}, [(1_700_000_000_000, 1.0)])]))
            assert requests.post(url + "/api/v1/write", data=body, headers=HEADERS, timeout=60).status_code == 204
            metrics = requests.get(url + "/metrics", timeout=60).text
            assert f'promscale_errors_total{{kind="timeout"}} {THREADS * 2}' in metrics
        finally:
            for sock in stalled:
                sock.close()
