"""Series resolution latency against the size of the catalog (make bench-series).

For each catalog size (built in SQL: tests/support/scale_catalog.py), resolve batches of 2,000
node_exporter-like label sets through prom_api.get_or_create_series_ids(bytea[]), the call the
connector makes for the series its cache lacks: first as new series (created), then the same
batch again (all existing, as for a connector whose cache is cold). Prints the median and best
latency of each, and the backend's CPU time per call (steadier than wall time on a shared
machine). The issue's targets: 2,000 existing <= 20 ms, 2,000 new <= 100 ms, at any size.

    make bench-series [BENCH_ARGS="--sizes 10000,1000000 --batches 10"]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT), str(ROOT / "tools")]

from pyconnector.prometheus.remote_write import canonical_label_set  # noqa: E402
from support.postgres import remove_cluster, start_cluster  # noqa: E402
from support.scale_catalog import build_catalog  # noqa: E402

BATCH = 2000
CPU_TICK = os.sysconf("SC_CLK_TCK")


def node_label_sets(batch: int) -> list[dict[str, str]]:
    """2,000 label sets of ~23 node_exporter hosts, new for every batch number."""
    out: list[dict[str, str]] = []
    host = 0
    while len(out) < BATCH:
        instance = f"bench-{batch}-{host}.example.com:9100"
        base = {"instance": instance, "job": "node"}
        for cpu in range(8):
            for mode in ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"):
                out.append({"__name__": "node_cpu_seconds_total", **base, "cpu": str(cpu), "mode": mode})
        for device in ("eth0", "eth1", "lo"):
            for metric in ("receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets"):
                out.append({"__name__": f"node_network_{metric}_total", **base, "device": device})
        for mount in ("/", "/boot", "/var", "/home"):
            for metric in ("size", "avail", "free"):
                out.append({"__name__": f"node_filesystem_{metric}_bytes", **base, "mountpoint": mount,
                            "device": "sda" + mount.replace("/", "_"), "fstype": "ext4"})
        host += 1
    return out[:BATCH]


def backend_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CPU_TICK


def measure(conn: psycopg.Connection, batches: int) -> dict[str, list[float]]:
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    out: dict[str, list[float]] = {"new": [], "existing": [], "new_cpu": [], "existing_cpu": []}
    for b in range(batches):
        label_sets = [canonical_label_set(sorted(ls.items())) for ls in node_label_sets(b)]
        for kind in ("new", "existing"):
            cpu = backend_cpu_s(pid)
            started = time.perf_counter()
            ids = conn.execute("SELECT prom_api.get_or_create_series_ids(%b::bytea[])", (label_sets,)).fetchone()[0]
            out[kind].append((time.perf_counter() - started) * 1000)
            out[kind + "_cpu"].append((backend_cpu_s(pid) - cpu) * 1000)
            assert len(ids) == BATCH and None not in ids
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="catalog sizes (series), comma-separated")
    parser.add_argument("--batches", type=int, default=10, help="batches of 2,000 label sets per size")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cluster = start_cluster({"shared_buffers": "1GB"})
    try:
        print(f"{'catalog':>10} | {'2,000 new: median / best ms':>28} | {'2,000 existing: median / best ms':>33} | "
              f"backend CPU ms per call (new / existing)")
        for size in sizes:
            dbname = f"series_{size}"
            with psycopg.connect(cluster.uri("postgres"), autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {dbname}")
            with psycopg.connect(cluster.uri(dbname), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION promscale CASCADE")
                build_catalog(conn, n_series=size, hosts=max(size // 100, 1), extra_metrics=0)
                conn.execute("SELECT prom_api.get_or_create_series_ids(%b::bytea[])",
                             ([canonical_label_set([("__name__", "warm_up")])],))  # session start-up, not measured
                r = measure(conn, args.batches)
            print(f"{size:>10,} | {statistics.median(r['new']):>18.1f} / {min(r['new']):>6.1f} | "
                  f"{statistics.median(r['existing']):>23.1f} / {min(r['existing']):>6.1f} | "
                  f"{statistics.mean(r['new_cpu']):.0f} / {statistics.mean(r['existing_cpu']):.0f}", flush=True)
            with psycopg.connect(cluster.uri("postgres"), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {dbname}")
    finally:
        remove_cluster(cluster)
    return 0


if __name__ == "__main__":
    sys.exit(main())
