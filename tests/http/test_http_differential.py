"""Differential tests: the same samples pushed to a real Prometheus 2.42 (remote-write
receiver) and to the connector, then a broad generated set of PromQL queries (support/promdiff.py)
compared as instant queries and range queries at several times and steps."""

from __future__ import annotations

import time

import pytest
import requests

from support.http_api import push
from support.processes import prometheus
from support.promdiff import STEP_MS, dataset, difference, queries
from support.remote_write import HEADERS, encode, write_request

POINTS = 480  # two hours at 15s: inside the head window a fresh Prometheus accepts
PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1h
storage:
  tsdb:
    out_of_order_time_window: 1d
"""


@pytest.fixture(scope="module")
def setup(api):
    start_ms = (int(time.time()) // 60 * 60 - POINTS * STEP_MS // 1000) * 1000
    series = dataset(start_ms, POINTS)
    with prometheus(PROMETHEUS_CONFIG, "--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage") as prom:
        # time slices, so that both sides append in time order
        slice_ms = 10 * 60_000
        for lo in range(start_ms, start_ms + POINTS * STEP_MS + slice_ms, slice_ms):
            part = [(labels, [(t, v) for t, v in samples if lo <= t < lo + slice_ms]) for labels, samples in series]
            part = [(labels, samples) for labels, samples in part if samples]
            if not part:
                continue
            r = requests.post(prom + "/api/v1/write", data=encode(write_request(part)), headers=HEADERS, timeout=30)
            assert r.status_code == 204, r.text
            push(api, part)
        exemplars = [(labels, {"trace_id": f"t{i}<{k}>", "span": "s"}, samples[k * 40][1], samples[k * 40][0])
                     for i, (labels, samples) in enumerate(series[:5]) for k in range(3)]
        body = encode(write_request(exemplars=exemplars))
        r = requests.post(prom + "/api/v1/write", data=body, headers=HEADERS, timeout=30)
        assert r.status_code == 204, r.text
        push(api, exemplars=exemplars)
        yield prom, start_ms / 1000


def evaluations(start: float):
    """(endpoint, params) pairs: instant queries at three times, range queries with three steps."""
    end = start + POINTS * STEP_MS / 1000
    for at in (start + 3600, start + 3600 + 7.5, end - 60):
        yield "query", {"time": str(at)}
    for step in ("15", "60", "37"):
        yield "query_range", {"start": str(start + 1800), "end": str(start + 5400), "step": step}


@pytest.mark.slow
def test_both_sides_hold_the_data(setup, api):
    """Guards the comparisons below against comparing nothing with nothing."""
    prom, start = setup
    params = {"query": "count(http_requests_total)", "time": str(start + 3600)}
    expected = requests.get(f"{prom}/api/v1/query", params=params, timeout=60).json()
    assert expected["data"]["result"][0]["value"][1] == "12"
    assert api.get("/api/v1/query", query_string=params).get_json() == expected


@pytest.mark.slow
@pytest.mark.parametrize("query", queries())
def test_same_result_as_prometheus(setup, api, query):
    prom, start = setup
    failures = []
    for endpoint, params in evaluations(start):
        params = {"query": query, **params}
        expected = requests.get(f"{prom}/api/v1/{endpoint}", params=params, timeout=60).json()
        response = api.get(f"/api/v1/{endpoint}", query_string=params)
        got = response.get_json(silent=True) or {"status": f"HTTP {response.status_code}",
                                                 "error": response.get_data(as_text=True)[:200]}
        why = difference(expected, got, ordered=query.startswith("sort"))
        if why:
            failures.append(f"{endpoint} {params}: {why}")
    assert not failures, "\n".join(failures)


BYTE_EXACT = ["vector(1e-7)", "vector(1e21)", "vector(-1.5e-300)", "vector(123456789012345678901)", "vector(0.1+0.2)",
              "vector(-0 * 1)", "1e-7", "1e21", "-0 * 1", "time()", '"a<b>&c"',
              "sum(rate(http_requests_total[5m])) / 1e9", "count(node_temperature) * 1e25", "vector(NaN)",
              "vector(-Inf)", 'label_replace(vector(1), "a", "<x&y>", "", "")']


@pytest.mark.slow
@pytest.mark.parametrize("query", BYTE_EXACT)
def test_byte_identical_responses(setup, api, query):
    """Number formatting, timestamps and escaping exactly as Prometheus writes them."""
    prom, start = setup
    for endpoint, params in [("query", {"time": str(start + 3600.5)}),
                             ("query_range", {"start": str(start + 1800), "end": str(start + 1900), "step": "50"})]:
        params = {"query": query, **params}
        expected = requests.get(f"{prom}/api/v1/{endpoint}", params=params, timeout=60).text
        assert api.get(f"/api/v1/{endpoint}", query_string=params).get_data(as_text=True) == expected


CATALOG_CALLS = [
    ("series", {"match[]": ["http_requests_total"]}),
    ("series", {"match[]": ['{__name__=~"node_.*|batch_.*"}', 'request_duration_seconds_bucket{le="+Inf"}']}),
    ("series", {"match[]": ['{job="api", code!="200"}']}),
    ("labels", {}),
    ("labels", {"match[]": ["node_temperature"]}),
    ("label/__name__/values", {}),
    ("label/le/values", {}),
    ("label/instance/values", {"match[]": ['http_requests_total{code="500"}']}),
]


@pytest.mark.slow
@pytest.mark.parametrize("path, params", CATALOG_CALLS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(CATALOG_CALLS)])
def test_same_catalog_answers_as_prometheus(setup, api, path, params):
    """series, labels and label values over the whole range and over the last hour of the data."""
    prom, start = setup
    end = start + POINTS * STEP_MS / 1000
    for window in ({}, {"start": str(end - 3600), "end": str(end)}):
        query = {**params, **window}
        expected = requests.get(f"{prom}/api/v1/{path}", params=query, timeout=60).text
        assert api.get(f"/api/v1/{path}", query_string=query).get_data(as_text=True) == expected


@pytest.mark.slow
@pytest.mark.parametrize("query", ["http_requests_total", 'rate(http_requests_total{instance="a"}[5m])',
                                   "sum(http_requests_total) + node_temperature", "nonexistent", "1 + 1"])
def test_same_exemplars_as_prometheus(setup, api, query):
    prom, start = setup
    for window in ({}, {"start": str(start), "end": str(start + 600)}):
        params = {"query": query, **window}
        expected = requests.get(f"{prom}/api/v1/query_exemplars", params=params, timeout=60)
        got = api.get("/api/v1/query_exemplars", query_string=params)
        assert (got.status_code, got.get_data(as_text=True)) == (expected.status_code, expected.text)
        if query == "http_requests_total" and not window:  # the comparison compared something
            assert [len(s["exemplars"]) for s in expected.json()["data"]] == [3] * 4


# Parameter errors, whose messages quote the value as Go's %q does (control characters as \a,
# \t, \x01, ...): status and body byte for byte
BAD_REQUESTS = [
    ("query", {"query": "1", "time": "\x07"}),
    ("query", {"query": "1", "timeout": "1\u00e9\x0b"}),
    ("query_range", {"query": "1", "start": "x\ty", "end": "5", "step": "1"}),
    ("query_range", {"query": "1", "start": "1", "end": "5", "step": "1\x7f"}),
    ("query_range", {"query": "1", "start": "1", "end": "5", "step": "1\x0c"}),
    ("series", {}),
    ("series", {"match[]": "up", "start": "\x01"}),
    ("label/a%07b/values", {}),
    ("metadata", {"limit": "x"}),
    ("query_exemplars", {"query": "up", "start": "\x1b"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("path, params", BAD_REQUESTS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(BAD_REQUESTS)])
def test_same_parameter_errors_as_prometheus(setup, api, path, params):
    prom, _start = setup
    expected = requests.get(f"{prom}/api/v1/{path}", params=params, timeout=60)
    got = api.get(f"/api/v1/{path}", query_string=params)
    assert expected.status_code == 400  # the comparison compares an error
    assert (got.status_code, got.get_data(as_text=True)) == (expected.status_code, expected.text)
