"""Scale: ours and Prometheus 2.42 at 10,000, 100,000 and 1,000,000 series (make bench-scale).

    make bench-scale [BENCH_ARGS="--sizes 10k,100k --json"]

At each size the same data (bench/scale_dataset.py: node_exporter hosts and Kubernetes pods
that churn, 15 s scrapes) goes by remote_write first to ours (the connector under gunicorn,
PostgreSQL with fsync=on and synchronous_commit=on), then to Debian's Prometheus 2.42
(--web.enable-remote-write-receiver); only one of them runs at a time. Requests are encoded
before each phase's clock starts (bench/remote_write_client.py); 4 senders each own a shard of
the series and send it in time order, 2,000 samples per request, like Prometheus's queue.

The data. Six hours of every series at 1,000,000 series is 1.44 billion samples, too many for
one run on this machine, so the data is built for honest per-request figures instead:

- **every series** gets the most recent 14 minutes (56 scrapes), in phases that are timed:
  *create* (1 minute; its first scrape creates every series), *churn* (10 minutes in which
  every pod is replaced once: new series, and stale markers for the old ones), *steady*
  (2 minutes, every series known, also to every connector worker's cache), *cold* (1 minute
  sent to a freshly started connector: new processes, empty caches; Prometheus gets the same
  minute without a restart, as it keeps no such state outside its head). So the catalog and the
  head hold every series during the queried 15-minute window;
- **the dashboard series** (hosts 0 and 1, ~500 series, the same at every size) also get the
  6 hours before, pushed first (in time order; untimed); ours then runs maintenance, which
  compresses what a running system would have compressed by then (closed 4-hour rows older
  than the compression delay), and Prometheus compacts its head into blocks by itself;
- **one hour of all active series** is written afterwards (ours only, straight through
  prom_api.put_samples, a day back) to time maintenance on a full hour at this size.

Queries (bench/scale_queries.py) run against the data's end; the ones marked *fixed* do the
same work at every size, so their cost must not grow with it: that curve is the result. Each
query's first run is on a fresh connection (ours: a freshly started connector), warm figures
are medians after every connection has run requests.

Ratios are ours / Prometheus as times (for throughputs: theirs / ours), so lower is better
for us and 1 is parity. Both share the machine's 2 cores with the load generator: figures are
wall time. Each size has a time budget for our side; what does not finish in it is reported as
such and the rest of that side is skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path

import numpy as np
import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / p) for p in ("tests", "tools", ".", "bench")]

from procmem import PeakMemory, children, peak_rss_bytes, postmaster_pid  # noqa: E402
from pyconnector.db import register_binary_arrays  # noqa: E402
from pyconnector.pgbinary import Float8Array, Int8Array, TimestamptzArray  # noqa: E402
from remote_write_client import DeadlineExceeded, encode_labels  # noqa: E402
from scale_dataset import POD_LIFETIME_ROUNDS, SCRAPE_MS, Workload  # noqa: E402
from scale_phases import Timeline, ingest  # noqa: E402
from scale_queries import time_queries, time_views, warmups  # noqa: E402
from scale_report import print_curve, print_size  # noqa: E402
from support.connector import ConnectorProcess  # noqa: E402
from support.postgres import remove_cluster, start_cluster  # noqa: E402
from support.prometheus import Prometheus  # noqa: E402

HOUR_MS = 3_600_000
PG_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on", "shared_buffers": "1GB",
               "work_mem": "64MB", "maintenance_work_mem": "512MB"}
PROMETHEUS_CONFIG = "global:\n  scrape_interval: 1h\n"


class Connector:
    """Our connector, restartable (a restart is a fresh connector: new processes, empty caches)."""

    def __init__(self, db_uri: str, workers: int, threads: int):
        self.db_uri, self.workers, self.threads = db_uri, workers, threads
        self.process: ConnectorProcess | None = None

    def start(self) -> float:
        """Seconds until healthy."""
        self.stop()
        started = time.perf_counter()
        self.process = ConnectorProcess(self.db_uri, workers=self.workers, threads=self.threads,
                                        extra_args=["--log-level", "warning", "--maintenance-interval", "0"])
        self.process.__enter__()
        return time.perf_counter() - started

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    @property
    def url(self) -> str:
        assert self.process is not None
        return self.process.url

    def pids(self) -> list[int]:
        return children(self.process.process.pid) if self.process is not None else []

    def fresh_url(self) -> str:
        self.start()
        return self.url

    def warm_url(self, end_s: float) -> str:
        """A fresh connector whose every database session has run each kind of request over the
        queried time range (scale_queries.warmups)."""
        self.start()
        connections = self.workers * self.threads

        def burst() -> None:
            with requests.Session() as session:
                for path, params in warmups(end_s):
                    session.get(self.url + path, params=params, timeout=120)

        for _ in range(2):
            threads = [threading.Thread(target=burst) for _ in range(connections)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return self.url


def catalog_figures(conn: psycopg.Connection) -> dict:
    series, series_bytes, label_bytes, catalog_bytes = conn.execute(
        "SELECT (SELECT count(*) FROM _prom_catalog.series), pg_total_relation_size('_prom_catalog.series'), "
        "pg_total_relation_size('_prom_catalog.label'), "
        "(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        " WHERE n.nspname = '_prom_catalog' AND c.relkind = 'r')").fetchone()
    return {"series": series, "series_label_bytes_per_series": (series_bytes + label_bytes) / series,
            "catalog_bytes_per_series": int(catalog_bytes) / series}


def storage(conn: psycopg.Connection) -> dict[str, dict]:
    return {tier: {"samples": samples, "bytes": total} for tier, samples, total in
            conn.execute("SELECT tier, samples, total_bytes FROM prom_info.storage")}


def series_ids_of(conn: psycopg.Connection, workload: Workload, wanted: np.ndarray) -> np.ndarray:
    """Our series id of each wanted series of the workload, matched on their label sets."""
    index = {workload.label_fields(int(i)): n for n, i in enumerate(wanted)}
    out = np.full(len(wanted), -1, dtype=np.int64)
    rows = conn.execute(
        "SELECT s.id, array_agg(l.key ORDER BY l.key COLLATE \"C\"), array_agg(l.value ORDER BY l.key COLLATE \"C\") "
        "FROM _prom_catalog.series s CROSS JOIN LATERAL unnest(s.labels) AS u(label_id) "
        "JOIN _prom_catalog.label l ON l.id = u.label_id GROUP BY s.id")
    for series_id, keys, values in rows:
        n = index.get(encode_labels(zip(keys, values)))
        if n is not None:
            out[n] = series_id
    if (out < 0).any():
        raise RuntimeError(f"{int((out < 0).sum())} series of the workload are missing from the catalog")
    return out


def maintenance_hour(uri: str, workload: Workload, timeline: Timeline, minutes: int, deadline: float) -> dict:
    """Writes ``minutes`` of every active series into a closed hour a day back (untimed), then
    times CALL prom_api.execute_maintenance() and measures the space before and after. Writing
    stops early when half the time left before ``deadline`` is gone (maintenance takes about as
    long as the writing); the figure per hour is then scaled from the minutes written."""
    hour_start = timeline.end_ms // HOUR_MS * HOUR_MS - 30 * HOUR_MS
    first_round = (hour_start - timeline.start_ms) // SCRAPE_MS
    active = workload.active_ids(workload.pod_generations(timeline.churn_round(timeline.rounds - 1)))
    with psycopg.connect(uri, autocommit=True) as conn:
        register_binary_arrays(conn)
        ids = series_ids_of(conn, workload, active)
        loaded = time.perf_counter()
        stop_loading = time.monotonic() + (deadline - time.monotonic()) / 2
        samples = rounds = 0
        for r in range(first_round, first_round + minutes * 60_000 // SCRAPE_MS):
            if time.monotonic() > stop_loading:
                break
            rounds += 1
            times = workload.times(r, timeline.start_ms, active)
            conn.execute("SELECT prom_api.put_samples(%b, %b, %b)",
                         (Int8Array.of(ids), TimestamptzArray.from_unix_ms(times),
                          Float8Array.of(workload.values(r, active))))
            samples += len(active)
        load_s = time.perf_counter() - loaded
        minutes = rounds * SCRAPE_MS / 60_000
        conn.execute("CHECKPOINT")
        before = storage(conn)
        db_before = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        started = time.perf_counter()
        conn.execute("CALL prom_api.execute_maintenance(log_steps => false)")
        seconds = time.perf_counter() - started
        after = storage(conn)
        db_after = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"samples": samples, "minutes": minutes, "load_s": load_s, "seconds": seconds,
            "seconds_per_hour": seconds * 60 / minutes, "db_bytes_before": db_before, "db_bytes_after": db_after,
            "head_before": before["head"], "head_after": after["head"],
            "flushed_before": before.get("flushed"), "flushed_after": after.get("flushed"),
            "compressed_before": before["compressed"], "compressed_after": after["compressed"]}


def run_ours(out: dict, workload: Workload, timeline: Timeline, args, deadline: float) -> None:
    cluster = start_cluster(PG_SETTINGS)
    connector = None
    try:
        cluster.create_promscale_database("promscale")
        admin_uri = cluster.uri("promscale")
        connector = Connector(cluster.uri("promscale", "promscale"), args.workers, args.threads)
        connector.start()

        def compress_history() -> tuple[str, dict]:
            """What a running system's scheduled maintenance would have compressed by now."""
            with psycopg.connect(admin_uri, autocommit=True) as conn:
                started = time.perf_counter()
                conn.execute("CALL prom_api.execute_maintenance(log_steps => false)")
                out["history_maintenance"] = {"seconds": time.perf_counter() - started, "storage": storage(conn)}
            return connector.url + "/write", {}

        def restart() -> tuple[str, dict]:
            restart_s = connector.start()
            return connector.url + "/write", {"restart_s": restart_s}

        memory = PeakMemory({"postgres": lambda: children(postmaster_pid(cluster.datadir)),
                             "connector": connector.pids})
        try:
            with memory:
                out["ingest"] = {}
                ingest(out["ingest"], connector.url + "/write", workload, timeline, args, deadline,
                       before={"create": compress_history, "cold": restart})
                with psycopg.connect(admin_uri, autocommit=True) as conn:
                    started = time.perf_counter()
                    # what autovacuum does after such an ingest, done before the queries rather
                    # than during them; its time is a figure of its own
                    conn.execute("VACUUM (ANALYZE)")
                    out["analyze_s"] = time.perf_counter() - started
                    out["storage_before_maintenance"] = stored = storage(conn)
                sent = sum(phase["samples"] for phase in out["ingest"].values())
                if sum(tier["samples"] for tier in stored.values()) != sent:  # head, flushed, compressed
                    raise RuntimeError(f"stored {stored} samples, sent {sent}")
                print(f"    VACUUM (ANALYZE) in {out['analyze_s']:.1f} s; all {sent:,} samples stored; querying")
                out["queries"] = {k: asdict(v) for k, v in time_queries(
                    connector.fresh_url, connector.warm_url, timeline.end_ms / 1000, args.repeat, deadline).items()}
                recent = f"{(time.time() * 1000 - timeline.end_ms) / 1000 + 600:.0f} seconds"
                out["views"] = {k: asdict(v) for k, v in time_views(admin_uri, recent, args.repeat).items()}
        except DeadlineExceeded:
            out["notes"].append("time budget exceeded during ingest; nothing else measured")
            return
        finally:
            out["memory"], out["memory_rss"] = dict(memory.peaks), dict(memory.rss_peaks)
        connector.stop()
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            out["catalog"] = catalog_figures(conn)
        if time.monotonic() < deadline and args.maintenance_minutes:
            print(f"    maintenance: writing {args.maintenance_minutes} min of {workload.active_series:,} series")
            m = maintenance_hour(admin_uri, workload, timeline, args.maintenance_minutes, deadline)
            out["maintenance"] = m
            if m["minutes"] < args.maintenance_minutes:
                out["notes"].append(f"time budget: maintenance measured on {m['minutes']:g} minutes of data, not "
                                    f"{args.maintenance_minutes}")
            print(f"    maintenance: {m['seconds']:.1f} s for {m['minutes']:g} min of data "
                  f"(written in {m['load_s']:.0f} s)")
        elif args.maintenance_minutes:
            out["notes"].append("time budget exceeded before the maintenance hour")
    finally:
        if connector is not None:
            connector.stop()
        remove_cluster(cluster)


def prometheus_blocks(data_dir: Path) -> dict:
    """Bytes and samples of the persisted blocks (what head compaction wrote)."""
    total = samples = blocks = 0
    for meta in data_dir.glob("*/meta.json"):
        stats = json.loads(meta.read_text()).get("stats", {})
        samples += stats.get("numSamples", 0)
        total += sum(f.stat().st_size for f in meta.parent.rglob("*") if f.is_file())
        blocks += 1
    return {"blocks": blocks, "samples": samples, "bytes": total}


def run_prometheus(out: dict, workload: Workload, timeline: Timeline, args) -> None:
    prom = Prometheus(PROMETHEUS_CONFIG, ["--web.enable-remote-write-receiver"])
    prom.start()
    try:
        out["ingest"] = {}
        ingest(out["ingest"], prom.url + "/api/v1/write", workload, timeline, args, None)
        appended = sum(float(line.split()[-1]) for line in requests.get(prom.url + "/metrics", timeout=30).text
                       .splitlines() if line.startswith("prometheus_tsdb_head_samples_appended_total"))
        sent = sum(p["samples"] for p in out["ingest"].values())
        if appended < sent:
            raise RuntimeError(f"Prometheus appended {appended:.0f} of {sent} samples")
        print("    querying")
        out["queries"] = {k: asdict(v) for k, v in time_queries(
            lambda: prom.url, lambda _end_s: prom.url, timeline.end_ms / 1000, args.repeat).items()}
        out["memory"] = {"prometheus": peak_rss_bytes(prom.process.pid)}
        out["blocks"] = prometheus_blocks(prom.data_dir)
        out["tsdb_bytes"] = sum(f.stat().st_size for f in prom.data_dir.rglob("*") if f.is_file())
    finally:
        prom.remove()


def failure_noted(run, *args) -> dict:
    """The results ``run(out, *args)`` put into ``out``; if it fails, those so far and a note of
    why (the other side and the other sizes still run)."""
    out: dict = {"notes": []}
    try:
        run(out, *args)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden: the note goes into every table
        traceback.print_exc()
        out["notes"].append(f"failed: {type(exc).__name__}: {str(exc)[:300]}")
    return out


def parse_sizes(text: str) -> list[int]:
    units = {"k": 1_000, "m": 1_000_000}
    return [int(float(s[:-1]) * units[s[-1].lower()]) if s[-1].lower() in units else int(s)
            for s in text.split(",") if s]


def check_resources(size: int, args) -> None:
    """Refuses to start a size the machine cannot hold (disk for our data; Prometheus runs after
    ours is removed and needs less)."""
    samples = size * 4 * (2 + args.steady_minutes + args.churn_minutes + args.maintenance_minutes)
    need = samples * 70 + 5 * 2**30  # head rows and their WAL, which checkpoints recycle past max_wal_size
    free = shutil.disk_usage("/tmp").free
    if free < need:
        raise SystemExit(f"{size:,} series need about {need / 2**30:.0f} GiB in /tmp, {free / 2**30:.0f} GiB free")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,1M", help="active series per size (k, M suffixes)")
    parser.add_argument("--steady-minutes", type=float, default=2)
    parser.add_argument("--churn-minutes", type=float, default=10, help="every pod is replaced every 10 minutes")
    parser.add_argument("--history-hours", type=float, default=6, help="history of the dashboard series")
    parser.add_argument("--maintenance-minutes", type=int, default=60,
                        help="minutes of every series written for the maintenance figure (0: skip)")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per query (the median is reported)")
    parser.add_argument("--senders", type=int, default=4, help="concurrent remote_write connections")
    parser.add_argument("--workers", type=int, default=2, help="connector worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per connector worker")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="time budget of our side per size (default 20 + 0.1 per 1,000 series)")
    parser.add_argument("--skip-prometheus", action="store_true")
    parser.add_argument("--json", action="store_true", help="also write the results to bench/results/")
    args = parser.parse_args()

    results = {}
    for size in parse_sizes(args.sizes):
        check_resources(size, args)
        budget_min = args.budget_minutes or 20 + size / 10_000
        size_started = time.monotonic()
        churn_rounds = int(args.churn_minutes * 60_000 // SCRAPE_MS)
        workload = Workload(size, generations=1 + math.ceil(churn_rounds / POD_LIFETIME_ROUNDS))
        timeline = Timeline.ending_at(int(time.time() * 1000) // SCRAPE_MS * SCRAPE_MS,
                                      history_rounds=int(args.history_hours * HOUR_MS // SCRAPE_MS),
                                      steady_rounds=int(args.steady_minutes * 60_000 // SCRAPE_MS),
                                      churn_rounds=churn_rounds)
        print(f"\n=== {size:,} series: {workload.hosts} hosts, {workload.pods} pods "
              f"({len(workload):,} series over all pod generations); budget {budget_min:.0f} min for ours")
        entry = {"size": size, "hosts": workload.hosts, "pods": workload.pods, "budget_min": budget_min,
                 "load_average_before": os.getloadavg()[0]}
        print("  ours")
        entry["ours"] = failure_noted(run_ours, workload, timeline, args, size_started + budget_min * 60)
        if not args.skip_prometheus:
            print("  Prometheus")
            entry["prometheus"] = failure_noted(run_prometheus, workload, timeline, args)
        entry["wall_s"] = time.monotonic() - size_started
        entry["load_average_after"] = os.getloadavg()[0]
        entry["generator_peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        results[size] = entry
        print_size(entry)
    print_curve(results)
    if args.json:
        out = ROOT / "bench" / "results" / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
        print(f"\nresults written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
