"""Maintenance at scale: the flush of one 15-minute head partition and the compaction of one
4-hour bucket at N series, with the CPU time the database backend spent on each.

Samples are synthetic and written in SQL (remote_write would take far longer at a million
series): scrapes every 15 s with a few ms of jitter, a third each counters, gauges with two
decimals and noisy floats. The head partition is written in scrape order, as ingest does;
the bucket's flushed rows (16 RAW rows per series, what 16 flushes write) are written
directly. Then, timed: `_prom_catalog.flush_chunks` of the partition, the drop of the
flushed partition, and `_prom_catalog.compact_partition` of the bucket in 2-second slices
(as maintenance runs them).

    make bench-maintenance BENCH_ARGS="--series 100000"
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".")]

from support.postgres import remove_cluster, start_cluster  # noqa: E402

# value of scrape r of series s, and its time after the scrape grid (0-10 ms of jitter)
VALUE = ("CASE s %% 3 WHEN 0 THEN ((r + {r0}) * (s %% 7 + 1))::float8 "
         "WHEN 1 THEN round((50 + 10 * sin(s + r + {r0}))::numeric, 2)::float8 "
         "ELSE sin(s * 1.37 + (r + {r0}) * 0.11) * 1000 END")
JITTER_MS = "((s::bigint * 7919 + (r + {r0}) * 104729) %% 11)"

HEAD_SQL = """
    INSERT INTO prom_data.{table} (series_id, time, value)
    SELECT s, %(start)s::timestamptz + (r * 15000 + {jitter}) * interval '1 millisecond', {value}
    FROM generate_series({r_lo}, {r_hi}) r, generate_series(1, %(series)s) s
"""
# one RAW row per series for one quarter hour (60 scrapes): 0x03, count 60 (one varint byte), times;
# 0x01 (codec version), count, 0x03 (RAW), values: the codecs' RAW forms (codec/timestamps.py, values.py)
FLUSHED_SQL = """
    INSERT INTO prom_data.{table} (series_id, chunk_start, min_time, max_time, count, times, vals, level)
    SELECT s, %(key)s::timestamptz, min(t), max(t), 60,
           '\\x033c'::bytea || string_agg(timestamptz_send(t), ''::bytea ORDER BY r),
           '\\x013c03'::bytea || string_agg(float8send(v), ''::bytea ORDER BY r), 1
    FROM generate_series(1, %(series)s) s
    CROSS JOIN LATERAL (
        SELECT r, %(key)s::timestamptz + (r * 15000 + {jitter}) * interval '1 millisecond' AS t, {value} AS v
        FROM generate_series(0, 59) r) x
    GROUP BY s
"""


def backend_cpu(pid: int) -> float:
    """User + system CPU seconds of one PostgreSQL backend so far (we run as root)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(conn: psycopg.Connection, pid: int, sql: str, args: tuple = ()) -> tuple[float, float, object]:
    cpu, wall = backend_cpu(pid), time.perf_counter()
    result = conn.execute(sql, args).fetchone()
    return time.perf_counter() - wall, backend_cpu(pid) - cpu, result[0] if result else None


def flush(conn: psycopg.Connection, pid: int, series: int) -> dict:
    start = conn.execute("SELECT _prom_catalog.aligned_chunk_start(now() - interval '20 minutes', interval '15 minutes')"
                         ).fetchone()[0]
    conn.execute("SELECT _prom_catalog.ensure_sample_chunks(ARRAY[%s::timestamptz])", (start,))
    chunk_id, table = conn.execute("SELECT id, table_name FROM _prom_catalog.sample_chunk WHERE start_time = %s",
                                   (start,)).fetchone()
    began = time.perf_counter()
    for r_lo in range(0, 60, 4):  # in scrape order, a few scrapes per statement
        conn.execute(HEAD_SQL.format(table=table, jitter=JITTER_MS.format(r0=0), value=VALUE.format(r0=0),
                                     r_lo=r_lo, r_hi=r_lo + 3), {"start": start, "series": series})
    load_s = time.perf_counter() - began
    conn.execute(f"VACUUM ANALYZE prom_data.{table}")
    head_bytes = conn.execute("SELECT pg_total_relation_size(%s)", (f"prom_data.{table}",)).fetchone()[0]
    wall, cpu, samples = timed(conn, pid, "SELECT _prom_catalog.flush_chunks(ARRAY[%s]::bigint[])", (chunk_id,))
    assert samples == series * 60, samples
    drop_wall, _, dropped = timed(conn, pid, "SELECT _prom_catalog.drop_flushed_chunks()")
    assert dropped == 1, dropped
    level1 = conn.execute("SELECT sum(pg_total_relation_size(format('prom_data.%I', table_name))) "
                          "FROM _prom_catalog.compressed_partition WHERE level = 1").fetchone()[0]
    return {"samples": samples, "load_s": load_s, "wall": wall, "cpu": cpu, "drop_wall": drop_wall,
            "head_bytes": head_bytes, "level1_bytes": level1}


def compact(conn: psycopg.Connection, pid: int, series: int) -> dict:
    bucket = conn.execute("SELECT _prom_catalog.aligned_chunk_start(now() - interval '1 day', interval '4 hours')"
                          ).fetchone()[0]
    conn.execute("SELECT _prom_catalog.ensure_compressed_partitions(ARRAY[%s::timestamptz], 1::smallint)", (bucket,))
    part_id, table = conn.execute("SELECT id, table_name FROM _prom_catalog.compressed_partition "
                                  "WHERE level = 1 AND start_time = %s", (bucket,)).fetchone()
    began = time.perf_counter()
    for quarter in range(16):
        key = conn.execute("SELECT %s::timestamptz + %s * interval '15 minutes'", (bucket, quarter)).fetchone()[0]
        conn.execute(FLUSHED_SQL.format(table=table, jitter=JITTER_MS.format(r0=quarter * 60),
                                        value=VALUE.format(r0=quarter * 60)), {"key": key, "series": series})
    load_s = time.perf_counter() - began
    conn.execute(f"VACUUM ANALYZE prom_data.{table}")
    level1 = conn.execute("SELECT pg_total_relation_size(%s)", (f"prom_data.{table}",)).fetchone()[0]
    wall = cpu = 0.0
    slices = 0
    while conn.execute("SELECT compacted_xid IS NULL FROM _prom_catalog.compressed_partition WHERE id = %s",
                       (part_id,)).fetchone()[0]:
        w, c, _ = timed(conn, pid, "SELECT _prom_catalog.compact_partition(%s)", (part_id,))
        wall, cpu, slices = wall + w, cpu + c, slices + 1
    drop_wall, _, dropped = timed(conn, pid, "SELECT _prom_catalog.drop_compacted_partitions()")
    assert dropped == 1, dropped
    samples = conn.execute("SELECT sum(count) FROM prom_data.compressed_sample WHERE level = 2").fetchone()[0]
    conn.execute("VACUUM ANALYZE prom_data.compressed_sample")
    level2 = conn.execute("SELECT sum(pg_total_relation_size(format('prom_data.%I', table_name))) "
                          "FROM _prom_catalog.compressed_partition WHERE level = 2").fetchone()[0]
    assert samples == series * 960, samples
    return {"samples": samples, "load_s": load_s, "wall": wall, "cpu": cpu, "slices": slices, "drop_wall": drop_wall,
            "level1_bytes": level1, "level2_bytes": level2}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--skip-compaction", action="store_true")
    args = parser.parse_args()
    cluster = start_cluster({"shared_buffers": "2GB", "max_wal_size": "2GB",
                             "max_parallel_workers_per_gather": "0"})
    try:
        cluster.psql("CREATE DATABASE bench")
        cluster.psql("CREATE EXTENSION promscale CASCADE", dbname="bench")
        with psycopg.connect(cluster.uri("bench"), autocommit=True) as conn:
            pid = conn.info.backend_pid
            n = args.series
            f = flush(conn, pid, n)
            print(f"{n:,} series, one 15-minute head partition ({f['samples']:,} samples, "
                  f"{f['head_bytes'] / f['samples']:.1f} B/sample, written in {f['load_s']:.0f} s):")
            print(f"  flush     {f['wall']:7.1f} s wall, {f['cpu']:7.1f} s CPU = {f['cpu'] / f['samples'] * 1e6:.2f} us/sample; "
                  f"level-1 rows {f['level1_bytes'] / f['samples']:.1f} B/sample; drop of the partition {f['drop_wall'] * 1000:.0f} ms")
            if not args.skip_compaction:
                c = compact(conn, pid, n)
                print(f"{n:,} series, one 4-hour bucket of flushed rows ({c['samples']:,} samples, "
                      f"{c['level1_bytes'] / c['samples']:.1f} B/sample, written in {c['load_s']:.0f} s):")
                print(f"  compaction {c['wall']:6.1f} s wall, {c['cpu']:7.1f} s CPU = {c['cpu'] / c['samples'] * 1e6:.2f} us/sample "
                      f"in {c['slices']} slices; compacted rows {c['level2_bytes'] / c['samples']:.2f} B/sample; "
                      f"drop of the level-1 partition {c['drop_wall'] * 1000:.0f} ms")
                per_hour = 4 * f["cpu"] + c["cpu"] / 4
                print(f"maintenance CPU per hour of data at {n:,} series (15 s scrapes): {per_hour:.0f} s "
                      f"= {per_hour / 36:.1f} % of one core (4 flushes + a quarter of a bucket's compaction)")
    finally:
        remove_cluster(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
