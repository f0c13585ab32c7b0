"""The plans maintenance's queries get on large partitions (100,000 series): a flush reads a
head partition in series order through its series_id index (no sort that spills, no hash
that holds the partition), and a compaction slice reads the next series of a level-1
partition through its primary key, stopping after one batch."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg

from plpy_stub import PlpyStub
from promscale.lifecycle import compact, flush

SERIES = 100_000


def plan_nodes(conn: psycopg.Connection, sql: str) -> list[dict]:
    plan = conn.execute(f"EXPLAIN (COSTS OFF, FORMAT JSON) {sql}").fetchone()[0][0]["Plan"]

    def walk(node: dict) -> Iterator[dict]:
        yield node
        for child in node.get("Plans", ()):
            yield from walk(child)
    return list(walk(plan))


def test_flush_reads_partitions_in_series_order_without_sorting(db):
    start = db.execute("SELECT _prom_catalog.aligned_chunk_start(now() - interval '1 hour', interval '15 minutes')"
                       ).fetchone()[0]
    db.execute("SELECT _prom_catalog.ensure_sample_chunks(ARRAY[%s::timestamptz, %s::timestamptz + interval '15 minutes'])",
               (start, start))
    tables = [t for (t,) in db.execute("SELECT table_name FROM _prom_catalog.sample_chunk ORDER BY start_time")]
    for table in tables:
        db.execute(f"INSERT INTO prom_data.{table} SELECT s, c.start_time + r * interval '15 seconds', r "
                   f"FROM _prom_catalog.sample_chunk c, generate_series(0, 1) r, generate_series(1, %s) s "
                   f"WHERE c.table_name = %s", (SERIES, table))
        db.execute(f"ANALYZE prom_data.{table}")
    # the settings of _prom_catalog.flush_chunk_rows (sql/idempotent/322-flush.sql)
    setting = {r[0]: r[1] for r in (c.split("=", 1) for c in db.execute(
        "SELECT proconfig FROM pg_proc WHERE oid = '_prom_catalog.flush_chunk_rows'::regproc").fetchone()[0])}
    assert setting["enable_sort"] == setting["enable_seqscan"] == setting["enable_bitmapscan"] == "off"
    for name, value in setting.items():
        db.execute(f"SET {name} = '{value}'")
    for group in (tables[:1], tables):  # one partition, and a bucket's backlog together
        nodes = plan_nodes(db, flush.read_sql(PlpyStub(), group))
        kinds = [n["Node Type"] for n in nodes]
        assert kinds[0] == "Aggregate" and nodes[0]["Strategy"] == "Sorted", kinds
        assert "Sort" not in kinds and "Seq Scan" not in kinds and "Bitmap Heap Scan" not in kinds, kinds
        assert [n["Index Name"] for n in nodes if n["Node Type"] == "Index Scan"] == [f"{t}_series_id" for t in group]


def test_compaction_slice_reads_the_next_series_by_primary_key(db):
    bucket = db.execute("SELECT _prom_catalog.aligned_chunk_start(now() - interval '1 day', interval '4 hours')"
                        ).fetchone()[0]
    db.execute("SELECT _prom_catalog.ensure_compressed_partitions(ARRAY[%s::timestamptz], 1::smallint)", (bucket,))
    (table,) = db.execute("SELECT table_name FROM _prom_catalog.compressed_partition WHERE level = 1").fetchone()
    for quarter in range(4):
        db.execute(f"INSERT INTO prom_data.{table} SELECT s, k, k, k, 1, '\\x030100'::bytea, '\\x010103'::bytea, 1 "
                   f"FROM generate_series(1, %s) s, (SELECT %s::timestamptz + %s * interval '15 minutes') AS t(k)",
                   (SERIES, bucket, quarter))
    db.execute(f"ANALYZE prom_data.{table}")
    sql = compact._SERIES_SQL.format(table=table)
    db.execute(f"PREPARE slice(int8, int4) AS {sql}")
    db.execute("SET plan_cache_mode = force_generic_plan")  # what the prepared plan becomes after a few slices
    for args in ("0, 500", "99000, 500"):
        nodes = plan_nodes(db, f"EXECUTE slice({args})")
        kinds = [n["Node Type"] for n in nodes]
        assert kinds[0] == "Limit" and "Seq Scan" not in kinds and "Sort" not in kinds, kinds
        assert [n["Index Name"] for n in nodes if n["Node Type"] == "Index Scan"] == [f"{table}_pkey"]
