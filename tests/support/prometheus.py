"""Real Prometheus 2.42 (Debian's /usr/bin/prometheus) and node_exporter processes for tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from support.postgres import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{log.read_text()[-4000:]}")


class _Process:
    def __init__(self, args: list[str], ready_path: str, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.dir = Path(tempfile.mkdtemp(prefix="promscale-test-proc-"))
        self.log = self.dir / "log"
        self._log_file = self.log.open("wb")
        self._args = args
        self._ready_path = ready_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(self._args, stdout=self._log_file, stderr=subprocess.STDOUT, cwd=self.dir)
        _wait_http(self.url + self._ready_path, self.process, self.log, timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove(self) -> None:
        self.stop()
        self._log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class NodeExporter(_Process):
    def __init__(self, extra_args: list[str] | None = None) -> None:
        port = free_port()
        super().__init__([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", *(extra_args or [])],
                         "/metrics", port)


class Prometheus(_Process):
    """A Prometheus server with its own data directory and the given prometheus.yml text.

    ``config`` may contain ``{data_dir}``-free YAML; ``extra_args`` are added to the command line
    (e.g. ``--web.enable-remote-write-receiver``).
    """

    def __init__(self, config: str, extra_args: list[str] | None = None, data_dir: Path | None = None):
        port = free_port()
        self._config_text = config
        super().__init__([], "/-/ready", port)
        self.data_dir = data_dir or self.dir / "data"
        (self.dir / "prometheus.yml").write_text(config)
        self._args = [PROMETHEUS, f"--config.file={self.dir / 'prometheus.yml'}",
                      f"--storage.tsdb.path={self.data_dir}", f"--web.listen-address=127.0.0.1:{port}",
                      "--log.level=warn", *(extra_args or [])]

    def reconfigure(self, config: str, extra_args: list[str] | None = None) -> None:
        """Restart on the same data directory with another configuration."""
        self.stop()
        (self.dir / "prometheus.yml").write_text(config)
        self._args = self._args[:5] + list(extra_args or [])
        self.start()

    def api(self, path: str, **params: object) -> object:
        response = requests.get(self.url + "/api/v1/" + path, params=params, timeout=60)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} {params}: {response.status_code} {body}")
        return body["data"]
