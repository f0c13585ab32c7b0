"""Sends alerts to Alertmanager's v2 API (POST <url>/api/v2/alerts), as Prometheus's notifier
does: from a queue, so that a slow Alertmanager never delays rule evaluation, in batches of at
most 64 alerts, to every configured Alertmanager; a failed send is logged and dropped (the
evaluator resends firing alerts every --alert-resend-delay, and resolved ones for 15 minutes)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

MAX_BATCH = 64  # Prometheus's notifier maxBatchSize
QUEUE_CAPACITY = 10_000  # Prometheus's --alertmanager.notification-queue-capacity


def alerts_endpoint(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/v2/alerts"


class AlertmanagerClient:
    def __init__(self, urls: list[str], timeout_s: float = 10.0, telemetry: Any = None):
        self.urls = urls
        self.telemetry = telemetry
        self.timeout_s = timeout_s
        self._queue: queue.Queue[list[dict]] = queue.Queue()
        self._queued = 0
        self._lock = threading.Lock()
        self.sent = 0  # alerts delivered (to at least one Alertmanager)
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.urls and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="promscale-alertmanager", daemon=True)
            self._thread.start()

    def enqueue(self, alerts: list[dict]) -> None:
        if not self.urls or not alerts:
            return
        with self._lock:
            room = QUEUE_CAPACITY - self._queued
            if room < len(alerts):
                self.dropped += len(alerts) - max(room, 0)
                self._count("promscale_alerts_dropped_total", len(alerts) - max(room, 0))
                log.warning("alert queue full: dropped %d alerts", len(alerts) - max(room, 0))
                alerts = alerts[:max(room, 0)]
            self._queued += len(alerts)
        for i in range(0, len(alerts), MAX_BATCH):
            self._queue.put(alerts[i:i + MAX_BATCH])

    def _loop(self) -> None:
        while True:
            batch = self._queue.get()
            with self._lock:
                self._queued -= len(batch)
            if self.send(batch):
                self.sent += len(batch)
                self._count("promscale_alerts_sent_total", len(batch))
            else:
                self.dropped += len(batch)
                self._count("promscale_alerts_dropped_total", len(batch))

    def _count(self, name: str, amount: int) -> None:
        if self.telemetry is not None and amount:
            self.telemetry.inc(name, amount)

    def send(self, batch: list[dict]) -> bool:
        """POSTs ``batch`` to every Alertmanager; True if one of them took it."""
        body = json.dumps(batch).encode()
        delivered = False
        for url in self.urls:
            request = urllib.request.Request(alerts_endpoint(url), data=body, method="POST",
                                             headers={"Content-Type": "application/json",
                                                      "User-Agent": "promscale-connector"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                delivered = True
            except (urllib.error.URLError, OSError) as exc:
                log.warning("sending %d alerts to %s failed: %s", len(batch), url, exc)
        return delivered
