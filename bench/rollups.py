"""Rollups for long ranges (docs/rollups.md): a 30-day dashboard query on raw samples and on
rollups, and what the rollups cost in storage.

1,000 counters (one per instance) scraped every --scrape-s seconds (15 s by default, 2 ms of
jitter, a counter reset every few days) for --days days, written through
prom_api.put_samples, compacted and rolled up by CALL prom_api.execute_maintenance(). Then
`sum by (instance) (rate(requests_total[1h]))` over the whole range at step 1 h, through
prom_api.query_range_json (the connector's call), read from raw samples, from 1 h rollups
(max_source_resolution=1h) and from 5 m rollups (auto: the coarsest within a fifth of 1 h).
Storage: the compacted raw rows against the rollup rows of each resolution (row sizes as
stored, pg_column_size), and a year of 1 h rollups per series from the measured bytes per window.

    make bench-rollups [BENCH_ARGS="--series 1000 --days 30 --scrape-s 15 --reps 5"]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".", "bench")]

from pyconnector.pgbinary import Float8Array, Int8Array, TimestamptzArray  # noqa: E402
from storage import bench_database  # noqa: E402

QUERY = "sum by (instance) (rate(requests_total[1h]))"
HOUR_MS = 3_600_000


def load(conn: psycopg.Connection, series: int, start_ms: int, days: int, scrape_ms: int, seed: int = 1) -> None:
    """Counters written hour by hour; maintenance runs once all are written (rollups are
    computed once, in time order: backfilled samples behind the rollups would be left out)."""
    ords = np.repeat(np.arange(series), 3).tolist()
    keys = ["__name__", "instance", "job"] * series
    values = sum((["requests_total", f"host-{i:04d}", "api"] for i in range(series)), [])
    rows = conn.execute("SELECT ord, series_id FROM prom_api.get_or_create_series_ids(%s::int[], %s::text[], %s::text[])",
                        (ords, keys, values)).fetchall()
    ids = np.array([sid for _, sid in sorted(rows)], dtype=np.int64)
    rng = np.random.default_rng(seed)
    per_hour = HOUR_MS // scrape_ms
    counters = rng.integers(0, 10_000, series).astype(float)
    rates = rng.uniform(0.5, 50, series)
    quarter = per_hour // 4  # one call per 15-minute head partition: a write into one partition
    for hour in range(days * 24):
        grid = start_ms + hour * HOUR_MS + np.arange(per_hour, dtype=np.int64) * scrape_ms
        times = grid[None, :] + rng.integers(-2, 3, (series, per_hour))
        increments = rng.poisson(rates[:, None] * scrape_ms / 1000, (series, per_hour)).astype(float)
        vals = counters[:, None] + np.cumsum(increments, axis=1)
        resets = rng.random(series) < 1 / (24 * 3)  # about one reset per series every 3 days
        if resets.any():
            at = per_hour // 2
            vals[resets, at:] -= vals[resets, at:at + 1] - increments[resets, at:at + 1]
        counters = vals[:, -1]
        for q in range(4):
            part = slice(q * quarter, (q + 1) * quarter)
            conn.execute("SELECT prom_api.put_samples(%b, %b, %b)",
                         (Int8Array.of(np.repeat(ids, quarter)), TimestamptzArray.from_unix_ms(times[:, part].ravel()),
                          Float8Array.of(vals[:, part].ravel())))


def timed_query(conn: psycopg.Connection, start_s: float, end_s: float, resolution: str | None,
                reps: int) -> tuple[float, int, list]:
    sql = "SELECT prom_api.query_range_json(%s, %s, %s, 3600, NULL, NULL, NULL, %s)"
    body = json.loads(conn.execute(sql, (QUERY, start_s, end_s, resolution)).fetchone()[0])  # warm
    assert body["status"] == "success", body
    runs = []
    for _ in range(reps):
        began = time.perf_counter()
        conn.execute(sql, (QUERY, start_s, end_s, resolution)).fetchone()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs) * 1000, len(body["data"]["result"]), body.get("warnings", [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scrape-s", type=int, default=15)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--skip-raw", action="store_true", help="time only the queries on rollups")
    args = parser.parse_args()
    with bench_database() as conn:
        conn.execute("SELECT prom_api.set_compression_delay('0')")
        (hour,) = conn.execute("SELECT date_trunc('hour', now())").fetchone()
        end_ms = int(hour.timestamp() * 1000) - HOUR_MS
        start_ms = end_ms - args.days * 24 * HOUR_MS
        began = time.perf_counter()
        load(conn, args.series, start_ms, args.days, args.scrape_s * 1000)
        load_s = time.perf_counter() - began
        began = time.perf_counter()
        conn.execute("CALL prom_api.execute_maintenance(log_steps => false)")
        maintenance_s = time.perf_counter() - began
        # the raw query reads every sample of the range: allow it
        conn.execute("SELECT prom_api.set_promql_max_samples(%s)", (args.series * args.days * 86400 // args.scrape_s * 2,))
        conn.execute("VACUUM ANALYZE")
        samples = conn.execute("SELECT sum(count) FROM prom_data.compressed_sample").fetchone()[0]
        print(f"{args.series} counters x {args.days} days at {args.scrape_s} s: {samples:,} samples; "
              f"written in {load_s:.0f} s, flushed, compacted and rolled up in {maintenance_s:.0f} s; "
              f"rollups until {conn.execute('SELECT prom_api.get_rollups_done_until()').fetchone()[0]}")

        raw_bytes = conn.execute("SELECT sum(pg_column_size(c.*)) FROM prom_data.compressed_sample c").fetchone()[0]
        raw_total = conn.execute("SELECT sum(pg_total_relation_size(format('prom_data.%I', table_name)::regclass)) "
                                 "FROM _prom_catalog.compressed_partition").fetchone()[0]
        print(f"raw, compacted: {raw_bytes / samples:.2f} bytes/sample in rows "
              f"({raw_total / samples:.2f} with indexes and page overhead)")
        per_res = conn.execute("SELECT resolution_s, sum(pg_column_size(r.*)), sum(count), count(*) "
                               "FROM prom_data.rollup r GROUP BY 1 ORDER BY 1").fetchall()
        for res_s, nbytes, windows, nrows in per_res:
            per_window = nbytes / windows
            share = nbytes / raw_bytes * 100
            print(f"rollups {res_s // 60} m: {nrows:,} rows, {windows:,} windows, {per_window:.1f} bytes/window, "
                  f"{share:.2f} % of the raw rows' bytes")
            if res_s == 3600:
                raw_per_series_year = raw_bytes / args.series / args.days * 365
                year = per_window * 24 * 365
                print(f"a year of 1 h rollups per series: {year / 1024:.1f} KiB against "
                      f"{raw_per_series_year / 1024:.0f} KiB of raw rows ({year / raw_per_series_year * 100:.2f} %)")

        start_s, end_s = start_ms / 1000 + 3600, end_ms / 1000
        print(f"query_range {QUERY!r}, {args.days} days at step 1 h ({args.reps} runs, median):")
        for label, resolution in (("1 h rollups", "1h"), ("5 m rollups (auto)", "auto"), ("raw samples", None)):
            if resolution is None and args.skip_raw:
                continue
            ms, n, warnings = timed_query(conn, start_s, end_s, resolution, args.reps)
            print(f"  {label:<20}{ms:>10.0f} ms  {n} series" + (f"  [{warnings[0][:40]}...]" if warnings else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
