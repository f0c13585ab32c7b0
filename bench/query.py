"""Query latency, ours and Prometheus 2.42's on identical data (make bench-query).

1,000 series x 6 h at 15 s are pushed by remote_write to the connector (gunicorn,
PostgreSQL with the extension) and to a Prometheus started with the remote-write
receiver, in 10-minute time slices so both append in time order (Prometheus's head
also gets out_of_order_time_window: 1d, so nothing is rejected as too old). Then
maintenance runs once (as the connector's scheduler does every minute: the closed head
partitions are flushed, the closed buckets compacted; Prometheus compacts its head too),
and typical dashboard queries run as query_range over the last 1 h and 6 h, each
several times; the median latency of each side and the ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT), str(ROOT / "tools")]

from support.postgres import remove_cluster, start_cluster  # noqa: E402
from support.processes import connector, prometheus  # noqa: E402
from support.remote_write import HEADERS, encode, write_request  # noqa: E402

STEP_MS = 15_000
LES = ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"]
QUERIES = {
    "rate": "rate(http_requests_total[5m])",
    "sum by": "sum by (job) (rate(http_requests_total[5m]))",
    "histogram_quantile": "histogram_quantile(0.9, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))",
    "topk": "topk(5, node_temperature)",
    "avg_over_time": "avg_over_time(node_temperature[10m])",
    "subquery": "max_over_time(rate(http_requests_total[5m])[30m:1m])",
}
# Grafana asks for about 250-1000 points; these are the steps it picks for these ranges
RANGES = {"1h": (3600, 15), "6h": (6 * 3600, 60)}
PROMETHEUS_CONFIG = "global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 1d\n"


def series_labels() -> list[dict[str, str]]:
    out = []
    for j in range(5):
        for i in range(20):
            base = {"job": f"job{j}", "instance": f"host{i}:9100"}
            out += [{"__name__": "http_requests_total", "code": c, **base} for c in ("200", "500")]
            out += [{"__name__": "request_duration_seconds_bucket", "le": le, **base} for le in LES]
            out.append({"__name__": "node_temperature", **base})
    return out


def generate(labels: list[dict[str, str]], points: int, rng: np.random.Generator) -> np.ndarray:
    """values[series, point]: counters increase, buckets are cumulative, gauges wander."""
    values = np.empty((len(labels), points))
    increments = rng.integers(0, 10, size=(len(labels), points)).astype(float)
    for k, lab in enumerate(labels):
        if lab["__name__"] == "node_temperature":
            values[k] = 40 + np.cumsum(rng.normal(0, 0.5, points))
        else:
            values[k] = np.cumsum(increments[k])
    # make buckets cumulative across le within each (job, instance)
    for k, lab in enumerate(labels):
        if lab["__name__"] == "request_duration_seconds_bucket" and lab["le"] != LES[0]:
            values[k] += values[k - 1]
    return values


def push_all(urls: list[str], labels, values, start_ms: int, slice_points: int = 40) -> float:
    pushed = time.perf_counter()
    points = values.shape[1]
    for lo in range(0, points, slice_points):
        hi = min(points, lo + slice_points)
        times = [start_ms + STEP_MS * p for p in range(lo, hi)]
        body = encode(write_request(
            (lab, list(zip(times, values[k, lo:hi].tolist()))) for k, lab in enumerate(labels)))
        for url in urls:
            r = requests.post(url, data=body, headers=HEADERS, timeout=300)
            if r.status_code != 204:
                raise SystemExit(f"{url} answered {r.status_code}: {r.text[:300]}")
    return time.perf_counter() - pushed


def timed(url: str, params: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    r = requests.get(url + "/api/v1/query_range", params=params, timeout=600)
    elapsed = time.perf_counter() - started
    body = r.json()
    if body.get("status") != "success":
        raise SystemExit(f"{url}: {params['query']}: {body}")
    return elapsed, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-maintenance", dest="maintenance", action="store_false",
                        help="skip prom_api.execute_maintenance() after the push (by default it runs, as the "
                             "connector's scheduler does every minute: flushes the closed head partitions, "
                             "compacts the closed buckets)")
    parser.add_argument("--chunk-interval", help="prom_api.set_default_chunk_interval() before the push, e.g. '10 minutes'")
    args = parser.parse_args()
    points = int(args.hours * 3600_000 / STEP_MS)
    now_ms = int(time.time()) // 60 * 60 * 1000
    start_ms = now_ms - points * STEP_MS
    labels = series_labels()
    values = generate(labels, points, np.random.default_rng(1))
    print(f"data: {len(labels)} series x {points} points ({len(labels) * points:,} samples), 15 s apart")

    cluster = start_cluster({"shared_buffers": "1GB", "work_mem": "64MB"})
    try:
        with psycopg.connect(cluster.uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        with psycopg.connect(cluster.uri("bench"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION promscale CASCADE")
            conn.execute("CREATE ROLE promscale_writer LOGIN IN ROLE prom_writer")
            if args.chunk_interval:
                conn.execute("SELECT prom_api.set_default_chunk_interval(%s)", (args.chunk_interval,))
        with connector(cluster.uri("bench", "promscale_writer"), "--workers", "2") as ours, \
                prometheus(PROMETHEUS_CONFIG, "--web.enable-remote-write-receiver") as prom:
            seconds = push_all([ours + "/write", prom + "/api/v1/write"], labels, values, start_ms)
            print(f"pushed to both in {seconds:.1f} s")
            with psycopg.connect(cluster.uri("bench"), autocommit=True) as conn:
                if args.maintenance:
                    started = time.perf_counter()
                    conn.execute("CALL prom_api.execute_maintenance(log_steps => false)")
                    print(f"maintenance (flush, compaction) in {time.perf_counter() - started:.1f} s")
                storage = conn.execute("SELECT string_agg(format('%s %s', tier, samples), ', ' ORDER BY tier DESC) "
                                       "FROM prom_info.storage").fetchone()[0]
                print(f"samples stored: {storage}")
                conn.execute("ANALYZE")
            print(f"{'query':<20} {'range':>5} {'step':>5} {'series':>6} {'ours ms':>9} {'prom ms':>9} {'ratio':>7}")
            ratios = []
            for name, query in QUERIES.items():
                for range_name, (span, step) in RANGES.items():
                    params = {"query": query, "start": str((now_ms / 1000) - span), "end": str(now_ms / 1000),
                              "step": str(step)}
                    timed(ours, params)  # warm the session's module cache
                    timed(prom, params)
                    ours_s = [timed(ours, params)[0] for _ in range(args.repeat)]
                    prom_s, body = zip(*(timed(prom, params) for _ in range(args.repeat)))
                    ours_ms, prom_ms = statistics.median(ours_s) * 1000, statistics.median(prom_s) * 1000
                    ratios.append(ours_ms / prom_ms)
                    print(f"{name:<20} {range_name:>5} {step:>4}s {len(body[0]['data']['result']):>6} "
                          f"{ours_ms:>9.1f} {prom_ms:>9.1f} {ours_ms / prom_ms:>7.1f}")
            print(f"geometric mean ratio (ours / Prometheus): {statistics.geometric_mean(ratios):.1f}")
    finally:
        remove_cluster(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
