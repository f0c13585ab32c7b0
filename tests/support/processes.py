"""Real servers for end-to-end tests: a Prometheus 2.42 and the connector under gunicorn,
each on a free port, stopped (by their own pid) when the test is done."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

from support.postgres import free_port

PROMETHEUS = "/usr/bin/prometheus"


def wait_until_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def prometheus(config_yaml: str, *flags: str) -> Iterator[str]:
    """A Prometheus with this configuration; yields its base URL."""
    workdir = Path(tempfile.mkdtemp(prefix="promscale-prometheus-"))
    (workdir / "prometheus.yml").write_text(config_yaml)
    port = free_port()
    log = workdir / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", *flags],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url + "/-/ready", process, log)
        yield url
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def connector(db_uri: str, *flags: str) -> Iterator[str]:
    """The connector CLI (gunicorn) against db_uri; yields its base URL."""
    workdir = Path(tempfile.mkdtemp(prefix="promscale-connector-"))
    port = free_port()
    log = workdir / "connector.log"
    env = dict(os.environ, PROMSCALE_DB_URI=db_uri)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pyconnector", "--listen", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "4", "--log-level", "warning", *flags],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url + "/healthz", process, log)
        yield url
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
