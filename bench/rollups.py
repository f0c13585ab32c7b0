"""Rollups for long ranges (docs/rollups.md): a 30-day dashboard query on raw samples and on
rollups, and what the rollups cost in storage.

1,000 counters (one per instance) scraped every --scrape-s seconds (15 s by default, 2 ms of
jitter, a counter reset every few days) for --days days, written as compacted rows (what
maintenance makes of remote_write samples) and rolled up by CALL prom_api.execute_maintenance(). Then
`sum by (instance) (rate(requests_total[1h]))` over the whole range at step 1 h, through
prom_api.query_range_json (the connector's call), read from raw samples, from 1 h rollups
(max_source_resolution=1h) and from 5 m rollups (auto: the coarsest within a fifth of 1 h).
Storage: the compacted raw rows against the rollup rows of each resolution (row sizes as
stored, pg_column_size), and a year of 1 h rollups per series from the rows' bytes fitted against their windows.

    make bench-rollups [BENCH_ARGS="--series 1000 --days 30 --scrape-s 15 --reps 5"]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".", "bench")]

from storage import bench_database  # noqa: E402

QUERY = "sum by (instance) (rate(requests_total[1h]))"
HOUR_MS = 3_600_000


# Generates the counters in the server (its Python and NumPy) and writes them as compacted rows
# with the extension's own writer (lifecycle/rows.py), a 4-hour bucket at a time: the same rows
# maintenance makes from remote_write, without the hours that writing 170 million samples one by
# one through the head would take on this machine.
_LOAD_BUCKET = """
DO $load$
import numpy as np
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
rows = GD["promscale"].module(plpy, "promscale.lifecycle.rows")
codec = GD["promscale"].module(plpy, "promscale.codec")
state = GD.setdefault("bench_rollups", {{}})
ids = np.array({ids}, dtype=np.int64)
series, scrape_us, bucket_us, start_us = len(ids), {scrape_us}, {bucket_us}, {start_us}
if "rng" not in state:
    state["rng"] = np.random.default_rng({seed})
    state["counters"] = state["rng"].integers(0, 10_000, series).astype(float)
    state["rates"] = state["rng"].uniform(0.5, 50, series)
rng = state["rng"]
steps = bucket_us // scrape_us
grid = start_us + scrape_us // 2 + np.arange(steps, dtype=np.int64) * scrape_us  # off the window edges
times = grid[None, :] + rng.integers(-2, 3, (series, steps)) * 1000  # whole milliseconds, as Prometheus
increments = rng.poisson(state["rates"][:, None] * scrape_us / 1e6, (series, steps)).astype(float)
vals = state["counters"][:, None] + np.cumsum(increments, axis=1)
resets = rng.random(series) < bucket_us / (3 * 86400e6)  # about one reset per series every 3 days
for i in np.flatnonzero(resets):
    at = int(rng.integers(1, steps))
    vals[i, at:] -= vals[i, at] - increments[i, at]
state["counters"] = vals[:, -1]
plans = GD.setdefault("bench_rollups_plans", {{}})
fresh = {{(int(sid), start_us): codec.SampleArrays(times[k], vals[k]) for k, sid in enumerate(ids.tolist())}}
rows.write_compacted(plpy, plans, fresh)
$load$ LANGUAGE plpython3u
"""


def load(conn: psycopg.Connection, series: int, start_ms: int, days: int, scrape_ms: int, seed: int = 1) -> None:
    """Counters of ``series`` instances for ``days`` days, written as compacted rows bucket by
    bucket (one session: the generator's state carries over)."""
    ords = np.repeat(np.arange(series), 3).tolist()
    keys = ["__name__", "instance", "job"] * series
    values = sum((["requests_total", f"host-{i:04d}", "api"] for i in range(series)), [])
    rows = conn.execute("SELECT ord, series_id FROM prom_api.get_or_create_series_ids(%s::int[], %s::text[], %s::text[])",
                        (ords, keys, values)).fetchall()
    ids = [sid for _, sid in sorted(rows)]
    (bucket_s,) = conn.execute("SELECT extract(epoch FROM prom_api.get_compressed_chunk_interval())::int").fetchone()
    pg_epoch_ms = 946684800000
    for bucket in range(days * 86400 // bucket_s):
        start_us = (start_ms - pg_epoch_ms) * 1000 + bucket * bucket_s * 1_000_000
        conn.execute(_LOAD_BUCKET.format(ids=ids, scrape_us=scrape_ms * 1000, bucket_us=bucket_s * 1_000_000,
                                         start_us=start_us, seed=seed))


def backend_cpu_s(pid: int) -> float:
    """CPU seconds the server process has used (user + system): on a shared machine the wall
    time of a query counts other processes' work too, its process's CPU time does not."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_RANGE_SQL = "SELECT prom_api.query_range_json(%s, %s, %s, 3600, NULL, NULL, NULL, %s)"


def _one(conn: psycopg.Connection, pid: int, query: str, start_s: float, end_s: float,
         resolution: str | None) -> tuple[float, float, str]:
    cpu, began = backend_cpu_s(pid), time.perf_counter()
    body = conn.execute(_RANGE_SQL, (query, start_s, end_s, resolution)).fetchone()[0]
    return (time.perf_counter() - began) * 1000, (backend_cpu_s(pid) - cpu) * 1000, body


def timed_query(conn: psycopg.Connection, query: str, start_s: float, end_s: float, resolution: str | None,
                reps: int) -> tuple[float, float, int, list]:
    """Median wall and server CPU ms of ``reps`` runs after a first one (warm: the session's
    caches filled), the series answered and the warnings."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    body = json.loads(_one(conn, pid, query, start_s, end_s, resolution)[2])
    assert body["status"] == "success", body
    runs = [_one(conn, pid, query, start_s, end_s, resolution)[:2] for _ in range(reps)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            len(body["data"]["result"]), body.get("warnings", []))


def first_query(conn: psycopg.Connection, query: str, start_s: float, end_s: float, resolution: str | None,
                reps: int) -> tuple[float, float]:
    """Median wall and server CPU ms of the query as the first of a new connection (nothing of
    it decoded or cached yet; the session's Python modules loaded by a trivial query first)."""
    runs = []
    for _ in range(reps):
        with psycopg.connect(conn.info.dsn, autocommit=True) as fresh:
            pid = fresh.execute("SELECT pg_backend_pid()").fetchone()[0]
            fresh.execute(_RANGE_SQL, ("vector(1)", 0, 1, None))
            runs.append(_one(fresh, pid, query, start_s, end_s, resolution)[:2])
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scrape-s", type=int, default=15)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--raw-series", type=int, default=100,
                        help="instances the raw query reads (0: none); the rollup queries read all")
    args = parser.parse_args()
    with bench_database() as conn:
        conn.execute("SELECT prom_api.set_compression_delay('0')")
        (hour,) = conn.execute("SELECT date_trunc('hour', now())").fetchone()
        start_ms = (int(hour.timestamp() * 1000) - HOUR_MS - args.days * 24 * HOUR_MS) // (4 * HOUR_MS) * (4 * HOUR_MS)
        end_ms = start_ms + args.days * 24 * HOUR_MS
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
                # a year fills whole periods (720 windows a row): from this run's rows, partly
                # filled periods at both ends of the range, a row's bytes fitted as a fixed part
                # plus a part per window
                fixed, per = conn.execute("SELECT regr_intercept(pg_column_size(r.*), count), "
                                          "regr_slope(pg_column_size(r.*), count) FROM prom_data.rollup r "
                                          "WHERE resolution_s = 3600").fetchone()
                if fixed is None:  # every row as full as the others: no fit
                    fixed, per = 0.0, per_window
                year = (24 * 365 / 720) * fixed + 24 * 365 * per
                print(f"a year of 1 h rollups per series: {year / 1024:.1f} KiB against "
                      f"{raw_per_series_year / 1024:.0f} KiB of raw rows ({year / raw_per_series_year * 100:.2f} %; "
                      f"a row {fixed:.0f} bytes + {per:.2f} per window)")

        start_s, end_s = start_ms / 1000 + 3600, end_ms / 1000
        print(f"query_range {QUERY!r}, {args.days} days at step 1 h ({args.reps} runs, median):")
        print("  (wall ms / server CPU ms; warm: median of the runs after a first in one session; first: the first"
              " query of new connections, median of 3)")
        for label, resolution in (("1 h rollups", "1h"), ("5 m rollups (auto)", "auto")):
            ms, cpu, n, warnings = timed_query(conn, QUERY, start_s, end_s, resolution, args.reps)
            first_ms, first_cpu = first_query(conn, QUERY, start_s, end_s, resolution, 3)
            print(f"  {label:<20} warm {ms:>6.0f} / {cpu:>5.0f} ms   first {first_ms:>6.0f} / {first_cpu:>5.0f} ms"
                  f"   {n} series" + (f"  [{warnings[0][:40]}...]" if warnings else ""))
        # raw samples: a read of every sample of the range (170 million at 1,000 series and 15 s, more
        # memory than this shared machine has to spare), so on --raw-series instances: its cost is
        # linear in them
        names = "|".join(f"host-{i:04d}" for i in range(args.raw_series))
        subset = QUERY.replace("requests_total", f'requests_total{{instance=~"{names}"}}')
        if args.raw_series:
            ms, cpu, n, _ = timed_query(conn, subset, start_s, end_s, None, 1)
            print(f"  {'raw samples':<20} warm {ms:>6.0f} / {cpu:>5.0f} ms   {n} series (x {args.series / n:.0f}: "
                  f"{ms * args.series / n / 1000:.1f} s for {args.series})")
            for label, resolution in (("1 h rollups", "1h"), ("5 m rollups", "5m")):
                ms, cpu, n, _ = timed_query(conn, subset, start_s, end_s, resolution, args.reps)
                first_ms, first_cpu = first_query(conn, subset, start_s, end_s, resolution, 3)
                print(f"  {label:<20} warm {ms:>6.0f} / {cpu:>5.0f} ms   first {first_ms:>6.0f} / {first_cpu:>5.0f} ms"
                      f"   {n} series")
    return 0


if __name__ == "__main__":
    sys.exit(main())
