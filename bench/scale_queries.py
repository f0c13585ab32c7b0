"""What `make bench-scale` asks once the data is in: Prometheus HTTP API requests (both sides)
and time-filtered view queries (ours, over psycopg), with their timing rules.

Every request is either **fixed**, the same work at every size (one series, one host's CPUs,
the 10 pods of namespace ``monitoring``, label names, the 8 values of ``mode``): its cost must
be flat from 10,000 to 1,000,000 series; or it **grows** with the size (a whole metric, every
``instance``), where only the ratio to Prometheus means something.

A request's *first* run is timed on a fresh connection (ours: a freshly started connector, so a
new database session; Prometheus: a new HTTP connection); *warm* is the median of ``repeat``
runs after that, on connections that have all run requests before.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import requests

HOST0 = "host-00000:9100"
DASHBOARD_HOSTS_RE = "host-0000[01]:9100"
RANGE_15M = (15 * 60, 15)  # seconds of range, step: what Grafana picks for ~60 and ~360 points
RANGE_6H = (6 * 3600, 60)
REQUEST_TIMEOUT_S = 150  # above the connector's default query timeout (2 min)


@dataclass(frozen=True)
class Query:
    name: str
    path: str
    fixed: bool  # the same work at every size
    params: dict[str, str]  # without start/end
    range_s: tuple[int, int] | None = None  # (span, step) for query_range; (span, 0): start/end only

    def request_params(self, end_s: float) -> dict[str, str]:
        out = dict(self.params)
        if self.range_s:
            span, step = self.range_s
            out.update(start=f"{end_s - span:.3f}", end=f"{end_s:.3f}")
            if step:
                out["step"] = str(step)
        return out


def _range(name: str, expr: str, fixed: bool) -> list[Query]:
    return [Query(f"{name} 15m", "/api/v1/query_range", fixed, {"query": expr}, RANGE_15M),
            Query(f"{name} 6h", "/api/v1/query_range", fixed, {"query": expr}, RANGE_6H)]


QUERIES: list[Query] = [
    *_range("one series", f'node_memory_MemAvailable_bytes{{instance="{HOST0}"}}', True),
    *_range("one host's CPUs (rate)", f'rate(node_cpu_seconds_total{{instance="{HOST0}"}}[5m])', True),
    *_range("sum by mode, 2 hosts (regex)",
            f'sum by (mode) (rate(node_cpu_seconds_total{{instance=~"{DASHBOARD_HOSTS_RE}"}}[5m]))', True),
    Query("sum by pod, 10 pods 15m", "/api/v1/query_range", True,
          {"query": 'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="monitoring"}[5m]))'}, RANGE_15M),
    Query("sum by mode, whole metric 15m", "/api/v1/query_range", False,
          {"query": "sum by (mode) (rate(node_cpu_seconds_total[5m]))"}, RANGE_15M),
    Query("labels", "/api/v1/labels", True, {}),
    Query("labels 15m", "/api/v1/labels", True, {}, (15 * 60, 0)),
    Query("label mode values", "/api/v1/label/mode/values", True, {}),
    Query("label mode values 15m", "/api/v1/label/mode/values", True, {}, (15 * 60, 0)),
    Query("label cpu values match[] 1 host 15m", "/api/v1/label/cpu/values", True,
          {"match[]": f'node_cpu_seconds_total{{instance="{HOST0}"}}'}, (15 * 60, 0)),
    Query("label pod values match[] 10 pods 15m", "/api/v1/label/pod/values", True,
          {"match[]": 'kube_pod_info{namespace="monitoring"}'}, (15 * 60, 0)),
    Query("label instance values", "/api/v1/label/instance/values", False, {}),
    Query("label instance values 15m", "/api/v1/label/instance/values", False, {}, (15 * 60, 0)),
    Query("series 1 host's CPUs", "/api/v1/series", True, {"match[]": f'node_cpu_seconds_total{{instance="{HOST0}"}}'}),
    Query("series 1 host's CPUs 15m", "/api/v1/series", True,
          {"match[]": f'node_cpu_seconds_total{{instance="{HOST0}"}}'}, (15 * 60, 0)),
    Query("series up 15m", "/api/v1/series", False, {"match[]": "up"}, (15 * 60, 0)),
]

# cheap requests that load each code path of the API into a database session, and open the
# partitions of the queried range (their first use in a session costs a few ms of catalog
# look-ups and planning): one series of a host the timed queries do not read
OTHER_HOST = "host-00002:9100"


def warmups(end_s: float) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/api/v1/query_range", {"query": f'node_load1{{instance="{OTHER_HOST}"}}', "start": f"{end_s - RANGE_6H[0]:.3f}",
                                 "end": f"{end_s:.3f}", "step": str(RANGE_6H[1])}),
        ("/api/v1/labels", {"match[]": 'up{instance="none"}'}),
        ("/api/v1/label/job/values", {"match[]": 'up{instance="none"}'}),
        ("/api/v1/series", {"match[]": 'up{instance="none"}'}),
    ]


@dataclass(frozen=True)
class ViewQuery:
    name: str
    fixed: bool
    sql: str  # {recent} is replaced by an interval reaching 10 minutes before the data's end


VIEW_QUERIES = [
    ViewQuery("view: 1 host's CPUs, last 10 min", True,
              "SELECT count(*), sum(value) FROM prom_metric.node_cpu_seconds_total "
              f"WHERE time > now() - interval '{{recent}}' AND instance = '{HOST0}'"),
    ViewQuery("view: whole metric, last 10 min", False,
              "SELECT count(*), sum(value) FROM prom_metric.\"node_memory_MemAvailable_bytes\" "
              "WHERE time > now() - interval '{recent}'"),
]


def answer_size(body: dict) -> tuple[int, int]:
    """(series or items, points) of a successful API answer, to compare both sides' answers."""
    data = body["data"]
    if isinstance(data, dict) and "result" in data:
        return len(data["result"]), sum(len(s.get("values", ())) for s in data["result"])
    return len(data), 0


def timed_get(session: requests.Session, url: str, params: dict[str, str]) -> tuple[float, tuple[int, int] | str]:
    """Seconds and answer size, or seconds and an error text."""
    started = time.perf_counter()
    try:
        response = session.get(url, params=params, timeout=REQUEST_TIMEOUT_S)
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        return time.perf_counter() - started, f"failed: {type(exc).__name__}"
    elapsed = time.perf_counter() - started
    if body.get("status") != "success":
        return elapsed, f"error: {body.get('error', body)}"[:200]
    return elapsed, answer_size(body)


@dataclass
class Timing:
    first_ms: float
    warm_ms: float | None
    answer: tuple[int, int] | str  # answer_size, or an error text


def time_queries(fresh_url: Callable[[], str], warm_url: Callable[[float], str], end_s: float, repeat: int,
                 deadline: float | None = None, warm_budget_s: float = 30) -> dict[str, Timing]:
    """First runs, each on ``fresh_url()`` (a new connection or a fresh server), then warm medians
    on ``warm_url(end_s)`` after every connection ran warmups(end_s): one untimed run, then ``repeat`` runs,
    fewer (at least one) once a query has taken ``warm_budget_s``. Stops early past ``deadline``."""
    firsts: dict[str, tuple[float, tuple[int, int] | str]] = {}
    for query in QUERIES:
        if deadline is not None and time.monotonic() > deadline:
            break
        base = fresh_url()
        with requests.Session() as session:
            firsts[query.name] = timed_get(session, base + query.path, query.request_params(end_s))
    out: dict[str, Timing] = {}
    base = warm_url(end_s)
    with requests.Session() as session:
        for query in QUERIES:
            if query.name not in firsts:
                continue
            first_s, answer = firsts[query.name]
            warm = None
            if not isinstance(answer, str) and (deadline is None or time.monotonic() < deadline):
                params = query.request_params(end_s)
                spent = timed_get(session, base + query.path, params)[0]  # the plan and the pages are now warm too
                runs: list[float] = []
                while len(runs) < repeat and (not runs or spent < warm_budget_s):
                    runs.append(timed_get(session, base + query.path, params)[0])
                    spent += runs[-1]
                warm = statistics.median(runs) * 1000
            out[query.name] = Timing(first_s * 1000, warm, answer)
            print(f"      {query.name:<40} first {first_s * 1000:10.1f} ms, warm "
                  + (f"{warm:10.1f} ms" if warm is not None else "         —") + f"  {answer}")
    return out


def time_views(uri: str, recent: str, repeat: int) -> dict[str, Timing]:
    """View queries: first on a new session, then the median of ``repeat`` warm runs. An error
    (today: a parallel plan calling PL/Python) is the result, not the end of the benchmark."""
    out = {}
    for view in VIEW_QUERIES:
        sql = view.sql.format(recent=recent)
        with psycopg.connect(uri, autocommit=True, options=f"-c statement_timeout={REQUEST_TIMEOUT_S}s") as conn:
            started = time.perf_counter()
            try:
                count, _ = conn.execute(sql).fetchone()
            except psycopg.Error as exc:
                message = str(exc).strip().splitlines()[0]
                out[view.name] = Timing((time.perf_counter() - started) * 1000, None, f"error: {message}"[:200])
                continue
            first = time.perf_counter() - started
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                conn.execute(sql).fetchone()
                runs.append(time.perf_counter() - started)
        out[view.name] = Timing(first * 1000, statistics.median(runs) * 1000, (count, 0))
    return out
