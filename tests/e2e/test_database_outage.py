"""PostgreSQL crashes while a sender writes through a real connector: writes fail with 503 while
it is down, resume when it is back, and every acknowledged sample survives, none duplicated."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import requests

from support.connector import ConnectorProcess
from support.postgres import remove_cluster, start_cluster
from support.remote_write import HEADERS, encode, write_request

pytestmark = pytest.mark.slow

SERIES = 50
START_MS = 1_700_000_000_000


def batch(n: int) -> bytes:
    """Batch n: one sample per series at its own timestamp (a scrape round)."""
    t = START_MS + n * 15_000
    return encode(write_request(
        ({"__name__": "outage_test", "instance": f"host-{i}", "job": "node"}, [(t, float(n))]) for i in range(SERIES)))


class Sender(threading.Thread):
    """Sends batches in order and, like Prometheus, retries a batch on 5xx until it is accepted."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.acknowledged: list[int] = []
        self.statuses: list[int] = []
        self.stop_after: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while self.stop_after is None or n < self.stop_after:
                body = batch(n)
                while True:
                    try:
                        status = requests.post(self.url, data=body, headers=HEADERS, timeout=30).status_code
                    except requests.ConnectionError:
                        status = -1
                    self.statuses.append(status)
                    if 200 <= status < 300:
                        self.acknowledged.append(n)
                        break
                    assert status in (503, -1), f"batch {n}: unexpected status {status}"
                    time.sleep(0.05)
                n += 1
        except BaseException as exc:  # surfaced by the test thread
            self.error = exc


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_ingest_survives_a_database_crash():
    # durable commits: what the connector acknowledges must survive an immediate shutdown
    cluster = start_cluster({"fsync": "on", "synchronous_commit": "on"})
    try:
        cluster.create_promscale_database("promscale")
        with ConnectorProcess(cluster.uri("promscale", "promscale")) as connector:
            sender = Sender(connector.url + "/write")
            sender.start()
            wait_for(lambda: len(sender.acknowledged) >= 20, 60, "writes before the crash")

            cluster.stop("immediate")
            acknowledged_before_crash = len(sender.acknowledged)
            wait_for(lambda: sender.statuses.count(503) >= 3, 60, "503s while the database is down")
            assert len(sender.acknowledged) == acknowledged_before_crash, "a write was acknowledged with the database down"
            health = requests.get(connector.url + "/healthz", timeout=30)
            assert health.status_code == 503

            cluster.start()
            wait_for(lambda: len(sender.acknowledged) >= acknowledged_before_crash + 20, 60, "writes after restart")
            sender.stop_after = len(sender.acknowledged) + 5
            sender.join(60)
            assert not sender.is_alive() and sender.error is None, sender.error

        sent = sender.stop_after
        assert sender.acknowledged == list(range(sent))
        with psycopg.connect(cluster.uri("promscale"), autocommit=True) as conn:
            rows = conn.execute(
                """SELECT g.series_id, g.times, g.vals FROM prom_api.get_samples(
                       (SELECT array_agg(id) FROM _prom_catalog.series), '-infinity', 'infinity') g""").fetchall()
        assert len(rows) == SERIES
        for _series_id, times, vals in rows:
            # every batch exactly once, in order: retried batches left no visible duplicates
            assert vals == [float(n) for n in range(sent)]
            assert len(set(times)) == sent
    finally:
        remove_cluster(cluster)
