"""A time-filtered prom_metric view query on a metric with 72 hours of compressed history
against one with 2 hours: with the planner library's bounds (src/compressed_time_bounds.c)
and without them (`SET promscale.compressed_time_bounds = off`, what every view did before).

Both metrics have the same series (15 s scrapes) up to now; everything before the current
compressed row interval (4 hours) is compressed. Two queries per metric: the last 10 minutes
(head only) and one hour of the compressed history (90 to 30 minutes before the current interval).

    make bench-views [BENCH_ARGS="--series 100 --reps 5"]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".", "bench")]

from scrape_dataset import SCRAPE_MS, Series  # noqa: E402
from storage import bench_database, load  # noqa: E402
from support.plans import decoded_rows, explain  # noqa: E402

HISTORY = {"history_72h": 72, "history_2h": 2}
QUERIES = {
    "last 10 min": "time > now() - interval '10 minutes'",
    "1 h, compressed": "time >= %(bucket)s - interval '90 minutes' AND time < %(bucket)s - interval '30 minutes'",
}


def series_of(metric: str, n: int, start_ms: int, end_ms: int, rng: np.random.Generator) -> list[Series]:
    """Gauges whose values do not drift with the length of the history (a random walk would give
    the longer history larger numbers, which decode at another speed)."""
    times = np.arange(start_ms, end_ms, SCRAPE_MS, dtype=np.int64)
    daily = 50 + 20 * np.sin(times / 86_400_000 * 2 * np.pi)
    return [Series({"__name__": metric, "instance": f"host-{i}", "job": "node"}, times,
                   np.round(daily + rng.normal(0, 1, len(times)), 2)) for i in range(n)]


def timed(conn: psycopg.Connection, sql: str, params: dict, reps: int) -> float:
    """Median ms, planning included; never a prepared statement (it would keep the plan made
    before `SET promscale.compressed_time_bounds` changed, like any planner setting)."""
    conn.execute(sql, params, prepare=False).fetchall()  # warm the caches
    runs = []
    for _ in range(reps):
        began = time.perf_counter()
        conn.execute(sql, params, prepare=False).fetchall()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=100, help="series per metric")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per query (median reported)")
    args = parser.parse_args()
    with bench_database() as conn:
        bucket, now = conn.execute("SELECT _prom_catalog.aligned_chunk_start(now(), interval '4 hours'), now()"
                                   ).fetchone()
        rng = np.random.default_rng(1)
        now_ms = int(now.timestamp() * 1000)
        for metric, hours in HISTORY.items():
            start_ms = int((bucket - timedelta(hours=hours)).timestamp() * 1000)
            load(conn, series_of(metric, args.series, start_ms, now_ms, rng))
        conn.execute("SELECT prom_api.set_compression_delay('0')")
        began = time.perf_counter()
        conn.execute("SELECT prom_api.compress_due_chunks()")
        compress_s = time.perf_counter() - began
        conn.execute("VACUUM ANALYZE")
        rows = dict(conn.execute(
            "SELECT m.metric_name, count(*) FROM prom_data.compressed_sample c "
            "JOIN _prom_catalog.series s ON s.id = c.series_id JOIN _prom_catalog.metric m ON m.id = s.metric_id "
            "GROUP BY 1").fetchall())
        print(f"{args.series} series per metric, 15 s scrapes; compressed in {compress_s:.1f} s: "
              + ", ".join(f"{m} {rows[m]} compressed rows" for m in HISTORY))
        print(f"{'query':<18}{'metric':<14}{'bounds':<8}{'ms (median)':>12}{'rows decoded':>14}{'samples':>9}")
        for name, where in QUERIES.items():
            sql = f"SELECT count(*), sum(value) FROM prom_metric.{{}} WHERE {where}"
            for bounds in ("off", "on"):
                conn.execute(f"SET promscale.compressed_time_bounds = {bounds}")
                for metric in HISTORY:
                    q = sql.format(metric)
                    ms = timed(conn, q, {"bucket": bucket}, args.reps)
                    decoded = decoded_rows(explain(conn, q, {"bucket": bucket}))
                    samples = conn.execute(q, {"bucket": bucket}, prepare=False).fetchone()[0]
                    print(f"{name:<18}{metric:<14}{bounds:<8}{ms:>12.1f}{decoded:>14}{samples:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
