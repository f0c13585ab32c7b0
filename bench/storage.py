"""Storage cost of a day of scraped metrics: ours (head, then compressed) against
Prometheus 2.42's TSDB, plus compression throughput and query latency head vs compressed.

The same dataset (bench/scrape_dataset.py: ≥ 1,000 series × 24 h at 15 s) goes
- into a fresh promscale database through prom_api.put_samples, then is compressed by
  CALL prom_api.execute_maintenance();
- into Prometheus's TSDB with `promtool tsdb create-blocks-from openmetrics`, which writes
  the 2-hour blocks Prometheus's head compaction makes.
Bytes are what each keeps on disk for the samples: our partitions (heap, TOAST, indexes)
against Prometheus's block directories (chunks, index, meta).

    make bench-storage [BENCH_ARGS="--series 1000 --hours 24"]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".", "bench")]

from pyconnector import pgbinary  # noqa: E402
from pyconnector.db import register_binary_arrays  # noqa: E402
from pyconnector.pgbinary import Float8Array, Int8Array, TimestamptzArray  # noqa: E402
from scrape_dataset import SCRAPE_MS, Series, dataset  # noqa: E402
from support.postgres import remove_cluster, start_cluster  # noqa: E402

HOUR_MS = 3_600_000


def load(conn: psycopg.Connection, data: list[Series]) -> list[int]:
    ords, keys, values = [], [], []
    for i, s in enumerate(data):
        for k, v in s.labels.items():
            ords.append(i)
            keys.append(k)
            values.append(v)
    rows = conn.execute("SELECT ord, series_id FROM prom_api.get_or_create_series_ids(%s::int[], %s::text[], %s::text[])",
                        (ords, keys, values)).fetchall()
    ids = [sid for _, sid in sorted(rows)]
    all_ids = np.concatenate([np.full(len(s.times_ms), sid, dtype=np.int64) for s, sid in zip(data, ids)])
    all_times = np.concatenate([s.times_ms for s in data])
    all_values = np.concatenate([s.values for s in data])
    hours = all_times // HOUR_MS
    order = np.argsort(hours, kind="stable")
    all_ids, all_times, all_values, hours = all_ids[order], all_times[order], all_values[order], hours[order]
    bounds = np.flatnonzero(np.diff(hours)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(hours)]):
        conn.execute("SELECT prom_api.put_samples(%b, %b, %b)",
                     (Int8Array.of(all_ids[lo:hi]), TimestamptzArray.from_unix_ms(all_times[lo:hi]),
                      Float8Array.of(all_values[lo:hi])))
    return ids


def relation_bytes(conn: psycopg.Connection, catalog: str) -> int:
    return conn.execute(f"SELECT coalesce(sum(pg_total_relation_size(format('prom_data.%I', table_name)::regclass)), 0) "
                        f"FROM _prom_catalog.{catalog}").fetchone()[0]


def query_latency(conn: psycopg.Connection, queries: dict[str, tuple], reps: int) -> dict[str, tuple[float, int]]:
    out = {}
    for name, (ids, start_ms, end_ms) in queries.items():
        times = []
        for _ in range(reps):
            began = time.perf_counter()
            n = conn.execute("SELECT coalesce(sum(cardinality(times)), 0) FROM prom_api.get_samples(%s, "
                             "to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0))", (ids, start_ms, end_ms)).fetchone()[0]
            times.append(time.perf_counter() - began)
        out[name] = (statistics.median(times) * 1000, n)
    return out


PY_READ_FUNCTION = """
CREATE FUNCTION bench_read_samples(ids bigint[], start_us bigint, end_us bigint) RETURNS bigint
LANGUAGE plpython3u AS $$
if "promscale" not in GD:
    plpy.execute("SELECT _ps_catalog.python_bootstrap()")
mod = GD["promscale"].module(plpy, "promscale.lifecycle.read")
return sum(len(a) for a in mod.read_samples(plpy, SD, ids, start_us, end_us).values())
$$"""


def python_read_latency(conn: psycopg.Connection, queries: dict[str, tuple], reps: int) -> dict[str, tuple[float, int]]:
    """The same queries through lifecycle.read.read_samples, the read path of PL/Python callers."""
    out = {}
    for name, (ids, start_ms, end_ms) in queries.items():
        args = (ids, (start_ms - pgbinary.PG_EPOCH_UNIX_MS) * 1000, (end_ms - pgbinary.PG_EPOCH_UNIX_MS) * 1000)
        times = []
        for _ in range(reps + 1):  # the first run loads the modules
            began = time.perf_counter()
            n = conn.execute("SELECT bench_read_samples(%s, %s, %s)", args).fetchone()[0]
            times.append(time.perf_counter() - began)
        out[name] = (statistics.median(times[1:]) * 1000, n)
    return out


@contextmanager
def bench_database() -> Iterator[psycopg.Connection]:
    """A connection (autocommit, binary arrays) to a database with the extension, in a throwaway
    cluster tuned for loading: 1 GB of shared buffers, no autovacuum."""
    cluster = start_cluster({"shared_buffers": "1GB", "autovacuum": "off"})
    try:
        cluster.psql("CREATE DATABASE bench")
        cluster.psql("CREATE EXTENSION promscale CASCADE", dbname="bench")
        with psycopg.connect(cluster.uri("bench"), autocommit=True) as conn:
            register_binary_arrays(conn)
            yield conn
    finally:
        remove_cluster(cluster)


def ours(data: list[Series], queries_for, reps: int, row_interval: str) -> dict:
    with bench_database() as conn:
        began = time.perf_counter()
        ids = load(conn, data)
        load_s = time.perf_counter() - began
        conn.execute("VACUUM ANALYZE")
        samples = conn.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0]
        head_bytes = relation_bytes(conn, "sample_chunk")
        queries = queries_for(ids)
        query_latency(conn, queries, 1)  # warm the cache
        head_latency = query_latency(conn, queries, reps)
        conn.execute("SELECT prom_api.set_compression_delay('0')")
        conn.execute("SELECT prom_api.set_compressed_chunk_interval(%s)", (row_interval,))
        began = time.perf_counter()
        conn.execute("CALL prom_api.execute_maintenance(log_steps => false)")
        compress_s = time.perf_counter() - began
        conn.execute("VACUUM ANALYZE")
        left = conn.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0]
        stored, payload, rows = conn.execute(
            "SELECT sum(count), sum(octet_length(times) + octet_length(vals)), count(*) "
            "FROM prom_data.compressed_sample").fetchone()
        cold_bytes = relation_bytes(conn, "compressed_partition")
        time_bytes, value_bytes = conn.execute(
            "SELECT sum(octet_length(times)), sum(octet_length(vals)) FROM prom_data.compressed_sample").fetchone()
        query_latency(conn, queries, 1)
        cold_latency = query_latency(conn, queries, reps)
        conn.execute(PY_READ_FUNCTION)
        py_latency = python_read_latency(conn, queries, reps)
        assert left == 0 and stored == samples, (left, stored, samples)
        for name in queries:
            assert head_latency[name][1] == cold_latency[name][1] == py_latency[name][1], name
    return {"samples": samples, "load_s": load_s, "head_bytes": head_bytes, "cold_bytes": cold_bytes,
            "payload": payload, "time_bytes": time_bytes, "value_bytes": value_bytes, "rows": rows,
            "compress_s": compress_s, "head_latency": head_latency, "cold_latency": cold_latency,
            "py_latency": py_latency}


def write_openmetrics(data: list[Series], path: Path) -> None:
    with path.open("w") as out:
        for s in data:
            labels = ",".join(f'{k}="{v}"' for k, v in s.labels.items() if k != "__name__")
            prefix = f"{s.labels['__name__']}{{{labels}}} "
            out.write("".join(f"{prefix}{v!r} {t // 1000}.{t % 1000:03d}\n"
                              for t, v in zip(s.times_ms.tolist(), s.values.tolist())))
        out.write("# EOF\n")


def prometheus(data: list[Series], workdir: Path) -> dict:
    source = workdir / "data.om"
    write_openmetrics(data, source)
    blocks = workdir / "tsdb"
    began = time.perf_counter()
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(blocks)],
                   check=True, capture_output=True)
    backfill_s = time.perf_counter() - began
    total = chunks = index = 0
    block_count = 0
    for block in blocks.iterdir():
        if not (block / "meta.json").exists():
            continue
        block_count += 1
        for f in block.rglob("*"):
            if f.is_file():
                size = f.stat().st_size
                total += size
                if f.parent.name == "chunks":
                    chunks += size
                elif f.name == "index":
                    index += size
    return {"total": total, "chunks": chunks, "index": index, "blocks": block_count, "backfill_s": backfill_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=1000, help="at least this many series (94 per target)")
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--reps", type=int, default=5, help="repetitions per query (median reported)")
    parser.add_argument("--row-interval", default="4 hours",
                        help="prom_api.set_compressed_chunk_interval() for the run (default: the default, 4 hours)")
    parser.add_argument("--jitter-ms", type=float, default=2.0, help="standard deviation of scrape timestamp jitter")
    args = parser.parse_args()
    per_series = args.hours * HOUR_MS // SCRAPE_MS
    # the data ends at the last midnight (UTC) at least an hour ago: every head partition and
    # every compressed row interval (they divide a day) is closed
    day_ms = 24 * HOUR_MS
    start_ms = (int(time.time() * 1000) - HOUR_MS) // day_ms * day_ms - args.hours * HOUR_MS
    data = dataset(args.series, start_ms, per_series, jitter_ms=args.jitter_ms)
    samples = sum(len(s.times_ms) for s in data)
    end_ms = start_ms + args.hours * HOUR_MS
    rng = np.random.default_rng(9)

    def queries_for(ids: list[int]) -> dict[str, tuple]:
        some = sorted(rng.choice(ids, 50, replace=False).tolist())
        return {
            "50 series x 1 h": (some, end_ms - HOUR_MS * 3, end_ms - HOUR_MS * 2),
            "50 series x 24 h": (some, start_ms, end_ms),
            "1 series x 24 h": (some[:1], start_ms, end_ms),
            f"all {len(ids)} series x 1 h": (ids, end_ms - HOUR_MS * 3, end_ms - HOUR_MS * 2),
        }

    print(f"dataset: {len(data)} series x {per_series} samples ({args.hours} h at 15 s, jitter sd {args.jitter_ms} ms)"
          f" = {samples:,} samples",
          flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="promscale-bench-storage-"))
    try:
        prom = prometheus(data, workdir)
        mine = ours(data, queries_for, args.reps, args.row_interval)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    n = mine["samples"]
    print()
    print(f"{'bytes per sample':<58}{'value':>12}")
    rows = [
        ("promscale head (heap + indexes), uncompressed", mine["head_bytes"] / n),
        ("promscale compressed, on disk (heap, TOAST, primary keys)", mine["cold_bytes"] / n),
        ("  of which encoded payload (times + values)", mine["payload"] / n),
        ("    timestamps", mine["time_bytes"] / n),
        ("    values", mine["value_bytes"] / n),
        (f"Prometheus 2.42 TSDB, {prom['blocks']} blocks of 2 h (chunks + index + meta)", prom["total"] / n),
        ("  of which chunks", prom["chunks"] / n),
        ("  of which index", prom["index"] / n),
    ]
    for label, value in rows:
        print(f"{label:<58}{value:>12.3f}")
    print(f"{'ratio promscale compressed / Prometheus (on disk)':<58}{mine['cold_bytes'] / prom['total']:>12.3f}")
    print()
    print(f"compressed rows: {mine['rows']:,} ({n / mine['rows']:.0f} samples per row; rows of {args.row_interval})")
    print(f"compression (CALL prom_api.execute_maintenance()): {mine['compress_s']:.1f} s = "
          f"{n / mine['compress_s']:,.0f} samples/s")
    print(f"load through put_samples: {mine['load_s']:.1f} s; promtool backfill: {prom['backfill_s']:.1f} s")
    print()
    print(f"{'prom_api.get_samples latency (median of %d)' % args.reps:<34}{'samples':>10}{'head ms':>10}"
          f"{'compressed ms':>15}{'ratio':>8}{'read_samples ms':>17}")
    for name, (head_ms, count) in mine["head_latency"].items():
        cold_ms = mine["cold_latency"][name][0]
        py_ms = mine["py_latency"][name][0]
        print(f"{name:<34}{count:>10,}{head_ms:>10.1f}{cold_ms:>15.1f}{cold_ms / head_ms:>8.2f}{py_ms:>17.1f}")
    print("(read_samples: lifecycle.read.read_samples on the compressed data, the read path for PL/Python callers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
