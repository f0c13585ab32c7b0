"""The connector as a real gunicorn subprocess, for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from support.postgres import free_port

CONNECTOR = Path(sys.executable).with_name("promscale-connector")


class ConnectorProcess:
    """``promscale-connector`` serving ``db_uri`` on a free loopback port until stopped."""

    def __init__(self, db_uri: str, workers: int = 2, threads: int = 8, extra_args: list[str] | None = None,
                 https: bool = False, verify: str | bool = True, client_cert: tuple[str, str] | None = None):
        """``https``: the connector serves TLS (``extra_args`` name the files); ``verify`` (a CA
        file) and ``client_cert`` are what the health check's requests present."""
        self.port = free_port()
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        self.verify = verify
        self.client_cert = client_cert
        self._log = tempfile.NamedTemporaryFile(prefix="promscale-connector-", suffix=".log", delete=False)
        # no OTLP/gRPC server unless asked for: its default port would clash between test connectors
        args = [str(CONNECTOR), "--db-uri", db_uri, "--listen", f"127.0.0.1:{self.port}",
                "--workers", str(workers), "--threads", str(threads), "--otlp-grpc-listen", "",
                *(extra_args or [])]
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=dict(os.environ))

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"connector exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2, verify=self.verify,
                                cert=self.client_cert).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # an SSLError before TLS is up, too
                # refused before gunicorn listens; queued (a timeout) while its workers open
                # and warm their database sessions, before they accept
                pass
            time.sleep(0.1)
        raise RuntimeError(f"connector not healthy after {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(Path(self._log.name).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)  # stop() may run twice

    def __enter__(self) -> ConnectorProcess:
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
