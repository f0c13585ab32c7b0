"""A day of node_exporter-like scrapes: the dataset of `make bench-storage`.

Each target exposes 94 series, scraped every 15 s with a few milliseconds of timestamp
jitter (normal, σ = 2 ms; all series of a target share the scrape time, as in Prometheus):

- 32 CPU-seconds counters (4 CPUs × 8 modes, 0.01 s resolution; irq, nice, steal stay 0),
- memory and filesystem gauges moving in 4 KiB pages, constant sizes and inode counts,
- network byte counters and their (zero) error and drop counters, a load average, a disk-time
  counter (ms resolution), boot time, the node's clock (ns resolution),
- a request-latency histogram (6 buckets, `_sum` as a full-precision float sum, `_count`),
- 10 collectors' success flags and durations (ns resolution), process and Go runtime metrics,
  `up` and `scrape_duration_seconds` (ns resolution).

Values are what the exporters print: decimals of their native resolution (Go computes durations
as float64(nanoseconds) / 1e9), counters that only grow, gauges that wander.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCRAPE_MS = 15_000
BUCKETS = ["0.01", "0.05", "0.1", "0.5", "1", "+Inf"]
BUCKET_BOUNDS = [0.01, 0.05, 0.1, 0.5, 1.0, np.inf]
SERIES_PER_TARGET = 94


@dataclass
class Series:
    labels: dict[str, str]
    times_ms: np.ndarray
    values: np.ndarray


def _walk(rng: np.random.Generator, n: int, start: float, step: float, change_share: float) -> np.ndarray:
    moves = rng.normal(0, step, n) * (rng.random(n) < change_share)
    return start + np.cumsum(moves)


def target_series(rng: np.random.Generator, instance: str, start_ms: int, n: int, jitter_ms: float = 2.0) -> list[Series]:
    times = start_ms + rng.integers(0, SCRAPE_MS) + np.arange(n, dtype=np.int64) * SCRAPE_MS
    times = times + np.round(rng.normal(0, jitter_ms, n)).astype(np.int64)  # scrape jitter, ms
    base = {"instance": instance, "job": "node"}
    out: list[Series] = []

    def add(name: str, values: np.ndarray, **labels: str) -> None:
        out.append(Series({"__name__": name, **base, **labels}, times, values.astype(np.float64)))

    busy = rng.uniform(0.05, 0.4)
    for cpu in range(4):
        share = {"idle": 1 - busy, "iowait": 0.01, "irq": 0.0, "nice": 0.0, "softirq": 0.005, "steal": 0.0,
                 "system": busy * 0.3, "user": busy * 0.7}
        for mode, fraction in share.items():
            ticks = rng.poisson(fraction * 1500, n) if fraction else np.zeros(n, dtype=np.int64)
            start_ticks = rng.integers(10**6, 10**8) if fraction else 0
            add("node_cpu_seconds_total", (start_ticks + np.cumsum(ticks)) / 100.0, cpu=str(cpu), mode=mode)
    page = 4096.0
    total_mem = float(rng.choice([8, 16, 32, 64])) * 2**30
    add("node_memory_MemTotal_bytes", np.full(n, total_mem))
    add("node_memory_MemAvailable_bytes",
        np.clip(np.round(_walk(rng, n, total_mem * 0.6 / page, 2000, 0.9)), 1, total_mem / page) * page)
    for mount, size_gb in (("/", 100), ("/data", 2000)):
        size = size_gb * 1e9 // page * page
        add("node_filesystem_size_bytes", np.full(n, size), mountpoint=mount, fstype="ext4")
        add("node_filesystem_avail_bytes",
            np.round(_walk(rng, n, size * 0.5 / page, 300, 0.3)) * page, mountpoint=mount, fstype="ext4")
    for device, rate in (("eth0", 2e5), ("lo", 3e3)):
        add("node_network_receive_bytes_total", rng.integers(10**9, 10**11) + np.cumsum(rng.poisson(rate, n)),
            device=device)
        add("node_network_transmit_bytes_total", rng.integers(10**9, 10**11) + np.cumsum(rng.poisson(rate / 2, n)),
            device=device)
    for device in ("eth0", "lo"):
        for kind in ("receive_errs", "receive_drop", "transmit_errs", "transmit_drop"):
            add(f"node_network_{kind}_total", np.zeros(n), device=device)
    for mount in ("/", "/data"):
        inodes = float(rng.integers(10**6, 10**8))
        add("node_filesystem_files", np.full(n, inodes), mountpoint=mount, fstype="ext4")
        add("node_filesystem_files_free", np.round(_walk(rng, n, inodes * 0.9, 20, 0.2)), mountpoint=mount,
            fstype="ext4")
        add("node_filesystem_readonly", np.zeros(n), mountpoint=mount, fstype="ext4")
    add("node_boot_time_seconds", np.full(n, float(start_ms // 1000 - rng.integers(10**5, 10**7))))
    add("node_time_seconds", np.round((times + rng.integers(0, 5_000_000, n) / 1e6) / 1000.0, 9))
    for c in range(10):
        add("node_scrape_collector_success", np.ones(n), collector=f"c{c}")
        add("node_scrape_collector_duration_seconds", np.round(rng.lognormal(-7, 0.5, n), 9), collector=f"c{c}")
    add("process_cpu_seconds_total", (rng.integers(10**4, 10**6) + np.cumsum(rng.poisson(2, n))) / 100.0)
    add("process_resident_memory_bytes", np.round(_walk(rng, n, 20e6 / page, 30, 0.5)) * page)
    add("go_goroutines", np.round(np.abs(_walk(rng, n, 8, 1, 0.3))))
    add("go_memstats_alloc_bytes", np.round(np.abs(_walk(rng, n, 3e6, 2e5, 1.0))))
    add("node_load1", np.round(np.abs(_walk(rng, n, 1.0, 0.05, 1.0)), 2))
    add("node_disk_io_time_seconds_total", (rng.integers(10**6, 10**8) + np.cumsum(rng.poisson(150, n))) / 1000.0,
        device="sda")
    requests = rng.poisson(20, n)
    latencies = [rng.lognormal(-3.5, 1.2, k) for k in requests]
    per_bucket = np.array([[np.count_nonzero(lat <= bound) for bound in BUCKET_BOUNDS] for lat in latencies])
    for le, column in zip(BUCKETS, per_bucket.T):
        add("http_request_duration_seconds_bucket", np.cumsum(column), handler="/api", le=le)
    add("http_request_duration_seconds_sum", np.cumsum([lat.sum() for lat in latencies]), handler="/api")
    add("http_request_duration_seconds_count", np.cumsum(requests), handler="/api")
    add("up", np.ones(n))
    add("scrape_duration_seconds", np.round(0.01 + rng.exponential(0.004, n), 9))
    assert len(out) == SERIES_PER_TARGET
    return out


def dataset(series: int, start_ms: int, samples_per_series: int, seed: int = 1, jitter_ms: float = 2.0) -> list[Series]:
    rng = np.random.default_rng(seed)
    targets = -(-series // SERIES_PER_TARGET)
    out: list[Series] = []
    for t in range(targets):
        out += target_series(rng, f"host-{t:04d}:9100", start_ms, samples_per_series, jitter_ms)
    return out
