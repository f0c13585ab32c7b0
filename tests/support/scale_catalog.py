"""A large catalog built in SQL, for tests that assert plans at scale (>= 100,000 series).

Resolving 100,000 label sets through the ingest API would make the fixture cost more than
the tests; these rows are what that API writes (metric, interned labels, key positions,
positional labels arrays, label-set hashes), inserted set-wise. Whoever changes the catalog's layout keeps
this module in step: tests/sql/test_scale_catalog.py checks it against the API, so a
catalog built here cannot silently differ from one built by ingest.

The shape: metric ``scale_metric`` with labels ``instance`` (``hosts`` values),
``series`` (one value per series) and ``job`` (one value); ``extra_metrics`` small
metrics ``scale_small_<i>`` with 10 series each, so tests can check that a lookup of
one metric does not pay for the big one.

Activity: every series has samples from ``ACTIVE_FROM`` to ``ACTIVE_TO``, except those of the
big metric's upper half of the hosts, which stopped at ``STOPPED_AT``; their activity bounds
are those a write of such samples leaves (sql/idempotent/045-activity.sql).
"""

from __future__ import annotations

import psycopg

BIG_METRIC = "scale_metric"
ACTIVE_FROM = "2024-01-01 00:00:00+00"
STOPPED_AT = "2024-01-01 02:00:00+00"
ACTIVE_TO = "2024-01-01 06:00:00+00"


def build_catalog(conn: psycopg.Connection, n_series: int = 100_000, hosts: int = 1_000,
                  extra_metrics: int = 3) -> dict[str, int]:
    """Creates the catalog; returns {metric name: metric id}. Runs in one transaction."""
    metric_ids: dict[str, int] = {}
    with conn.transaction():
        metric_ids[BIG_METRIC] = _metric(conn, BIG_METRIC, n_series, hosts)
        for i in range(extra_metrics):
            name = f"scale_small_{i}"
            metric_ids[name] = _metric(conn, name, 10, 2)
        _mark_activity(conn, hosts)
    conn.execute("ANALYZE _prom_catalog.label")
    conn.execute("VACUUM ANALYZE _prom_catalog.series")  # the bounds were set by an UPDATE: no dead rows left
    conn.execute("ANALYZE _prom_catalog.label_key_position")
    return metric_ids


def _metric(conn: psycopg.Connection, name: str, n_series: int, hosts: int) -> int:
    metric_id = conn.execute(
        "INSERT INTO _prom_catalog.metric (metric_name, view_name) VALUES (%s, _prom_catalog.identifier_for(%s)) "
        "RETURNING id", (name, name)).fetchone()[0]
    conn.execute(
        "INSERT INTO _prom_catalog.label_key_position (metric_id, key, pos, column_name) "
        "VALUES (%(m)s, '__name__', 1, '__name__'), (%(m)s, 'instance', 2, 'instance'), "
        "       (%(m)s, 'job', 3, 'job'), (%(m)s, 'series', 4, 'series')", {"m": metric_id})
    conn.execute(
        "INSERT INTO _prom_catalog.label (key, value) "
        "SELECT '__name__', %(name)s UNION ALL SELECT 'job', 'scale' "
        "UNION ALL SELECT 'instance', 'host-' || i FROM generate_series(0, %(hosts)s - 1) i "
        "UNION ALL SELECT 'series', 's' || i FROM generate_series(0, %(n)s - 1) i "
        "ON CONFLICT DO NOTHING", {"name": name, "hosts": hosts, "n": n_series})
    # activity bounds as a write of samples from ACTIVE_FROM to ACTIVE_TO (or STOPPED_AT) leaves them
    conn.execute(
        """
        INSERT INTO _prom_catalog.series (metric_id, labels, label_hash, first_seen, last_seen)
        SELECT %(m)s, ARRAY[n.id, h.id, j.id, s.id],
               _prom_catalog.label_set_hash(ARRAY['__name__', 'instance', 'job', 'series'],
                                            ARRAY[n.value, h.value, j.value, s.value]),
               %(start)s,
               CASE WHEN %(name)s = %(big)s AND i %% %(hosts)s >= %(hosts)s / 2 THEN %(stop)s::timestamptz
                    ELSE %(end)s::timestamptz END
        FROM generate_series(0, %(n)s - 1) i
        JOIN _prom_catalog.label n ON n.key = '__name__' AND n.value = %(name)s
        JOIN _prom_catalog.label j ON j.key = 'job' AND j.value = 'scale'
        JOIN _prom_catalog.label h ON h.key = 'instance' AND h.value = 'host-' || (i %% %(hosts)s)
        JOIN _prom_catalog.label s ON s.key = 'series' AND s.value = 's' || i
        ORDER BY i
        """, {"m": metric_id, "n": n_series, "hosts": hosts, "name": name, "big": BIG_METRIC,
              "start": ACTIVE_FROM, "stop": STOPPED_AT, "end": ACTIVE_TO})
    # last_seen as marking pushes it: past the last sample by G and a per-series phase
    conn.execute("UPDATE _prom_catalog.series SET last_seen = _prom_catalog.activity_shift(last_seen, 1 + (id %% 1200) "
                 "/ 1200.0) WHERE metric_id = %s", (metric_id,))
    conn.execute("SELECT _prom_catalog.create_metric_views(%s)", (metric_id,))
    return metric_id


def _mark_activity(conn: psycopg.Connection, hosts: int) -> None:
    """Label, metric key, metric label and key bounds from the series' bounds, as prom_api.mark_series_activity leaves
    them (marking 100,000 series through it takes seconds more; tests/sql/test_scale_catalog.py
    checks that both agree)."""
    assert conn.execute("SELECT extract(epoch FROM _prom_catalog.activity_granularity())").fetchone()[0] == 1200
    conn.execute(
        """
        UPDATE _prom_catalog.label l
        SET first_seen = b.lo, last_seen = b.hi
        FROM (SELECT u.id, _prom_catalog.activity_grid(min(s.first_seen), false) AS lo,
                     _prom_catalog.activity_grid(max(s.last_seen), true) AS hi
              FROM _prom_catalog.series s, unnest(s.labels) AS u(id) WHERE u.id <> 0 GROUP BY u.id) b
        WHERE l.id = b.id
        """)
    conn.execute(
        """
        UPDATE _prom_catalog.label_key_position p
        SET first_seen = b.lo, last_seen = b.hi
        FROM (SELECT s.metric_id, u.pos, _prom_catalog.activity_grid(min(s.first_seen), false) AS lo,
                     _prom_catalog.activity_grid(max(s.last_seen), true) AS hi
              FROM _prom_catalog.series s, unnest(s.labels) WITH ORDINALITY AS u(id, pos) WHERE u.id <> 0
              GROUP BY s.metric_id, u.pos) b
        WHERE p.metric_id = b.metric_id AND p.pos = b.pos
        """)
    conn.execute(
        """
        INSERT INTO _prom_catalog.metric_label (metric_id, key, label_id, first_seen, last_seen)
        SELECT s.metric_id, l.key, l.id, _prom_catalog.activity_grid(min(s.first_seen), false),
               _prom_catalog.activity_grid(max(s.last_seen), true)
        FROM _prom_catalog.series s, unnest(s.labels) AS u(id) JOIN _prom_catalog.label l ON l.id = u.id
        GROUP BY s.metric_id, l.key, l.id
        """)
    conn.execute(
        """
        INSERT INTO _prom_catalog.label_key (key, first_seen, last_seen)
        SELECT l.key, min(l.first_seen), max(l.last_seen) FROM _prom_catalog.label l
        WHERE l.first_seen IS NOT NULL GROUP BY l.key
        """)


def label_set(metric: str, i: int, hosts: int = 1_000) -> dict[str, str]:
    """The label set of series number ``i`` of ``metric``, as ingest would receive it."""
    return {"__name__": metric, "instance": f"host-{i % hosts}", "job": "scale", "series": f"s{i}"}
