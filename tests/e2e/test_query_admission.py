"""Queries cannot take every thread of a worker: beyond --query-max-concurrency (default: the
threads minus two) a query is answered 503 at once, so /healthz and ingest keep threads while
queries run. Before, a /healthz waited 7.2 s behind 16 queries: the load balancer's verdict on
the connector depended on what users asked of it.

The queries are held deterministically: the test locks the extension's catalog tables, so every
admitted query waits for the lock inside the database (seen in pg_stat_activity) until released."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests

from support.processes import connector

THREADS = 4  # support.processes.connector: one worker of four threads
SLOTS = THREADS - 2  # the default --query-max-concurrency


def lock_catalog(conn: psycopg.Connection) -> None:
    """Hold ACCESS EXCLUSIVE locks on every table of _prom_catalog until conn's transaction ends."""
    tables = [row[0] for row in conn.execute(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = '_prom_catalog'")]
    conn.execute("LOCK TABLE " + ", ".join(tables) + " IN ACCESS EXCLUSIVE MODE")


def backends_waiting_for_locks(db_uri: str) -> int:
    with psycopg.connect(db_uri, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND application_name = 'promscale-connector'").fetchone()[0]


def wait_until(condition, what: str) -> None:
    for _ in range(600):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"still not true after a minute: {what}")


def test_queries_beyond_the_slots_are_503_and_health_keeps_a_thread(db_uri):
    with connector(db_uri) as url, ThreadPoolExecutor(THREADS + 1) as pool:
        query = url + "/api/v1/query?query=up"
        assert requests.get(query, timeout=60).status_code == 200  # every thread's session warm
        locker = psycopg.connect(db_uri)
        try:
            lock_catalog(locker)
            queries = [pool.submit(requests.get, query, timeout=120) for _ in range(THREADS)]
            # the admitted ones wait inside the database; the others were answered at once
            wait_until(lambda: backends_waiting_for_locks(db_uri) == SLOTS, f"{SLOTS} queries waiting")
            wait_until(lambda: sum(q.done() for q in queries) == THREADS - SLOTS, "the others answered")
            refused = [q.result() for q in queries if q.done()]
            for response in refused:
                assert response.status_code == 503, response.text
                assert response.headers["Retry-After"] == "1"
                assert "at most 2 at a time (--query-max-concurrency)" in response.text
            # a free thread answers health while the admitted queries still run
            health = pool.submit(requests.get, url + "/healthz", timeout=120)
            wait_until(health.done, "/healthz answered while queries hold their slots")
            assert health.result().status_code == 200
            assert backends_waiting_for_locks(db_uri) == SLOTS  # they were still running
        finally:
            locker.rollback()
            locker.close()
        admitted = [q.result() for q in queries if q.result().status_code != 503]
        assert [r.status_code for r in admitted] == [200] * SLOTS
        # the slots are free again
        assert requests.get(query, timeout=60).status_code == 200
        metrics = requests.get(url + "/metrics", timeout=60).text
        assert f'promscale_errors_total{{kind="overloaded"}} {THREADS - SLOTS}' in metrics


def test_the_limit_is_a_flag(db_uri):
    with connector(db_uri, "--query-max-concurrency", "1") as url, ThreadPoolExecutor(2) as pool:
        query = url + "/api/v1/labels"
        locker = psycopg.connect(db_uri)
        try:
            lock_catalog(locker)
            first = pool.submit(requests.get, query, timeout=120)
            wait_until(lambda: backends_waiting_for_locks(db_uri) == 1, "the first query waiting")
            second = requests.get(query, timeout=60)
            assert second.status_code == 503
            assert "at most 1 at a time" in second.text
        finally:
            locker.rollback()
            locker.close()
        assert first.result().status_code == 200
