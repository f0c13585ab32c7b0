"""Reads at 100,000 series: a query for one series reads that series through the head's
series_id index, never a scan of every series' samples (plans asserted, not timings)."""

from __future__ import annotations

import re
import time

import psycopg

from test_series_resolution import nested_plans


def load_head(conn: psycopg.Connection, minutes: int = 3) -> float:
    """Samples every 15 s for the last few minutes of all 100,000 series; returns now (Unix s)."""
    now = time.time()
    conn.execute("SELECT prom_api.prepare_sample_chunks(ARRAY[to_timestamp(%s - %s * 60), to_timestamp(%s)])",
                 (now, minutes, now))
    for step in range(minutes * 4):
        conn.execute("SELECT prom_api.put_samples(array_agg(s.id), array_agg(to_timestamp(%s - %s * 15)), "
                     "array_agg(s.id::float8)) FROM _prom_catalog.series s", (now, step))
    conn.execute("ANALYZE prom_data.sample")
    return now


INDEX_PATH = r"(Index (Only )?Scan using|Bitmap Index Scan on) sample_\d+_series_id"


def scanned_whole(conn: psycopg.Connection, text: str) -> list[str]:
    """Head partitions holding rows that a plan reads with a sequential scan."""
    scanned = set(re.findall(r"Seq Scan on (sample_\d+)", text))
    return [name for name in scanned
            if conn.execute("SELECT pg_relation_size(%s)", (f"prom_data.{name}",)).fetchone()[0] > 0]


def test_one_series_query_reads_that_series_only(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn, conn.transaction(force_rollback=True):
        now = load_head(conn)
        assert conn.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0] == 12 * 100_030
        plans = nested_plans(conn, "SELECT prom_api.query_range_json(%s, %s, %s, 15)",
                             ('scale_metric{series="s777"}', now - 900, now))
        text = "\n".join(plans)
        head_reads = [p for p in plans if "FROM prom_data.sample h" in p]
        assert head_reads, text
        for plan in head_reads:
            assert re.search(INDEX_PATH, plan), plan
        assert scanned_whole(conn, text) == [], text
        assert not re.search(r"Seq Scan on (series|label)\b", text), text
        body = conn.execute("SELECT prom_api.query_range_json(%s, %s, %s, 15)",
                            ('scale_metric{series="s777"}', now - 900, now)).fetchone()[0]
        sid = conn.execute("SELECT series_id FROM prom_series.scale_metric WHERE series = 's777'").fetchone()[0]
        assert '"series":"s777"' in body and body.count(f',"{sid}"]') == 12  # the samples of s777 (value = its id)


def test_sql_read_path_probes_the_series_index(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn, conn.transaction(force_rollback=True):
        now = load_head(conn)
        ids = [r[0] for r in conn.execute("SELECT id FROM _prom_catalog.series ORDER BY id LIMIT 3")]
        plans = nested_plans(conn, "SELECT * FROM prom_api.get_samples(%s, to_timestamp(%s), to_timestamp(%s))",
                             (ids, now - 900, now))
        text = "\n".join(plans)
        assert re.search(INDEX_PATH, text), text
        assert scanned_whole(conn, text) == [], text
        rows = conn.execute("SELECT series_id, cardinality(times) FROM prom_api.get_samples(%s, to_timestamp(%s), "
                            "to_timestamp(%s)) ORDER BY 1", (ids, now - 900, now)).fetchall()
        assert rows == [(sid, 12) for sid in ids]


def test_a_read_of_most_series_scans_the_range_once(scale_db_uri):
    with psycopg.connect(scale_db_uri, autocommit=True) as conn, conn.transaction(force_rollback=True):
        now = load_head(conn)
        conn.execute("ANALYZE _prom_catalog.series")
        plans = nested_plans(conn, "SELECT prom_api.query_json(%s, %s)", ("count(scale_metric)", now))
        head_reads = [p for p in plans if "FROM prom_data.sample h" in p]
        assert head_reads and all(re.search(r"Hash (Semi )?Join", p) and re.search(r"Seq Scan on sample_\d+", p)
                                  and not re.search(INDEX_PATH, p) for p in head_reads), \
            [p[:3000] for p in head_reads]
        body = conn.execute("SELECT prom_api.query_json(%s, %s)", ("count(scale_metric)", now)).fetchone()[0]
        assert '"100000"' in body


def test_both_head_plans_read_the_same_samples(db):
    ids = [db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)",
                      (f'{{"__name__": "m", "i": "{i}"}}',)).fetchone()[0] for i in range(20)]
    now = time.time()
    for step in range(8):
        db.execute("SELECT prom_api.put_samples(%s, array_fill(to_timestamp(%s), ARRAY[20]), "
                   "ARRAY(SELECT random() FROM generate_series(1, 20)))", (ids, now - step * 15))
    db.execute("ANALYZE _prom_catalog.series")
    together = db.execute("SELECT prom_api.query_range_json('m', %s, %s, 15)", (now - 120, now)).fetchone()[0]
    one_by_one = [db.execute("SELECT prom_api.query_range_json(%s, %s, %s, 15)",
                             (f'm{{i="{i}"}}', now - 120, now)).fetchone()[0] for i in range(20)]
    for i, body in enumerate(one_by_one):  # each series' result is part of the scan's result
        series = body[body.index('"result":[') + len('"result":['):-3]
        assert series in together, i
