"""The workload of bench/scale.py (bench/scale_dataset.py) and its request encoder
(bench/remote_write_client.py): label cardinalities, churn, timestamps and values, and
requests that decode to exactly what was generated."""

from __future__ import annotations

import struct
from collections import Counter

import numpy as np
import pytest
import snappy

from pyconnector.prometheus.proto import prometheus_remote_pb2 as pb
from remote_write_client import build_requests
from scale_dataset import MONITORING_PODS, NODE_CPU_MODES, POD_LIFETIME_ROUNDS, SCRAPE_MS, Workload

START_MS = 1_764_000_000_000


@pytest.fixture(scope="module")
def workload() -> Workload:
    return Workload(6_000)


def labels_of(workload: Workload, ids) -> list[dict[str, str]]:
    out = []
    for i in ids:
        series = pb.TimeSeries.FromString(workload.label_fields(int(i)))
        out.append({label.name: label.value for label in series.labels})
    return out


def decode(requests) -> list[tuple[dict[str, str], int, int]]:
    """(labels, timestamp, value bits) of every sample of the requests, in order."""
    out = []
    for request in requests:
        write = pb.WriteRequest.FromString(snappy.uncompress(request.body))
        assert request.samples == len(write.timeseries)
        for series in write.timeseries:
            names = [label.name for label in series.labels]
            assert names == sorted(names), "Prometheus sends labels sorted by name"
            (sample,) = series.samples
            out.append(({label.name: label.value for label in series.labels}, sample.timestamp,
                        struct.unpack("<Q", struct.pack("<d", sample.value))[0]))
    return out


def test_sizes_and_cardinalities(workload):
    assert workload.active_series == 6_000
    assert workload.node_series == 3_000
    labels = labels_of(workload, workload.active_ids(workload.pod_generations(None)))
    assert len({tuple(sorted(lab.items())) for lab in labels}) == 6_000, "label sets are unique"
    node = [lab for lab in labels if lab["job"] == "node"]
    cpus = Counter(lab["instance"] for lab in node if lab["__name__"] == "node_cpu_seconds_total")
    assert len(cpus) == workload.hosts
    # every complete host has 2-32 CPUs x 8 modes, and the hosts differ
    assert {n // len(NODE_CPU_MODES) for n in list(cpus.values())[:-1]} <= {2, 4, 8, 16, 32}
    assert len(set(cpus.values())) > 1
    per_host = Counter(lab["instance"] for lab in node)
    assert 150 <= sorted(per_host.values())[len(per_host) // 2] <= 600
    assert {lab["mountpoint"] for lab in node if "mountpoint" in lab} >= {"/", "/boot", "/run"}
    pods = [lab for lab in labels if lab["job"] in ("kubelet", "kube-state-metrics")]
    assert len(pods) == 3_000
    assert len({lab["pod"] for lab in pods}) == workload.pods
    assert all({"namespace", "pod"} <= lab.keys() for lab in pods)
    assert {lab["node"] for lab in pods if "node" in lab} <= {f"host-{h:05d}" for h in range(workload.hosts)}
    monitoring = {lab["pod"] for lab in pods if lab["namespace"] == "monitoring"}
    assert len(monitoring) == MONITORING_PODS
    assert len({lab["namespace"] for lab in pods}) == 20


def test_dashboard_series_are_the_same_at_every_size(workload):
    small = Workload(3_000)
    ours = labels_of(workload, workload.dashboard_ids())
    assert ours == labels_of(small, small.dashboard_ids())
    assert {lab["instance"] for lab in ours} == {"host-00000:9100", "host-00001:9100"}
    ids = workload.dashboard_ids()
    assert np.array_equal(workload.values(-100, ids), small.values(-100, small.dashboard_ids()))
    assert np.array_equal(workload.times(-100, START_MS, ids), small.times(-100, START_MS, small.dashboard_ids()))


def test_churn_replaces_every_pod_once_in_ten_minutes(workload):
    before = workload.pod_generations(None)
    old_active = set(workload.active_ids(before).tolist())
    new_series = set()
    staled = set()
    generations = before
    for churn_round in range(POD_LIFETIME_ROUNDS):
        now = workload.pod_generations(churn_round)
        staled |= set(workload.stale_ids(generations, now).tolist())
        active = workload.active_ids(now)
        assert len(active) == workload.active_series
        new_series |= set(active.tolist()) - old_active
        generations = now
    assert (generations == 1).all(), "every pod replaced exactly once"
    assert len(new_series) == workload.active_series - workload.node_series
    assert staled == old_active - set(workload.active_ids(generations).tolist())
    old_pods = {lab["pod"] for lab in labels_of(workload, sorted(staled))}
    new_pods = {lab["pod"] for lab in labels_of(workload, sorted(new_series))}
    assert len(new_pods) == workload.pods and not old_pods & new_pods
    with pytest.raises(ValueError):
        workload.pod_generations(POD_LIFETIME_ROUNDS + 40)  # a third generation was not generated


def test_requests_decode_to_the_generated_samples(workload):
    before = workload.pod_generations(None)
    now = workload.pod_generations(5)
    stale = workload.stale_ids(before, now)
    assert len(stale) > 0
    ids, times, values = workload.round_samples(7, START_MS, workload.active_ids(now), stale)
    requests = build_requests(workload.encoder, ids, times, values)
    assert len(requests) == -(-len(ids) // 2000)
    decoded = decode(requests)
    expected_labels = labels_of(workload, ids)
    assert [d[0] for d in decoded] == expected_labels
    assert [d[1] for d in decoded] == times.tolist()
    assert [d[2] for d in decoded] == values.view(np.uint64).tolist()
    stale_bits = 0x7FF0000000000002
    assert sum(bits == stale_bits for _, _, bits in decoded) == len(stale)


def test_timestamps_and_values_are_scrapes(workload):
    ids = workload.active_ids(workload.pod_generations(None))
    rounds = [workload.round_samples(r, START_MS, ids) for r in range(4)]
    for r, (_, times, _) in enumerate(rounds):
        assert (times >= START_MS + r * SCRAPE_MS - 50).all() and (times < START_MS + (r + 1) * SCRAPE_MS + 50).all()
    # all series of a target share the timestamp; targets differ
    labels = labels_of(workload, ids[:workload.node_series])
    by_instance: dict[str, set[int]] = {}
    for lab, t in zip(labels, rounds[0][1][:workload.node_series]):
        by_instance.setdefault(lab["instance"], set()).add(int(t))
    assert all(len(ts) == 1 for ts in by_instance.values())
    assert len({next(iter(ts)) for ts in by_instance.values()}) > 1
    counters = np.array([lab["__name__"].endswith("_total") for lab in labels])
    values = np.stack([v[:workload.node_series] for _, _, v in rounds])
    assert (np.diff(values[:, counters], axis=0) >= 0).all(), "counters never decrease"
    assert (np.diff(values[:, counters], axis=0) > 0).any()
    cpu = np.array([lab["__name__"] == "node_cpu_seconds_total" for lab in labels])
    assert np.allclose(values[:, cpu] * 100, np.round(values[:, cpu] * 100)), "CPU seconds in 0.01 s"


def test_phase_requests_keep_every_series_in_time_order_on_one_sender():
    from scale_phases import Timeline, phase_requests

    small = Workload(800)
    timeline = Timeline.ending_at(START_MS, history_rounds=8, steady_rounds=4, churn_rounds=POD_LIFETIME_ROUNDS)
    assert timeline.end_ms == START_MS
    last_time: dict[tuple, int] = {}
    owner: dict[tuple, int] = {}
    pods = small.active_series - small.node_series
    for phase, rounds in timeline.phases().items():
        per_sender, created = phase_requests(small, timeline, phase, 4)
        assert created == {"create": small.active_series, "churn": pods}.get(phase, 0)
        samples = 0
        for sender, requests in enumerate(per_sender):
            for labels, t, _ in decode(requests):
                key = tuple(sorted(labels.items()))
                assert owner.setdefault(key, sender) == sender, "a series always goes through the same sender"
                assert t > last_time.get(key, 0), "each series in time order"
                last_time[key] = t
                samples += 1
        series = len(small.dashboard_ids()) if phase == "history" else small.active_series
        assert samples == series * len(rounds) + (pods if phase == "churn" else 0)  # + the stale markers
