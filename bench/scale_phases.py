"""The timed phases of `make bench-scale`: its timeline of scrape rounds, the requests of each
phase, and sending them (see bench/scale.py for what the phases are for).

Rounds are 15 s scrapes; negative ones are the dashboard history, round 0 is the first scrape of
every series. In time order: history, create, churn, steady, cold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from remote_write_client import SAMPLES_PER_REQUEST, DeadlineExceeded, Request, build_requests, send_all
from scale_dataset import SCRAPE_MS, Workload


@dataclass(frozen=True)
class Timeline:
    """Scrape rounds: negative ones are the dashboard history; round 0 starts at start_ms."""
    start_ms: int
    history_rounds: int
    steady_rounds: int
    churn_rounds: int
    create_rounds: int = 4
    cold_rounds: int = 4

    # phases in time order: create, churn, steady (every worker has seen every series by then), cold
    @property
    def churn_start(self) -> int:
        return self.create_rounds

    @property
    def steady_start(self) -> int:
        return self.churn_start + self.churn_rounds

    @property
    def cold_start(self) -> int:
        return self.steady_start + self.steady_rounds

    @property
    def rounds(self) -> int:
        return self.cold_start + self.cold_rounds

    @property
    def end_ms(self) -> int:
        """After the last scrape of every target."""
        return self.start_ms + self.rounds * SCRAPE_MS

    @classmethod
    def ending_at(cls, end_ms: int, history_rounds: int, steady_rounds: int, churn_rounds: int) -> Timeline:
        """The timeline whose last round ends at ``end_ms`` (a multiple of the scrape interval)."""
        draft = cls(0, history_rounds, steady_rounds, churn_rounds)
        return cls(end_ms - draft.end_ms, history_rounds, steady_rounds, churn_rounds)

    def phases(self) -> dict[str, range]:
        return {"history": range(-self.history_rounds, 0), "create": range(0, self.churn_start),
                "churn": range(self.churn_start, self.steady_start),
                "steady": range(self.steady_start, self.cold_start),
                "cold": range(self.cold_start, self.rounds)}

    def churn_round(self, round_index: int) -> int | None:
        """The round's index in the churn phase (clamped to its last round after it); None before it."""
        if round_index < self.churn_start:
            return None
        return min(round_index, self.steady_start - 1) - self.churn_start


def phase_requests(workload: Workload, timeline: Timeline, phase: str, senders: int) -> tuple[list[list[Request]], int]:
    """Requests of one phase per sender (sender k owns the series whose number is k mod senders),
    and how many series the phase creates."""
    rounds = timeline.phases()[phase]
    per_sender: list[list[Request]] = [[] for _ in range(senders)]
    carry: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * senders
    previous = workload.pod_generations(timeline.churn_round(rounds.start - 1)) if rounds.start > 0 else None
    created = 0
    dashboard = workload.dashboard_ids()
    for r in rounds:
        if phase == "history":
            ids, stale = dashboard, None
        else:
            generations = workload.pod_generations(timeline.churn_round(r))
            ids = workload.active_ids(generations)
            stale = workload.stale_ids(previous, generations) if previous is not None else None
            created += len(ids) if previous is None else len(stale)  # a new pod has as many series as the old
            previous = generations
        ids, times, values = workload.round_samples(r, timeline.start_ms, ids, stale)
        shard = ids % senders
        for k in range(senders):
            mine = shard == k
            parts = (ids[mine], times[mine], values[mine])
            if carry[k] is not None:
                parts = tuple(np.concatenate([old, new]) for old, new in zip(carry[k], parts))
            full = len(parts[0]) // SAMPLES_PER_REQUEST * SAMPLES_PER_REQUEST
            per_sender[k] += build_requests(workload.encoder, *(p[:full] for p in parts))
            carry[k] = tuple(p[full:] for p in parts)
    for k in range(senders):
        if carry[k] is not None and len(carry[k][0]):
            per_sender[k] += build_requests(workload.encoder, *carry[k])
    return per_sender, created


def ingest(out: dict[str, dict], url: str, workload: Workload, timeline: Timeline, args, deadline: float | None,
           before: dict | None = None) -> None:
    """Sends every phase, filling out[phase] with {seconds, samples, created, ...} as each ends.
    ``before[phase]()`` runs (untimed) before that phase and returns (url, {extra figures})."""
    for phase in timeline.phases():
        encode_started = time.perf_counter()
        # the history goes through one sender, in time order: concurrent senders would drift apart
        # by more than the hour Prometheus accepts behind its newest sample
        per_sender, created = phase_requests(workload, timeline, phase, 1 if phase == "history" else args.senders)
        samples = sum(r.samples for requests_ in per_sender for r in requests_)
        encode_s = time.perf_counter() - encode_started
        result = {"samples": samples, "created": created}
        if before and phase in before:
            url, extra = before[phase]()
            result.update(extra)
        try:
            result["seconds"] = send_all(url, per_sender, deadline)
        except DeadlineExceeded as exc:
            result.update(seconds=exc.elapsed, acked=exc.acked, incomplete=True)
            out[phase] = result
            print(f"    {phase:8} OUT OF TIME after {exc.elapsed:.1f} s: "
                  f"{exc.acked:,} of {samples:,} samples acknowledged")
            raise
        out[phase] = result
        print(f"    {phase:8} {samples:>12,} samples in {result['seconds']:8.2f} s = "
              f"{samples / result['seconds']:>10,.0f}/s, {created:,} new series (encoded in {encode_s:.1f} s)")
