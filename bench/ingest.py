"""remote_write throughput, end to end: HTTP → connector → PostgreSQL, and the same load sent to
Prometheus's own remote-write receiver in the same run.

Load: node_exporter-like series (instances × metric families with their usual labels), every round a
fresh timestamp for every series, 2,000 samples per request (Prometheus's max_samples_per_send), several
concurrent senders. Requests are encoded before the clock starts, so the figures measure the receivers.

    make bench-ingest [BENCH_ARGS="--series 20000 --rounds 40 --senders 4 --step 15000"]

--ha leader: the connector runs --high-availability and every series carries the external labels of
one Prometheus of an HA pair (cluster, __replica__), the leader: the cost of the HA filter on the
leader's path. --ha pair: the follower sends the same load too, interleaved (its samples dropped);
the figure counts the samples of both. --ha labels: the leader's series, connector without the flag
(the labels stored as any others): the same load as --ha leader without the filter.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import numpy as np
import psycopg

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".", "bench")]

from remote_write_client import SAMPLES_PER_REQUEST, Request, RequestEncoder, encode_labels, send_all  # noqa: E402
from remote_write_client import build_requests as requests_for  # noqa: E402
from support.connector import ConnectorProcess  # noqa: E402
from support.postgres import remove_cluster, start_cluster  # noqa: E402
from support.prometheus import Prometheus  # noqa: E402

# (metric family, {label: values}) of a typical node_exporter; instances multiply them
FAMILIES = [
    ("node_cpu_seconds_total", {"cpu": [str(c) for c in range(8)],
                                "mode": ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]}),
    ("node_network_receive_bytes_total", {"device": ["eth0", "eth1", "lo", "docker0"]}),
    ("node_network_transmit_bytes_total", {"device": ["eth0", "eth1", "lo", "docker0"]}),
    ("node_filesystem_avail_bytes", {"device": ["/dev/sda1", "/dev/sdb1", "tmpfs"],
                                     "fstype": ["ext4"], "mountpoint": ["/", "/data", "/run"]}),
    ("node_disk_io_time_seconds_total", {"device": ["sda", "sdb", "nvme0n1"]}),
    ("node_memory_MemAvailable_bytes", {}),
    ("node_load1", {}),
    ("node_load5", {}),
    ("node_scrape_collector_duration_seconds", {"collector": [f"c{i}" for i in range(20)]}),
]


def label_sets(count: int) -> list[list[tuple[str, str]]]:
    per_instance = []
    for name, labels in FAMILIES:
        combos: list[dict[str, str]] = [{}]
        for key, values in labels.items():
            combos = [{**c, key: v} for c in combos for v in values]
        per_instance += [{"__name__": name, **c} for c in combos]
    sets = []
    instance = 0
    while len(sets) < count:
        for labels in per_instance:
            full = {**labels, "instance": f"host-{instance:05d}.example.com:9100", "job": "node"}
            sets.append(sorted(full.items()))
        instance += 1
    return sets[:count]


def encoded_labels(sets: list[list[tuple[str, str]]]) -> list[bytes]:
    return [encode_labels(labels) for labels in sets]


def build_requests(labels: list[bytes], rounds: int, start_ms: int, step_ms: int,
                   shards: int) -> list[list[Request]]:
    """Snappy-compressed WriteRequests, one ordered list per sender. Like Prometheus's shards, each
    sender owns a subset of the series and sends its samples in time order (receivers reject
    out-of-order samples); every round gives every series one fresh sample."""
    encoder = RequestEncoder()
    encoder.add(labels)
    per_shard = []
    for shard in range(shards):
        mine = np.arange(shard, len(labels), shards)
        r = np.repeat(np.arange(rounds), len(mine))
        within = np.tile(np.arange(len(mine)), rounds)  # the series' position in its shard
        per_shard.append(requests_for(encoder, np.tile(mine, rounds), start_ms + r * step_ms,
                                      (r * 7 + within % 13).astype(np.float64)))
    return per_shard


def sample_count(per_sender: list[list[Request]]) -> int:
    return sum(r.samples for requests in per_sender for r in requests)


def ha_labels(sets: list[list[tuple[str, str]]], replica: str) -> list[list[tuple[str, str]]]:
    return [sorted([*labels, ("cluster", "bench"), ("__replica__", replica)]) for labels in sets]


def interleaved(first: list[list[Request]], second: list[list[Request]]) -> list[list[Request]]:
    """Each sender sends its requests of ``first`` and ``second`` in turn."""
    return [[r for pair in zip(a, b) for r in pair] for a, b in zip(first, second)]


def bench_promscale(labels, args, start_ms, follower_labels=None) -> tuple[float, int]:
    cluster = start_cluster({"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
    try:
        cluster.create_promscale_database("promscale")
        with ConnectorProcess(cluster.uri("promscale", "promscale"), workers=args.workers, threads=args.threads,
                              extra_args=["--high-availability"] if args.ha in ("leader", "pair") else []
                              ) as connector:
            url = connector.url + "/write"
            # the first round creates the series (and the HA lease); time only the steady state that follows
            send_all(url, build_requests(labels, 1, start_ms - args.step, args.step, args.senders))
            timed = build_requests(labels, args.rounds, start_ms, args.step, args.senders)
            if follower_labels is not None:
                timed = interleaved(timed, build_requests(follower_labels, args.rounds, start_ms + 1, args.step,
                                                          args.senders))
            elapsed = send_all(url, timed)
        with psycopg.connect(cluster.uri("promscale"), autocommit=True) as conn:
            stored = conn.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0]
        expected = len(labels) * (args.rounds + 1)
        if stored != expected:
            raise RuntimeError(f"stored {stored} samples, sent {expected}")
        return elapsed, sample_count(timed)
    finally:
        remove_cluster(cluster)


def bench_prometheus(labels, args, start_ms) -> tuple[float, int]:
    prom = Prometheus("global: {scrape_interval: 1h}\n", ["--web.enable-remote-write-receiver"])
    prom.start()
    try:
        url = prom.url + "/api/v1/write"
        send_all(url, build_requests(labels, 1, start_ms - args.step, args.step, args.senders))
        timed = build_requests(labels, args.rounds, start_ms, args.step, args.senders)
        elapsed = send_all(url, timed)
        metrics = urlopen(prom.url + "/metrics", timeout=30).read().decode()
        appended = sum(float(line.split()[-1]) for line in metrics.splitlines()
                       if line.startswith("prometheus_tsdb_head_samples_appended_total"))
        if appended < len(labels) * (args.rounds + 1):
            raise RuntimeError(f"Prometheus appended {appended} samples of {len(labels) * (args.rounds + 1)}")
        return elapsed, sample_count(timed)
    finally:
        prom.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=60, help="timed rounds (one sample per series each)")
    parser.add_argument("--step", type=int, default=1000,
                        help="ms between rounds; 15000 over 80 rounds crosses the 20-minute activity bounds once")
    parser.add_argument("--senders", type=int, default=4, help="concurrent HTTP connections")
    parser.add_argument("--workers", type=int, default=2, help="connector worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per connector worker")
    parser.add_argument("--skip-prometheus", action="store_true")
    parser.add_argument("--ha", choices=["leader", "pair", "labels"],
                        help="series of a Prometheus HA pair, the connector with --high-availability "
                             "(leader: the leader's load only; pair: the follower's too; labels: the "
                             "leader's load, connector without the flag)")
    args = parser.parse_args()

    sets = label_sets(args.series)
    follower = None
    if args.ha:
        follower = encoded_labels(ha_labels(sets, "prom-b")) if args.ha == "pair" else None
        sets = ha_labels(sets, "prom-a")
    labels = encoded_labels(sets)
    # Prometheus accepts samples only near its head: end the data at "now"
    start_ms = int(time.time() * 1000) - (args.rounds + 1) * args.step
    print(f"load: {args.series} series, {args.rounds} rounds, {SAMPLES_PER_REQUEST} samples/request, "
          f"{args.senders} senders; connector {args.workers} workers x {args.threads} threads"
          + (f"; HA {args.ha}" if args.ha else ""))
    ours_s, ours_n = bench_promscale(labels, args, start_ms, follower)
    ours = ours_n / ours_s
    print(f"promscale  : {ours_n} samples in {ours_s:.2f}s = {ours:,.0f} samples/s")
    if not args.skip_prometheus:
        prom_s, prom_n = bench_prometheus(labels, args, start_ms)
        prom = prom_n / prom_s
        print(f"prometheus : {prom_n} samples in {prom_s:.2f}s = {prom:,.0f} samples/s")
        print(f"ratio promscale/prometheus: {ours / prom:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
