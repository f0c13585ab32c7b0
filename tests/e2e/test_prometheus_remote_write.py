"""A real Prometheus 2.42 scrapes real targets and remote_writes to a real connector; afterwards
PostgreSQL holds exactly the samples that Prometheus holds in its own TSDB."""

from __future__ import annotations

import math
import struct
import time

import psycopg
import pytest

from support.connector import ConnectorProcess
from support.prometheus import NodeExporter, Prometheus

pytestmark = pytest.mark.slow

SCRAPE_SECONDS = 15
STALE_BITS = 0x7FF0000000000002


def prometheus_config(targets: list[str], write_url: str) -> str:
    target_list = ", ".join(f'"{t}"' for t in targets)
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: e2e
    static_configs:
      - targets: [{target_list}]
remote_write:
  - url: {write_url}
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 2000
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send_interval: 1s
"""


def value_key(value: float):
    """Equality that treats NaNs with the same payload as equal."""
    return ("nan", struct.pack("<d", value)) if math.isnan(value) else value


def prometheus_samples(prom: Prometheus, at: float) -> dict[frozenset, list]:
    """Every raw sample Prometheus holds at or before ``at`` (stale markers are never returned)."""
    result = prom.api("query", query='{__name__=~".+"}[10m]', time=f"{at:.3f}")["result"]
    return {
        frozenset(series["metric"].items()): [(round(float(t) * 1000), value_key(float(v))) for t, v in series["values"]]
        for series in result
    }


def stored_samples(conn: psycopg.Connection, at: float) -> dict[frozenset, list]:
    """Every non-stale sample in PostgreSQL at or before ``at``, read through the one read path."""
    rows = conn.execute(
        """SELECT prom_api.jsonb(s.labels), (extract(epoch FROM x.t) * 1000)::bigint, x.v, float8send(x.v)
           FROM prom_api.get_samples((SELECT array_agg(id) FROM _prom_catalog.series), '-infinity', to_timestamp(%s)) g
           JOIN _prom_catalog.series s ON s.id = g.series_id
           CROSS JOIN LATERAL unnest(g.times, g.vals) AS x(t, v)
           ORDER BY g.series_id, x.t""",
        (at,),
    ).fetchall()
    samples: dict[frozenset, list] = {}
    for labels, t_ms, value, raw in rows:
        if int.from_bytes(raw, "big") == STALE_BITS:
            continue
        samples.setdefault(frozenset(labels.items()), []).append((t_ms, value_key(value)))
    return samples


def test_postgres_holds_what_prometheus_scraped(pg_cluster, db_name):
    node = NodeExporter()
    node.start()
    try:
        with ConnectorProcess(pg_cluster.uri(db_name, "promscale_writer")) as connector:
            prom = Prometheus("")
            prom.reconfigure(prometheus_config([f"127.0.0.1:{node.port}", f"127.0.0.1:{prom.port}"],
                                               connector.url + "/write"))
            try:
                time.sleep(SCRAPE_SECONDS)
                # a cut-off every scrape before it has reached Prometheus's TSDB
                cutoff = time.time() - 2
                expected = prometheus_samples(prom, cutoff)
                assert sum(len(v) for v in expected.values()) > 1000, "Prometheus scraped too little to compare"
                with psycopg.connect(pg_cluster.uri(db_name), autocommit=True) as conn:
                    # remote_write lags the TSDB by its batch deadline; wait until it catches up
                    deadline = time.monotonic() + 90
                    got = stored_samples(conn, cutoff)
                    while got != expected and time.monotonic() < deadline:
                        time.sleep(1)
                        got = stored_samples(conn, cutoff)
                    missing = {k: v for k, v in expected.items() if got.get(k) != v}
                    extra = set(got) - set(expected)
                    assert not missing and not extra, (
                        f"{len(missing)} series differ (e.g. {next(iter(missing.items()), None)}), "
                        f"{len(extra)} series only in PostgreSQL")
                    families = dict(conn.execute(
                        "SELECT metric_family, type FROM _prom_catalog.metadata").fetchall())
                    assert families.get("node_cpu_seconds") == "counter" or families.get(
                        "node_cpu_seconds_total") == "counter", families
                    assert families.get("prometheus_http_requests") == "counter" or families.get(
                        "prometheus_http_requests_total") == "counter"
            finally:
                prom.remove()
    finally:
        node.remove()
