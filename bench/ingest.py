"""remote_write throughput, end to end: HTTP → connector → PostgreSQL, and the same load sent to
Prometheus's own remote-write receiver in the same run.

Load: node_exporter-like series (instances × metric families with their usual labels), every round a
fresh timestamp for every series, 2,000 samples per request (Prometheus's max_samples_per_send), several
concurrent senders. Requests are encoded before the clock starts, so the figures measure the receivers.

    make bench-ingest [BENCH_ARGS="--series 20000 --rounds 40 --senders 4 --step 15000"]
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import psycopg
import snappy

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / p) for p in ("tests", "tools", ".")]

from support.connector import ConnectorProcess  # noqa: E402
from support.postgres import remove_cluster, start_cluster  # noqa: E402
from support.prometheus import Prometheus  # noqa: E402

HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}
SAMPLES_PER_REQUEST = 2000

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


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


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
    return [b"".join(field(1, field(1, k.encode()) + field(2, v.encode())) for k, v in labels) for labels in sets]


def build_requests(labels: list[bytes], rounds: int, start_ms: int, step_ms: int,
                   shards: int) -> list[list[tuple[bytes, int]]]:
    """Snappy-compressed WriteRequests, one ordered list per sender. Like Prometheus's shards, each
    sender owns a subset of the series and sends its samples in time order (receivers reject
    out-of-order samples); every round gives every series one fresh sample."""
    import struct

    per_shard = []
    for shard in range(shards):
        mine = labels[shard::shards]
        stream = [(label_bytes, r, i) for r in range(rounds) for i, label_bytes in enumerate(mine)]
        requests = []
        for first in range(0, len(stream), SAMPLES_PER_REQUEST):
            parts = []
            for label_bytes, r, i in stream[first:first + SAMPLES_PER_REQUEST]:
                sample = b"\x09" + struct.pack("<d", float(r * 7 + i % 13)) + b"\x10" + varint(start_ms + r * step_ms)
                parts.append(field(1, label_bytes + field(2, sample)))
            requests.append((snappy.compress(b"".join(parts)), len(parts)))
        per_shard.append(requests)
    return per_shard


def send_all(url: str, per_sender: list[list[tuple[bytes, int]]]) -> float:
    """Seconds to deliver every request, one keep-alive connection per sender, each in order."""
    parts = urlsplit(url)
    failures: list[str] = []

    def sender(requests: list[tuple[bytes, int]]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        for body, _ in requests:
            if failures:
                break
            conn.request("POST", parts.path, body=body, headers=HEADERS)
            response = conn.getresponse()
            text = response.read()
            if response.status // 100 != 2:
                failures.append(f"{response.status} {text[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=sender, args=(requests,)) for requests in per_sender]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{url}: {len(failures)} failed requests, first: {failures[0]}")
    return elapsed


def sample_count(per_sender: list[list[tuple[bytes, int]]]) -> int:
    return sum(n for requests in per_sender for _, n in requests)


def bench_promscale(labels, args, start_ms) -> tuple[float, int]:
    cluster = start_cluster({"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"})
    try:
        cluster.create_promscale_database("promscale")
        with ConnectorProcess(cluster.uri("promscale", "promscale"), workers=args.workers,
                              threads=args.threads) as connector:
            url = connector.url + "/write"
            # the first round creates the series; time only the steady state that follows
            send_all(url, build_requests(labels, 1, start_ms - args.step, args.step, args.senders))
            timed = build_requests(labels, args.rounds, start_ms, args.step, args.senders)
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
    args = parser.parse_args()

    labels = encoded_labels(label_sets(args.series))
    # Prometheus accepts samples only near its head: end the data at "now"
    start_ms = int(time.time() * 1000) - (args.rounds + 1) * args.step
    print(f"load: {args.series} series, {args.rounds} rounds, {SAMPLES_PER_REQUEST} samples/request, "
          f"{args.senders} senders; connector {args.workers} workers x {args.threads} threads")
    ours_s, ours_n = bench_promscale(labels, args, start_ms)
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
