"""Label, label-values and series lookups, ours and Prometheus 2.42's on identical data
(make bench-labels).

node_exporter-like series (bench/ingest.py's label sets: ~107 series per instance) are pushed by
remote_write to the connector and to a Prometheus with the remote-write receiver: every series
3 hours ago, and nine in ten of them again a minute ago (the tenth stopped: a range over the
last hour must leave them out). Then the lookups Grafana makes (variable queries, the query
editor's label browser) run over the open range and over the last hour, each several times;
the median latency of each side and the ratio are printed, and whether the answers agree.

    make bench-labels [BENCH_ARGS="--series 100000 --repeat 20"]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT), str(ROOT / "tools")]

from bench.ingest import build_requests, encoded_labels, label_sets, send_all  # noqa: E402
from support.postgres import remove_cluster, start_cluster  # noqa: E402
from support.processes import connector, prometheus  # noqa: E402

PROMETHEUS_CONFIG = "global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 1d\n"
INSTANCE = "host-00007.example.com:9100"
CPU = f'node_cpu_seconds_total{{instance="{INSTANCE}"}}'
# (name, path, params): Grafana's label browser, variable queries and series lookups
LOOKUPS = [
    ("(no lookup: status/buildinfo)", "status/buildinfo", {}),  # the HTTP floor of each side
    ("label names", "labels", {}),
    ("label names, match[] 64 series", "labels", {"match[]": CPU}),
    ("instance values", "label/instance/values", {}),
    ("__name__ values", "label/__name__/values", {}),
    ("cpu values, match[] 64 series", "label/cpu/values", {"match[]": CPU}),
    ("instance values, match[] node_load1", "label/instance/values", {"match[]": "node_load1"}),
    ("series, one instance (107)", "series", {"match[]": f'{{instance="{INSTANCE}"}}'}),
    ("series node_load1 (1 per instance)", "series", {"match[]": "node_load1"}),
    # a metric's label names, as Grafana's query builder asks once a metric is picked, and a
    # label_values(metric, label) variable: 64 series per instance
    ("label names, match[] node_cpu_seconds_total", "labels", {"match[]": "node_cpu_seconds_total"}),
    ("cpu values, match[] node_cpu_seconds_total", "label/cpu/values", {"match[]": "node_cpu_seconds_total"}),
    ("series node_cpu_seconds_total (64 per instance)", "series", {"match[]": "node_cpu_seconds_total"}),
]


def push(urls: list[str], labels: list[bytes], now_ms: int) -> float:
    started = time.perf_counter()
    live = labels[: len(labels) * 9 // 10]
    for url in urls:
        send_all(url, build_requests(labels, 1, now_ms - 3 * 3600_000, 1000, 4))
        send_all(url, build_requests(live, 1, now_ms - 60_000, 1000, 4))
    return time.perf_counter() - started


def timed(url: str, path: str, params: dict) -> tuple[float, str]:
    started = time.perf_counter()
    r = requests.get(f"{url}/api/v1/{path}", params=params, timeout=600)
    elapsed = time.perf_counter() - started
    if r.status_code != 200:
        raise SystemExit(f"{url}/api/v1/{path} {params}: {r.status_code} {r.text[:300]}")
    return elapsed, r.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    labels = encoded_labels(label_sets(args.series))
    now_ms = int(time.time() * 1000)
    windows = {"open": {}, "1h": {"start": str(now_ms / 1000 - 3600), "end": str(now_ms / 1000)}}
    print(f"data: {len(labels):,} series, a tenth of them stopped 3 h ago")

    cluster = start_cluster({"shared_buffers": "1GB"})
    try:
        cluster.create_promscale_database("bench")
        with connector(cluster.uri("bench", "promscale"), "--workers", "2") as ours, \
                prometheus(PROMETHEUS_CONFIG, "--web.enable-remote-write-receiver") as prom:
            print(f"pushed to both in {push([ours + '/write', prom + '/api/v1/write'], labels, now_ms):.0f} s")
            with psycopg.connect(cluster.uri("bench"), autocommit=True) as conn:
                conn.execute("ANALYZE")
            print(f"{'lookup':<48} {'range':>5} {'answer':>7} {'ours ms':>8} {'prom ms':>8} {'ratio':>6}  answers")
            ratios = []
            for name, path, params in LOOKUPS:
                for window, bounds in windows.items():
                    query = {**params, **bounds}
                    for _ in range(16):  # every connector thread's database session warm
                        timed(ours, path, query)
                    timed(prom, path, query)
                    ours_s, ours_body = zip(*(timed(ours, path, query) for _ in range(args.repeat)))
                    prom_s, prom_body = zip(*(timed(prom, path, query) for _ in range(args.repeat)))
                    ours_ms, prom_ms = statistics.median(ours_s) * 1000, statistics.median(prom_s) * 1000
                    if path != "status/buildinfo":
                        ratios.append(ours_ms / prom_ms)
                    size = len(requests.get(f"{ours}/api/v1/{path}", params=query, timeout=600).json()["data"])
                    same = "same" if ours_body[0] == prom_body[0] else "differ"
                    print(f"{name:<48} {window:>5} {size:>7} {ours_ms:>8.1f} {prom_ms:>8.1f} {ours_ms / prom_ms:>6.1f}  {same}")
            print(f"geometric mean ratio (ours / Prometheus): {statistics.geometric_mean(ratios):.1f}; "
                  f"worst {max(ratios):.1f}")
    finally:
        remove_cluster(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
