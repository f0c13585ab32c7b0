"""A real Alertmanager 0.25 (Debian's prometheus-alertmanager) that routes every alert to a
webhook receiver the test runs (WebhookReceiver: an HTTP server recording what it is sent)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support.postgres import free_port
from support.prometheus import _Process

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


class WebhookReceiver:
    """Records the JSON bodies POSTed to it (Alertmanager's webhook notifications)."""

    def __init__(self) -> None:
        self.notifications: list[dict] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._cond:
                    receiver.notifications.append(json.loads(body))
                    receiver._cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, predicate, timeout: float = 60.0) -> dict:
        """The first notification for which ``predicate`` holds; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for n in self.notifications:
                    if predicate(n):
                        return n
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such notification after {timeout}s; got {self.notifications}")
                self._cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager(_Process):
    def __init__(self, webhook_url: str) -> None:
        port = free_port()
        super().__init__([], "/-/ready", port)
        (self.dir / "alertmanager.yml").write_text(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            f"receivers:\n- name: hook\n  webhook_configs:\n  - url: {webhook_url}\n    send_resolved: true\n")
        self._args = [ALERTMANAGER, f"--config.file={self.dir / 'alertmanager.yml'}",
                      f"--storage.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                      "--cluster.listen-address=", "--log.level=warn"]
