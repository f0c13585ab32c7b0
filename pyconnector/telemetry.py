"""The connector's own metrics (GET /metrics), shared across gunicorn workers.

Each worker process counts into a small memory-mapped file of float64 slots in
a directory all workers share; /metrics, whichever worker answers it, sums the
files. Counters of workers that exited stay in the sum, so counters never go
backwards; gauges only count live workers.

Every series is declared up front (name, labels, type), which keeps the file
layout fixed and the hot path to one array increment.
"""

from __future__ import annotations

import mmap
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .routing import duration_labels

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
ERROR_KINDS = ("bad_request", "too_large", "unsupported_media_type", "method_not_allowed",
               "db_unavailable", "timeout", "internal", "unauthorized", "forbidden", "overloaded")
# one label per route of the route table (the query API's and remote_read's were all "other")
HANDLERS = duration_labels()
TRACE_TRANSPORTS = ("http", "grpc")


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # counter | gauge | histogram
    help: str
    label: str | None = None
    label_values: tuple[str, ...] = ()

    def series(self) -> list[tuple[str, str]]:
        """(sample name, label text) for every slot this family occupies."""
        combos = [f'{self.label}="{v}"' for v in self.label_values] if self.label else [""]
        slots = []
        for combo in combos:
            if self.kind == "histogram":
                for bound in (*DURATION_BUCKETS, float("inf")):
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    sep = "," if combo else ""
                    slots.append((f"{self.name}_bucket", f"{combo}{sep}le=\"{le}\""))
                slots.append((f"{self.name}_sum", combo))
                slots.append((f"{self.name}_count", combo))
            else:
                slots.append((self.name, combo))
        return slots


FAMILIES = (
    Family("promscale_ingest_requests_total", "counter", "remote_write requests that were committed"),
    Family("promscale_ingest_samples_total", "counter", "samples committed"),
    Family("promscale_ingest_series_total", "counter", "time series entries received in committed requests"),
    Family("promscale_ingest_exemplars_total", "counter", "exemplars committed"),
    Family("promscale_ingest_metadata_total", "counter", "metadata entries committed"),
    Family("promscale_ingest_histograms_dropped_total", "counter",
           "native histogram samples received and not stored (unsupported)"),
    Family("promscale_ha_samples_dropped_total", "counter",
           "samples of Prometheus HA replicas that did not lead at their time (--high-availability)"),
    Family("promscale_series_cache_hits_total", "counter", "series id lookups answered by the cache"),
    Family("promscale_series_cache_misses_total", "counter", "series id lookups resolved in the database"),
    Family("promscale_series_cache_entries", "gauge", "series ids held in the caches of live workers"),
    Family("promscale_trace_requests_total", "counter", "OTLP trace export requests committed, by transport",
           "transport", TRACE_TRANSPORTS),
    Family("promscale_trace_spans_received_total", "counter", "spans in committed OTLP requests, by transport",
           "transport", TRACE_TRANSPORTS),
    Family("promscale_trace_spans_written_total", "counter",
           "spans newly stored (spans of retried exports already stored are not counted)"),
    Family("promscale_trace_events_received_total", "counter", "span events in committed OTLP requests"),
    Family("promscale_trace_links_received_total", "counter", "span links in committed OTLP requests"),
    # recording and alerting rules (rules/evaluator.py, rules/alertmanager.py)
    Family("promscale_rule_group_evaluations_total", "counter", "rule group evaluations by this connector"),
    Family("promscale_rule_group_evaluation_failures_total", "counter",
           "rule group evaluations that failed (rules that fail are reported in /api/v1/rules)"),
    Family("promscale_alerts_sent_total", "counter", "alerts delivered to Alertmanager"),
    Family("promscale_alerts_dropped_total", "counter", "alerts not delivered (queue full, every Alertmanager failed)"),
    Family("promscale_errors_total", "counter", "requests answered with an error, by kind", "kind", ERROR_KINDS),
    Family("promscale_http_request_duration_seconds", "histogram", "HTTP request latency by handler",
           "handler", HANDLERS),
)


def _layout() -> dict[tuple[str, str], int]:
    slots: dict[tuple[str, str], int] = {}
    for family in FAMILIES:
        for key in family.series():
            slots[key] = len(slots)
    return slots


SLOTS = _layout()
_FILE_NAME = re.compile(r"^worker-(\d+)\.metrics$")


class Telemetry:
    """This process's counters, plus rendering of all workers' sums."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._pid = -1
        # gthread workers update counters from several threads; += on the mmap is not atomic
        self._lock = threading.Lock()
        self._values: np.ndarray = np.zeros(len(SLOTS))
        self._open_for_this_process()

    def _open_for_this_process(self) -> None:
        # gunicorn forks workers: each process must count into a file of its own
        self._pid = os.getpid()
        path = self.directory / f"worker-{self._pid}.metrics"
        size = len(SLOTS) * 8
        with open(path, "a+b") as f:
            f.truncate(size)
            self._mmap = mmap.mmap(f.fileno(), size)
        self._values = np.ndarray(len(SLOTS), dtype=np.float64, buffer=self._mmap)

    def _slots(self) -> np.ndarray:
        if os.getpid() != self._pid:
            self._open_for_this_process()
        return self._values

    def inc(self, name: str, amount: float = 1.0, label: str = "") -> None:
        with self._lock:
            self._slots()[SLOTS[(name, label)]] += amount

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self._slots()[SLOTS[(name, "")]] = value

    def error(self, kind: str) -> None:
        self.inc("promscale_errors_total", 1, f'kind="{kind}"')

    def observe_duration(self, handler: str, seconds: float) -> None:
        family = "promscale_http_request_duration_seconds"
        combo = f'handler="{handler}"'
        with self._lock:
            values = self._slots()
            for bound in DURATION_BUCKETS:
                if seconds <= bound:
                    values[SLOTS[(f"{family}_bucket", f'{combo},le="{bound!r}"')]] += 1
            values[SLOTS[(f"{family}_bucket", f'{combo},le="+Inf"')]] += 1
            values[SLOTS[(f"{family}_sum", combo)]] += seconds
            values[SLOTS[(f"{family}_count", combo)]] += 1

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Sums over all worker files: (everything, live workers only)."""
        everything = np.zeros(len(SLOTS))
        live = np.zeros(len(SLOTS))
        for path in self.directory.iterdir():
            match = _FILE_NAME.match(path.name)
            if not match:
                continue
            data = np.frombuffer(path.read_bytes(), dtype=np.float64)
            if data.size != len(SLOTS):
                continue  # written by another connector version
            everything += data
            if _alive(int(match.group(1))):
                live += data
        return everything, live

    def render(self) -> str:
        everything, live = self.totals()
        lines = []
        for family in FAMILIES:
            lines.append(f"# HELP {family.name} {family.help}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            values = live if family.kind == "gauge" else everything
            for sample_name, combo in family.series():
                value = values[SLOTS[(sample_name, combo)]]
                labels = f"{{{combo}}}" if combo else ""
                lines.append(f"{sample_name}{labels} {_format(value)}")
        return "\n".join(lines) + "\n"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
