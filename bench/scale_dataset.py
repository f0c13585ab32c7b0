"""The workload of `make bench-scale`: node_exporter hosts plus Kubernetes pods that churn.

Half of the active series are node_exporter series of hosts, half are pod series:

- a **host** (``instance="host-00042:9100"``, ``job="node"``) has, drawn per host: 2–32 CPUs
  (``node_cpu_seconds_total`` cpu × 8 modes, guest seconds, frequency), 2–4 network devices
  (bytes, packets, errors, drops, up, MTU, info), 1–4 disks, 4–6 filesystems (device, fstype,
  mountpoint), 15 memory gauges, load, the usual single series (uname, boot time, context
  switches, …), 12 collectors' success and duration, ``up`` and the scrape series: ~250 series;
- a **pod** (``namespace``, ``pod``, ``node``, ``container``; cAdvisor's series from the node's
  kubelet, ``instance="host-00042:10250"``, and kube-state-metrics' series) has 1–3 containers
  × 8 series plus 5 pod series: ~21 series. Namespace ``monitoring`` holds pods 0–9 at every
  size; the other pods spread over 19 namespaces and run on the hosts round-robin.

Every pod is replaced every 10 minutes (``POD_LIFETIME_ROUNDS``) during the churn phase: the new
pod has a new name (and uid, IP), so all its series are new; the old series get a stale marker
at the scrape where they disappear, as Prometheus writes. Replacements are spread evenly over
the 10 minutes.

Samples carry what a scrape produces: all series of one target (a host's node_exporter, its
kubelet, kube-state-metrics) share a timestamp, at the target's own offset within the 15 s
interval plus a few ms of jitter; counters grow at a per-series rate, gauges wander around a
level, constants stay; values are rounded to what exporters print (0.01 s CPU time, 4 KiB pages,
whole bytes, ns durations). Everything is deterministic from (seed, round), so both receivers
get identical bytes; host ``i`` and pod ``i`` are the same at every size (their own random
streams), so the dashboard series (hosts 0 and 1, namespace ``monitoring``) are the same set
at 10,000, 100,000 and 1,000,000 series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from remote_write_client import RequestEncoder, encode_label

SCRAPE_MS = 15_000
POD_LIFETIME_ROUNDS = 40  # 10 minutes of 15 s scrapes
DASHBOARD_HOSTS = 2
MONITORING_PODS = 10
STALE_NAN = np.frombuffer(np.uint64(0x7FF0000000000002).tobytes(), dtype=np.float64)[0]

COUNTER, GAUGE, CONSTANT = 0, 1, 2
# exporters print counters and gauges at these resolutions (the value is floor(x * div / mul) * mul / div)
SECONDS_CS, SECONDS_MS, SECONDS_NS, WHOLE, PAGES = (100, 1), (1000, 1), (10**9, 1), (1, 1), (1, 4096)
NODE_CPU_MODES = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
MEMORY = ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree", "Active",
          "Inactive", "Dirty", "Writeback", "Slab", "SReclaimable", "Shmem", "Mapped"]
NAMESPACES = ["monitoring"] + [f"ns-{i:02d}" for i in range(1, 20)]
CONTAINERS = ["app", "istio-proxy", "log-shipper"]


@dataclass
class _Series:
    """Series being defined: encoded labels and the parameters of their values (one list entry per series)."""
    labels: list[bytes] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    base: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)  # counters: per second; gauges: amplitude
    div: list[int] = field(default_factory=list)
    mul: list[int] = field(default_factory=list)
    target: list[int] = field(default_factory=list)
    period: list[float] = field(default_factory=list)  # gauges: rounds of one cycle
    phase: list[float] = field(default_factory=list)
    encoded: dict[tuple[str, str], bytes] = field(default_factory=dict)  # Label fields; most pairs repeat

    def extend(self, other: _Series, keep: int | None = None) -> None:
        """Appends the first ``keep`` series of ``other`` (all if None)."""
        for name in _LIST_FIELDS:
            getattr(self, name).extend(getattr(other, name)[:keep])

    def add(self, rng: np.random.Generator, target: int, base_labels: dict[str, str], metric: str, kind: int,
            level: float, resolution: tuple[int, int] = WHOLE, **labels: str) -> None:
        pairs = sorted({"__name__": metric, **base_labels, **labels}.items())
        self.labels.append(b"".join(self.encoded.get(p) or self.encoded.setdefault(p, encode_label(*p)) for p in pairs))
        self.kind.append(kind)
        spread = rng.uniform(0.5, 1.5)
        if kind == COUNTER:  # level: typical increase per second
            self.rate.append(level * spread)
            self.base.append(level * spread * rng.uniform(1e4, 1e6))
        else:  # level: typical value
            self.base.append(level * spread)
            self.rate.append(0.0 if kind == CONSTANT else level * spread * rng.uniform(0.01, 0.2))
        self.div.append(resolution[0])
        self.mul.append(resolution[1])
        self.target.append(target)
        self.period.append(rng.uniform(120, 960))  # 30 min to 4 h
        self.phase.append(rng.uniform(0, 2 * np.pi))


_LIST_FIELDS = ("labels", "kind", "base", "rate", "div", "mul", "target", "period", "phase")


def _host(out: _Series, host: int, seed: int) -> None:
    rng = np.random.default_rng([seed, 1, host])
    base = {"instance": f"host-{host:05d}:9100", "job": "node"}

    def add(metric: str, kind: int, level: float, resolution: tuple[int, int] = WHOLE, **labels: str) -> None:
        out.add(rng, host, base, metric, kind, level, resolution, **labels)

    cpus = int(rng.choice([2, 4, 8, 16, 32], p=[0.1, 0.3, 0.35, 0.2, 0.05]))
    for cpu in range(cpus):
        for mode in NODE_CPU_MODES:
            busy = {"idle": 0.7, "user": 0.2, "system": 0.06, "iowait": 0.02, "softirq": 0.01}.get(mode, 0.0)
            add("node_cpu_seconds_total", COUNTER if busy else CONSTANT, busy, SECONDS_CS, cpu=str(cpu), mode=mode)
        for mode in ("nice", "user"):
            add("node_cpu_guest_seconds_total", CONSTANT, 0.0, SECONDS_CS, cpu=str(cpu), mode=mode)
        add("node_cpu_scaling_frequency_hertz", GAUGE, 2.4e9, (1, 1000), cpu=str(cpu))
    devices = ["eth0", "lo"] + [d for d, p in (("docker0", 0.5), ("eth1", 0.3)) if rng.random() < p]
    for device in devices:
        for direction in ("receive", "transmit"):
            add(f"node_network_{direction}_bytes_total", COUNTER, 2e5, device=device)
            add(f"node_network_{direction}_packets_total", COUNTER, 200, device=device)
            add(f"node_network_{direction}_errs_total", CONSTANT, 0, device=device)
            add(f"node_network_{direction}_drop_total", CONSTANT, 0, device=device)
        add("node_network_up", CONSTANT, 1, device=device)
        add("node_network_mtu_bytes", CONSTANT, 1500, device=device)
        add("node_network_info", CONSTANT, 1, device=device, operstate="up", duplex="full",
            address=f"02:42:{host >> 8 & 255:02x}:{host & 255:02x}:{len(device):02x}:01")
    disks = ["sda"] + [d for d, p in (("sdb", 0.5), ("nvme0n1", 0.3), ("dm-0", 0.3)) if rng.random() < p]
    for disk in disks:
        add("node_disk_reads_completed_total", COUNTER, 20, device=disk)
        add("node_disk_writes_completed_total", COUNTER, 50, device=disk)
        add("node_disk_read_bytes_total", COUNTER, 1e6, device=disk)
        add("node_disk_written_bytes_total", COUNTER, 3e6, device=disk)
        add("node_disk_io_time_seconds_total", COUNTER, 0.05, SECONDS_MS, device=disk)
        add("node_disk_io_time_weighted_seconds_total", COUNTER, 0.1, SECONDS_MS, device=disk)
        add("node_disk_read_time_seconds_total", COUNTER, 0.01, SECONDS_MS, device=disk)
        add("node_disk_write_time_seconds_total", COUNTER, 0.04, SECONDS_MS, device=disk)
        add("node_disk_io_now", GAUGE, 2, device=disk)
    mounts = [("/", "/dev/sda1", "ext4"), ("/boot", "/dev/sda2", "ext4"), ("/run", "tmpfs", "tmpfs"),
              ("/dev/shm", "tmpfs", "tmpfs")]
    mounts += [m for m, p in ((("/data", "/dev/sdb1", "xfs"), 0.5), (("/var/lib/docker", "/dev/sda3", "ext4"), 0.5))
               if rng.random() < p]
    for mountpoint, device, fstype in mounts:
        fs = {"mountpoint": mountpoint, "device": device, "fstype": fstype}
        size = float(rng.choice([1, 10, 100, 1000])) * 1e9
        add("node_filesystem_size_bytes", CONSTANT, size, PAGES, **fs)
        add("node_filesystem_avail_bytes", GAUGE, size * 0.4, PAGES, **fs)
        add("node_filesystem_free_bytes", GAUGE, size * 0.45, PAGES, **fs)
        add("node_filesystem_files", CONSTANT, size / 16384, **fs)
        add("node_filesystem_files_free", GAUGE, size / 20000, **fs)
        add("node_filesystem_readonly", CONSTANT, 0, **fs)
        add("node_filesystem_device_error", CONSTANT, 0, **fs)
    memory = float(rng.choice([8, 16, 64, 256])) * 2**30
    for name in MEMORY:
        add(f"node_memory_{name}_bytes", CONSTANT if name.endswith("Total") else GAUGE,
            memory * (1.0 if name.endswith("Total") else rng.uniform(0.001, 0.5)), PAGES)
    for minutes in ("1", "5", "15"):
        add(f"node_load{minutes}", GAUGE, cpus * 0.3, SECONDS_CS)
    add("node_boot_time_seconds", CONSTANT, 1.7e9, SECONDS_CS)
    add("node_time_seconds", COUNTER, 1.0, SECONDS_NS)
    for name, level in (("node_context_switches_total", 5e3), ("node_forks_total", 20), ("node_intr_total", 4e3),
                        ("node_vmstat_pgfault", 1e4), ("node_vmstat_pgmajfault", 0.1)):
        add(name, COUNTER, level)
    for name, level in (("node_procs_running", 3), ("node_procs_blocked", 0.5), ("node_entropy_available_bits", 3500),
                        ("node_filefd_allocated", 3000), ("node_sockstat_TCP_inuse", 80),
                        ("node_netstat_Tcp_CurrEstab", 60), ("go_goroutines", 9)):
        add(name, GAUGE, level)
    add("node_uname_info", CONSTANT, 1, nodename=f"host-{host:05d}", release="6.1.0-18-amd64", machine="x86_64",
        sysname="Linux")
    add("node_os_info", CONSTANT, 1, id="debian", version_id="12", name="Debian GNU/Linux")
    add("node_exporter_build_info", CONSTANT, 1, version="1.5.0", goversion="go1.19.8")
    add("process_cpu_seconds_total", COUNTER, 0.01, SECONDS_CS)
    add("process_resident_memory_bytes", GAUGE, 2e7, PAGES)
    for collector in ("arp", "cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "netstat",
                      "sockstat", "stat", "time", "vmstat"):
        add("node_scrape_collector_success", CONSTANT, 1, collector=collector)
        add("node_scrape_collector_duration_seconds", GAUGE, 1e-3, SECONDS_NS, collector=collector)
    add("up", CONSTANT, 1)
    add("scrape_duration_seconds", GAUGE, 0.02, SECONDS_NS)
    add("scrape_samples_scraped", CONSTANT, 250)
    add("scrape_series_added", CONSTANT, 0)


def pod_name(slot: int, generation: int) -> str:
    """deployment-replicaset-suffix; the suffix is a bijection of (slot, generation), so pod names never repeat."""
    deployment = f"app-{slot % 97:02d}"
    digits = "0123456789bcdfghjklmnpqrstvwxz"
    if slot * 64 + generation >= len(digits) ** 5:
        raise ValueError("too many pods for unique 5-character names")
    number = ((slot * 64 + generation) * 7_368_787) % len(digits) ** 5  # 7,368,787 is a prime: a bijection
    suffix = "".join(digits[number // len(digits) ** k % len(digits)] for k in range(5))
    return f"{deployment}-7d9f{slot % 13:x}c5b8-{suffix}"


def _pod(out: _Series, slot: int, generation: int, hosts: int, seed: int, kubelet_target: int,
         ksm_target: int) -> None:
    rng = np.random.default_rng([seed, 2, slot, generation])
    namespace = NAMESPACES[0] if slot < MONITORING_PODS else NAMESPACES[1 + slot % (len(NAMESPACES) - 1)]
    pod = pod_name(slot, generation)
    node = slot % hosts
    cadvisor = {"instance": f"host-{node:05d}:10250", "job": "kubelet", "namespace": namespace, "pod": pod,
                "node": f"host-{node:05d}"}
    ksm = {"instance": "kube-state-metrics:8080", "job": "kube-state-metrics", "namespace": namespace, "pod": pod}
    containers = CONTAINERS[:1 + (slot * 2_654_435_761 >> 7) % 3]
    for container in containers:
        def add(metric: str, kind: int, level: float, resolution: tuple[int, int] = WHOLE, ksm_series: bool = False,
                **labels: str) -> None:
            out.add(rng, ksm_target if ksm_series else kubelet_target, ksm if ksm_series else cadvisor, metric, kind,
                    level, resolution, container=container, **labels)

        add("container_cpu_usage_seconds_total", COUNTER, 0.2, SECONDS_NS)
        add("container_memory_working_set_bytes", GAUGE, 2e8, PAGES)
        add("container_memory_rss", GAUGE, 1.5e8, PAGES)
        add("container_fs_reads_bytes_total", COUNTER, 1e4)
        add("container_fs_writes_bytes_total", COUNTER, 5e4)
        add("container_spec_memory_limit_bytes", CONSTANT, 5e8, PAGES)
        add("kube_pod_container_status_restarts_total", CONSTANT, 0, ksm_series=True)
        add("kube_pod_container_resource_requests", CONSTANT, 0.25, SECONDS_MS, ksm_series=True, resource="cpu",
            unit="core")
    for direction in ("receive", "transmit"):
        out.add(rng, kubelet_target, cadvisor, f"container_network_{direction}_bytes_total", COUNTER, 5e4,
                interface="eth0")
    ip = f"10.{slot >> 14 & 255}.{slot >> 6 & 255}.{(slot & 63) * 4 + generation % 4}"
    out.add(rng, ksm_target, ksm, "kube_pod_info", CONSTANT, 1, node=f"host-{node:05d}", pod_ip=ip,
            uid=f"{slot:08x}-{generation:04x}-4e2b-9c1d-{seed:012x}", created_by_kind="ReplicaSet",
            created_by_name=pod.rsplit("-", 1)[0])
    out.add(rng, ksm_target, ksm, "kube_pod_status_phase", CONSTANT, 1, phase="Running")
    out.add(rng, ksm_target, ksm, "kube_pod_start_time", CONSTANT, 1.7e9)


class Workload:
    """All series a run will ever send (hosts, and every generation of every pod), and the
    samples of any scrape round. Series are numbered 0..len-1: hosts first, then pods."""

    def __init__(self, series: int, seed: int = 1, generations: int = 2):
        self.seed = seed
        self.generations = generations
        node_goal, pod_goal = series // 2, series - series // 2
        all_hosts = _Series()
        hosts = 0
        while len(all_hosts.labels) < node_goal:
            _host(all_hosts, hosts, seed)
            hosts += 1
        defined = _Series(encoded=all_hosts.encoded)
        defined.extend(all_hosts, node_goal)  # the last host may lose some series
        self.hosts, self.node_series = hosts, node_goal
        ksm_target = 2 * hosts  # node_exporter targets are 0..hosts-1, kubelets hosts..2*hosts-1

        def pod(slot: int, generation: int) -> _Series:
            block = _Series(encoded=defined.encoded)
            _pod(block, slot, generation, hosts, seed, hosts + slot % hosts, ksm_target)
            return block

        first_generation: list[_Series] = []
        pod_series = 0
        while pod_series < pod_goal:
            first_generation.append(pod(len(first_generation), 0))
            pod_series += len(first_generation[-1].labels)
        kept = [len(block.labels) for block in first_generation]
        kept[-1] -= pod_series - pod_goal  # the last pod may lose some series, in every generation
        self.pods = len(first_generation)
        slots, gens = [], []
        for generation in range(generations):
            for slot, keep in enumerate(kept):
                defined.extend(first_generation[slot] if generation == 0 else pod(slot, generation), keep)
                slots += [slot] * keep
                gens += [generation] * keep
        self.kind = np.asarray(defined.kind, dtype=np.int8)
        self.base = np.asarray(defined.base)
        self.rate = np.asarray(defined.rate)
        self.div = np.asarray(defined.div, dtype=np.float64)
        self.mul = np.asarray(defined.mul, dtype=np.float64)
        self.target = np.asarray(defined.target, dtype=np.int64)
        self.targets = ksm_target + 1
        self.pod_slot = np.asarray(slots, dtype=np.int64)  # of series node_series.. onwards
        self.pod_generation = np.asarray(gens, dtype=np.int64)
        self.period = np.asarray(defined.period)
        self.phase = np.asarray(defined.phase)
        # random draws are prefixes of one stream per purpose, so series i and target i get the
        # same draws at every size
        self.target_offset_ms = np.random.default_rng([seed, 3]).integers(0, SCRAPE_MS, self.targets)
        self.encoder = RequestEncoder()
        self.encoder.add(defined.labels)

    def __len__(self) -> int:
        return len(self.kind)

    def label_fields(self, series: int) -> bytes:
        """The encoded Label fields of a series (sorted by name, as Prometheus sends them)."""
        return self.encoder.label_fields(series)

    @property
    def active_series(self) -> int:
        return self.node_series + int(np.count_nonzero(self.pod_generation == 0))

    def dashboard_ids(self) -> np.ndarray:
        """The node series of hosts 0 and 1: the series with 6 h of history, the same at every size."""
        return np.flatnonzero(self.target[:self.node_series] < DASHBOARD_HOSTS)  # a host's target is its number

    def pod_generations(self, churn_round: int | None) -> np.ndarray:
        """Generation of every pod slot at a round of the churn phase (None: before it). Slot s is
        replaced at churn rounds offset(s), offset(s) + 40, …; offsets spread over the 40 rounds."""
        if churn_round is None:
            return np.zeros(self.pods, dtype=np.int64)
        offset = (np.arange(self.pods) * 17) % POD_LIFETIME_ROUNDS
        replaced = np.where(churn_round >= offset, 1 + (churn_round - offset) // POD_LIFETIME_ROUNDS, 0)
        if replaced.max(initial=0) >= self.generations:
            raise ValueError(f"churn round {churn_round} needs more than {self.generations} pod generations")
        return replaced

    def active_ids(self, generations: np.ndarray) -> np.ndarray:
        pods = np.flatnonzero(self.pod_generation == generations[self.pod_slot]) + self.node_series
        return np.concatenate([np.arange(self.node_series), pods])

    def stale_ids(self, before: np.ndarray, now: np.ndarray) -> np.ndarray:
        """Series of pods replaced between two rounds: they get a stale marker."""
        gone = before != now
        old = gone[self.pod_slot] & (self.pod_generation == before[self.pod_slot])
        return np.flatnonzero(old) + self.node_series

    def times(self, round_index: int, start_ms: int, ids: np.ndarray) -> np.ndarray:
        """Scrape timestamps of round ``round_index`` (0 = the round starting at start_ms)."""
        rng = np.random.default_rng([self.seed, 4, round_index + 1_000_000])
        jitter = np.clip(np.round(rng.normal(0, 2, self.targets)), -50, 50).astype(np.int64)
        return start_ms + round_index * SCRAPE_MS + self.target_offset_ms[self.target[ids]] + jitter[self.target[ids]]

    def values(self, round_index: int, ids: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 5, round_index + 1_000_000])
        u = rng.random(len(self.kind))[ids]
        r = round_index + 100_000  # counters have grown for a while; rounds may be negative (history)
        kind, base, rate = self.kind[ids], self.base[ids], self.rate[ids]
        counter = base + rate * (SCRAPE_MS / 1000) * (r + u)
        gauge = np.abs(base + rate * (np.sin(2 * np.pi * r / self.period[ids] + self.phase[ids]) + 0.1 * u))
        raw = np.where(kind == COUNTER, counter, np.where(kind == GAUGE, gauge, base))
        div, mul = self.div[ids], self.mul[ids]
        return np.floor(raw * div / mul) * mul / div

    def round_samples(self, round_index: int, start_ms: int, ids: np.ndarray,
                      stale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(series, times, values) of one scrape round, ordered by series; ``stale`` series get a
        stale marker at the scrape time of their target."""
        values = self.values(round_index, ids)
        if stale is not None and len(stale):
            ids = np.concatenate([ids, stale])
            values = np.concatenate([values, np.full(len(stale), STALE_NAN)])
            order = np.argsort(ids, kind="stable")
            ids, values = ids[order], values[order]
        return ids, self.times(round_index, start_ms, ids), values
