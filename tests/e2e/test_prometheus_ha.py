"""A Prometheus HA pair: two real Prometheus 2.42 servers (same `cluster`, own `__replica__`)
scrape one real node_exporter and remote_write to a connector running --high-availability.
The leader is killed; the survivor takes over once the lease has expired in sample time.
What PostgreSQL holds is, lease by lease, exactly what that lease's leader scraped: no stretch
from both replicas, no gap longer than the lease, `cluster` stored and `__replica__` not."""

from __future__ import annotations

import math
import struct
import time

import psycopg
import pytest

from support.connector import ConnectorProcess
from support.prometheus import NodeExporter, Prometheus

pytestmark = pytest.mark.slow

CLUSTER = "e2e-pair"
LEASE_TIMEOUT_MS = 5000
SCRAPE_MS = 1000
# batch deadline well under timeout - refresh (4 s): a live leader's samples arrive in time
STALE_BITS = 0x7FF0000000000002


def prometheus_config(replica: str, target: str, write_url: str) -> str:
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels:
    cluster: {CLUSTER}
    __replica__: {replica}
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["{target}"]
remote_write:
  - url: {write_url}
    queue_config:
      batch_send_deadline: 500ms
      max_samples_per_send: 2000
      min_backoff: 100ms
      max_backoff: 1s
"""


def value_key(value: float):
    """Equality that treats NaNs with the same payload as equal."""
    return ("nan", struct.pack("<d", value)) if math.isnan(value) else value


def scraped(prom: Prometheus, at: float) -> dict[frozenset, list]:
    """Every raw sample the server holds at or before ``at`` (its API shows no external labels)."""
    result = prom.api("query", query='{job="node"}[10m]', time=f"{at:.3f}")["result"]
    return {frozenset(s["metric"].items()): [(round(float(t) * 1000), value_key(float(v))) for t, v in s["values"]]
            for s in result}


def stored(conn: psycopg.Connection) -> tuple[dict[frozenset, list], set[frozenset]]:
    """Non-stale samples of job="node" by label set without `cluster`; and every stored label set."""
    rows = conn.execute(
        """SELECT prom_api.jsonb(s.labels), (extract(epoch FROM x.t) * 1000)::bigint, x.v, float8send(x.v)
           FROM prom_api.get_samples((SELECT array_agg(id) FROM _prom_catalog.series), '-infinity', 'infinity') g
           JOIN _prom_catalog.series s ON s.id = g.series_id
           CROSS JOIN LATERAL unnest(g.times, g.vals) AS x(t, v)
           ORDER BY g.series_id, x.t""").fetchall()
    samples: dict[frozenset, list] = {}
    label_sets = set()
    for labels, t_ms, value, raw in rows:
        label_sets.add(frozenset(labels.items()))
        if int.from_bytes(raw, "big") == STALE_BITS or labels.get("job") != "node":
            continue
        key = frozenset((k, v) for k, v in labels.items() if k != "cluster")
        samples.setdefault(key, []).append((t_ms, value_key(value)))
    return samples, label_sets


def between(samples: list, start_ms: float, end_ms: float) -> list:
    return [s for s in samples if start_ms <= s[0] <= end_ms]


def leases(conn: psycopg.Connection) -> list[tuple[str, int, int]]:
    return conn.execute(
        "SELECT leader_name, _prom_catalog.unix_ms(lease_start, true), "
        "       _prom_catalog.unix_ms(lease_until, true) "
        "FROM prom_info.ha_lease_history WHERE cluster_name = %s ORDER BY lease_start", (CLUSTER,)).fetchall()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not after {timeout} s: {what}")


def test_failover_of_a_prometheus_ha_pair(pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name), autocommit=True) as admin:
        admin.execute("SELECT prom_api.set_ha_lease_refresh('1s'), prom_api.set_ha_lease_timeout('5s')")
    node = NodeExporter(["--collector.disable-defaults", "--collector.loadavg", "--collector.cpu",
                         "--collector.meminfo", "--collector.time"])
    node.start()
    servers: dict[str, Prometheus] = {}
    try:
        with ConnectorProcess(pg_cluster.uri(db_name, "promscale_writer"), extra_args=["--high-availability"]) as connector, \
                psycopg.connect(pg_cluster.uri(db_name), autocommit=True) as conn:
            for replica in ("prom-a", "prom-b"):
                servers[replica] = Prometheus(prometheus_config(replica, f"127.0.0.1:{node.port}",
                                                                connector.url + "/write"))
                servers[replica].start()
            time.sleep(12)  # both scrape and send; one of them leads
            wait_for(lambda: leases(conn), 60, "a leader was elected")
            # a live leader keeps its lease unless its samples arrive 4 s (timeout - refresh) later than
            # the follower's; on a loaded machine that can happen, so every lease is checked below
            before_kill = time.time()
            snapshots = {replica: scraped(server, before_kill) for replica, server in servers.items()}
            leases_before_kill = leases(conn)
            leader = leases_before_kill[-1][0]
            survivor = "prom-b" if leader == "prom-a" else "prom-a"
            servers[leader].process.kill()  # SIGKILL: whatever its queue held is lost
            servers[leader].process.wait()

            history = wait_for(lambda: (h := leases(conn)) and len(h) > len(leases_before_kill)
                               and h[-1][0] == survivor and h, 60, f"{survivor} took over from {leader}")
            for (_, _, end), (_, start, _) in zip(history, history[1:]):
                assert start == end, f"each lease starts where the one before ended: {history}"
            takeover_ms = history[-1][1]
            time.sleep(8)
            cutoff = time.time() - 2
            survivor_scraped = scraped(servers[survivor], cutoff)
            assert sum(len(v) for v in survivor_scraped.values()) > 500, "too little scraped to compare"

            def survivor_range_matches():
                got, _ = stored(conn)
                return all(between(got.get(k, []), takeover_ms, cutoff * 1000) == between(v, takeover_ms, cutoff * 1000)
                           for k, v in survivor_scraped.items())

            # remote_write lags the TSDB by its batch deadline: wait for the survivor's to arrive
            deadline = time.monotonic() + 60
            while not survivor_range_matches() and time.monotonic() < deadline:
                time.sleep(1)
            got, label_sets = stored(conn)

            # from the takeover on: exactly what the survivor scraped
            for key, samples in survivor_scraped.items():
                assert between(got.get(key, []), takeover_ms, cutoff * 1000) == between(
                    samples, takeover_ms, cutoff * 1000), f"{dict(key)} differs from what {survivor} scraped"
            # each lease before: exactly what its leader scraped, up to shortly before the kill (what
            # the killed leader's queue still held then died with it), nothing of the other replica
            settled_ms = before_kill * 1000 - 3000
            for replica, start, until in history[:-1]:
                for key, samples in snapshots[replica].items():
                    assert between(got.get(key, []), start, min(until - 1, settled_ms)) == between(
                        samples, start, min(until - 1, settled_ms)), f"{dict(key)} differs from what {replica} scraped"
            for key, samples in got.items():
                tail = between(samples, before_kill * 1000, takeover_ms - 1)
                assert len(tail) <= (takeover_ms - before_kill * 1000) / SCRAPE_MS + 1, \
                    f"{dict(key)}: more samples than one replica scrapes before the takeover"
                times = [t for t, _ in between(samples, history[0][1], cutoff * 1000)]
                assert len(set(times)) == len(times)
                # no gap longer than the lease timeout (plus one scrape, and scrape jitter)
                assert max(b - a for a, b in zip(times, times[1:])) <= LEASE_TIMEOUT_MS + SCRAPE_MS + 500, \
                    f"{dict(key)}: gap at failover"
            assert any(dict(k).get("__name__") == "node_load1" for k in got)
            # cluster is kept, __replica__ never stored
            node_sets = [dict(s) for s in label_sets if dict(s).get("job") == "node"]
            assert node_sets and all(s.get("cluster") == CLUSTER and "__replica__" not in s for s in node_sets)
            assert conn.execute("SELECT count(*) FROM _prom_catalog.label WHERE key = '__replica__'"
                                ).fetchone()[0] == 0
            # nothing stored twice in the head either (both replicas never wrote the same time)
            assert conn.execute("SELECT count(*) FROM (SELECT 1 FROM prom_data.sample GROUP BY series_id, time "
                                "HAVING count(*) > 1) d").fetchone()[0] == 0
    finally:
        for server in servers.values():
            server.remove()
        node.remove()
