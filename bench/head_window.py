"""How the head partition length (chunk interval) shows in reads: the last hour of 700 of
1,000 (--series) series, read through lifecycle.read.read_samples (the PromQL engine's read path), when
everything older than the flush delay has been flushed, at every phase of the partition clock.

With maintenance every minute and a 5-minute flush delay, the head holds the current
partition so far plus, during the first 5-6 minutes, the previous one: at a random moment
I/2 + 5.5 minutes on average for partitions of I minutes, up to I + 6. Head samples cost
about 3 µs each (every sample of a series on its own heap page), flushed rows one index
probe per row. For I in --intervals, the hour ends at every whole minute of the partition
clock, and the mean and the worst read time are printed.

    make bench-head-window [BENCH_ARGS="--intervals 10,15,30 --series 1000 --phase-step 1"]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".", "bench")]

from storage import PY_READ_FUNCTION  # noqa: E402  (bench/storage.py: read_samples as a SQL function)
from support.postgres import remove_cluster, start_cluster  # noqa: E402

READ, SCRAPE_S, FLUSH_DELAY_MIN, MAINTENANCE_LAG_MIN = 700, 15, 5, 1
BASE = datetime(2030, 1, 1, tzinfo=timezone.utc)  # partitions and buckets align on it


def us(t: datetime) -> int:
    return int((t - datetime(2000, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))


def setup(conn: psycopg.Connection, series: int, interval_min: int, end: datetime) -> None:
    """An hour of scrapes up to ``end``; the partitions that ended flush delay + maintenance lag
    before ``end`` flushed (into level-1 rows, the bucket being open) and dropped."""
    conn.execute("TRUNCATE prom_data.sample")
    for (table,) in conn.execute("SELECT table_name FROM _prom_catalog.sample_chunk").fetchall():
        conn.execute(f"DROP TABLE prom_data.{table}")
    for (table,) in conn.execute("SELECT table_name FROM _prom_catalog.compressed_partition").fetchall():
        conn.execute(f"DROP TABLE prom_data.{table}")
    conn.execute("DELETE FROM _prom_catalog.sample_chunk; DELETE FROM _prom_catalog.sample_chunk_state; "
                 "DELETE FROM _prom_catalog.compressed_partition")
    conn.execute("SELECT prom_api.set_default_chunk_interval(%s)", (timedelta(minutes=interval_min),))
    conn.execute("""
        SELECT prom_api.put_samples(array_agg(s), array_agg(t), array_agg(v))
        FROM (SELECT s, %(end)s::timestamptz - r * interval '15 seconds' AS t, (r * s)::float8 AS v
              FROM generate_series(0, 239) r, generate_series(1, %(n)s) s ORDER BY t, s) d""",
                 {"end": end, "n": series})
    due = end - timedelta(minutes=FLUSH_DELAY_MIN + MAINTENANCE_LAG_MIN)
    for (chunk_id,) in conn.execute("SELECT id FROM _prom_catalog.sample_chunk WHERE end_time <= %s", (due,)).fetchall():
        conn.execute("SELECT _prom_catalog.flush_chunks(ARRAY[%s]::bigint[])", (chunk_id,))
    conn.execute("SELECT _prom_catalog.drop_flushed_chunks()")
    conn.execute("ANALYZE")


def read_ms(conn: psycopg.Connection, end: datetime, reps: int) -> float:
    args = (list(range(1, READ + 1)), us(end - timedelta(hours=1)), us(end))
    conn.execute("SELECT bench_read_samples(%s, %s, %s)", args)  # warm
    times = []
    for _ in range(reps):
        began = time.perf_counter()
        n = conn.execute("SELECT bench_read_samples(%s, %s, %s)", args).fetchone()[0]
        times.append(time.perf_counter() - began)
    assert n == READ * 240, n
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", default="10,15,30", help="head partition lengths to compare, minutes")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--series", type=int, default=1000, help="series stored (700 of them are read)")
    parser.add_argument("--phase-step", type=int, default=1, help="minutes between the phases tried")
    args = parser.parse_args()
    cluster = start_cluster({"shared_buffers": "1GB", "max_parallel_workers_per_gather": "0"})
    try:
        cluster.psql("CREATE DATABASE bench")
        cluster.psql("CREATE EXTENSION promscale CASCADE", dbname="bench")
        with psycopg.connect(cluster.uri("bench"), autocommit=True) as conn:
            conn.execute("SELECT prom_api.set_compression_delay('1000 days')")  # buckets stay open: level 1
            conn.execute(PY_READ_FUNCTION)
            conn.execute("SELECT prom_api.get_or_create_series_id(jsonb_build_object('__name__', 'm', 'i', i::text)) "
                         "FROM generate_series(1, %s) i", (args.series,))
            print(f"last hour of {READ} of {args.series} series at {SCRAPE_S} s, read_samples, median of {args.reps}:")
            print(f"{'chunk interval':>15} {'head min (mean)':>16} {'read ms (mean)':>15} {'read ms (worst)':>16}")
            for interval in (int(i) for i in args.intervals.split(",")):
                results = []
                for phase in range(0, interval, args.phase_step):
                    end = BASE + timedelta(minutes=phase, seconds=30)
                    setup(conn, args.series, interval, end)
                    head = conn.execute("SELECT count(*) FROM prom_data.sample WHERE series_id = 1").fetchone()[0]
                    results.append((head * SCRAPE_S / 60, read_ms(conn, end, args.reps)))
                print(f"{interval:>12} min {statistics.mean(h for h, _ in results):>16.1f} "
                      f"{statistics.mean(r for _, r in results):>15.1f} {max(r for _, r in results):>16.1f}")
    finally:
        remove_cluster(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
