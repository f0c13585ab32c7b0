"""The Jaeger query HTTP API, replaying the calls of the Jaeger UI and Grafana's Jaeger data
source (protocols.md §5) and checking the response shapes."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

from support.traces import BASE_NS, SHOP, S, export

START_US = BASE_NS // 1000
ENVELOPE_KEYS = {"data", "total", "limit", "offset", "errors"}


@pytest.fixture
def client(connector, db):
    c = Client(connector)
    export(c, SHOP)
    export(c, [
        S(0xB, 1, None, "GET /checkout", "frontend", 1000, 500, kind=2, attributes={"http.status_code": 500}),
        # a span whose parent never arrived, and a link to a trace we do not have
        S(0xB, 2, 99, "orphan", "frontend", 1100, 10, links=[(0xF, 7)]),
        S(0xC, 1, None, "GET /home", "frontend", 2000, 5, kind=2),
        S(0xD, 1, None, "consume", "worker", 3000, 5, kind=5),
    ])
    return c


def get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.data
    body = json.loads(response.data)
    assert set(body) == ENVELOPE_KEYS
    assert body["limit"] == 0 and body["offset"] == 0
    return body


def search(client, **params):
    params.setdefault("service", "frontend")
    params.setdefault("start", START_US - 10**6)
    params.setdefault("end", START_US + 10**7)
    return get(client, "/api/traces?" + urlencode(params))


def test_services(client):
    body = get(client, "/api/services")
    assert body == {"data": ["backend", "frontend", "worker"], "total": 3, "limit": 0, "offset": 0, "errors": None}


def test_service_operations_both_routes(client):
    body = get(client, "/api/services/frontend/operations")
    assert body["data"] == ["GET /checkout", "GET /home", "POST /price", "orphan", "render"]
    assert body["total"] == 5
    body = get(client, "/api/operations?service=frontend&spanKind=server")
    assert body["data"] == [{"name": "GET /checkout", "spanKind": "server"},
                            {"name": "GET /home", "spanKind": "server"}]
    assert get(client, "/api/operations?service=backend")["data"] == [
        {"name": "SELECT rates", "spanKind": "client"}, {"name": "price", "spanKind": "server"}]
    body = get(client, "/api/operations", status=400)
    assert body["data"] is None and body["errors"] == [{"code": 400, "msg": "parameter 'service' is required"}]


def test_trace_by_id_shape(client):
    body = get(client, "/api/traces/000000000000000a")  # 16 hex digits fill the low half
    [trace] = body["data"]
    assert set(trace) == {"traceID", "spans", "processes", "warnings"}
    assert trace["traceID"] == "000000000000000a"  # upper 64 bits zero: Jaeger prints 16 digits
    assert trace["warnings"] is None
    assert len(trace["spans"]) == 5
    assert trace["processes"] == {"p1": {"serviceName": "frontend", "tags": []},
                                  "p2": {"serviceName": "backend", "tags": []}}
    by_name = {s["operationName"]: s for s in trace["spans"]}
    root = by_name["GET /checkout"]
    assert set(root) == {"traceID", "spanID", "operationName", "references", "startTime", "duration", "tags", "logs",
                         "processID", "warnings"}
    assert root["spanID"] == "0000000000000001"
    assert root["references"] == []
    assert root["startTime"] == START_US and root["duration"] == 100_000
    assert root["tags"] == [
        {"key": "otel.library.name", "type": "string", "value": "test"},
        {"key": "http.status_code", "type": "int64", "value": 200},
        {"key": "span.kind", "type": "string", "value": "server"},
    ]
    db_span = by_name["SELECT rates"]
    assert db_span["references"] == [{"refType": "CHILD_OF", "traceID": "000000000000000a",
                                      "spanID": "0000000000000003"}]
    assert db_span["processID"] == "p2"
    assert {"key": "error", "type": "bool", "value": True} in db_span["tags"]
    assert {"key": "otel.status_code", "type": "string", "value": "ERROR"} in db_span["tags"]
    assert db_span["logs"] == [{"timestamp": START_US + 15_000, "fields": [
        {"key": "event", "type": "string", "value": "exception"},
        {"key": "exception.type", "type": "string", "value": "X"}]}]
    # every reference points at a span of the trace
    ids = {s["spanID"] for s in trace["spans"]}
    assert all(r["spanID"] in ids for s in trace["spans"] for r in s["references"])
    assert get(client, "/api/traces/" + "0" * 31 + "a")["data"][0]["traceID"] == "000000000000000a"


def test_dangling_references_are_reported_in_warnings(client):
    [trace] = get(client, "/api/traces/b")["data"]
    orphan = next(s for s in trace["spans"] if s["operationName"] == "orphan")
    assert orphan["references"] == [
        {"refType": "CHILD_OF", "traceID": "000000000000000b", "spanID": "0000000000000063"},
        {"refType": "FOLLOWS_FROM", "traceID": "000000000000000f", "spanID": "0000000000000007"}]
    assert len(orphan["warnings"]) == 2
    assert "invalid parent span IDs=0000000000000063" in orphan["warnings"][0]
    assert trace["warnings"] == [f"span 0000000000000002: {w}" for w in orphan["warnings"]]


def test_unknown_trace_is_404_with_jaeger_error_body(client):
    response = client.get("/api/traces/00000000000000000000000000000bad")
    assert response.status_code == 404
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.data.endswith(b"\n")
    assert json.loads(response.data) == {"data": None, "total": 0, "limit": 0, "offset": 0,
                                         "errors": [{"code": 404, "msg": "trace not found"}]}
    body = get(client, "/api/traces/not-hex", status=400)
    assert "cannot parse traceID" in body["errors"][0]["msg"]


def test_search_by_service_and_operation(client):
    traces = search(client)["data"]
    # newest first
    assert [t["traceID"] for t in traces] == ["000000000000000c", "000000000000000b", "000000000000000a"]
    assert all(len(t["spans"]) > 0 for t in traces)
    assert len(traces[2]["spans"]) == 5  # whole traces, other services' spans included
    assert [t["traceID"] for t in search(client, operation="GET /home")["data"]] == ["000000000000000c"]
    assert [t["traceID"] for t in search(client, limit=1)["data"]] == ["000000000000000c"]
    assert search(client, service="nobody")["data"] == []
    # the time window is in microseconds
    assert [t["traceID"] for t in search(client, start=START_US + 1_500_000)["data"]] == ["000000000000000c"]


def test_search_by_tags(client):
    tags = '{"http.status_code":"500"}'
    assert [t["traceID"] for t in search(client, tags=tags)["data"]] == ["000000000000000b"]
    assert [t["traceID"] for t in search(client, tag="http.status_code:200")["data"]] == ["000000000000000a"]
    assert [t["traceID"] for t in search(client, service="backend", tag="error:true")["data"]] == ["000000000000000a"]
    assert [t["traceID"] for t in search(client, service="backend", tag="customer:vip")["data"]] == [
        "000000000000000a"]
    assert [t["traceID"] for t in search(client, service="backend", tag="exception.type:X")["data"]] == [
        "000000000000000a"]
    assert [t["traceID"] for t in search(client, tag="span.kind:server", operation="GET /home")["data"]] == [
        "000000000000000c"]
    assert search(client, tag="http.status_code:404")["data"] == []
    assert "malformed 'tags' parameter" in search_error(client, tags="{bad")
    assert "malformed 'tag' parameter" in search_error(client, tag="novalue")


def search_error(client, **params):
    params.setdefault("service", "frontend")
    body = get(client, "/api/traces?" + urlencode(params), status=400)
    return body["errors"][0]["msg"]


def test_search_by_duration(client):
    assert [t["traceID"] for t in search(client, minDuration="400ms")["data"]] == ["000000000000000b"]
    assert [t["traceID"] for t in search(client, maxDuration="5ms")["data"]] == ["000000000000000c"]
    assert [t["traceID"] for t in search(client, minDuration="0.09s", maxDuration="1m")["data"]] == [
        "000000000000000b", "000000000000000a"]
    assert "'maxDuration' should be greater than 'minDuration'" in search_error(client, minDuration="1s",
                                                                               maxDuration="1ms")
    assert "invalid duration" in search_error(client, minDuration="ten")


def test_search_requires_service_unless_trace_ids(client):
    assert search_error(client, service="") == "parameter 'service' is required"
    body = get(client, "/api/traces?traceID=a&traceID=c&traceID=0bad")
    assert [t["traceID"] for t in body["data"]] == ["000000000000000a", "000000000000000c"]
    assert body["errors"] == [{"code": 404, "msg": "trace not found", "traceID": "0000000000000bad"}]


def test_dependencies(client):
    end_ms = BASE_NS // 10**6 + 10_000
    body = get(client, f"/api/dependencies?endTs={end_ms}&lookback=60000")
    assert body["data"] == [{"parent": "frontend", "child": "backend", "callCount": 1}]
    assert get(client, f"/api/dependencies?endTs={end_ms - 60_000}&lookback=1000")["data"] == []
    assert "unable to parse param 'endTs'" in get(client, "/api/dependencies?endTs=x", status=400)["errors"][0]["msg"]


def test_archive_is_accepted(client):
    assert client.post("/api/archive/a").status_code == 200


def test_go_durations():
    from datetime import timedelta

    from pyconnector.jaeger import parse_go_duration

    assert parse_go_duration("1h15m30.5s") == timedelta(hours=1, minutes=15, seconds=30.5)
    assert parse_go_duration("500us") == timedelta(microseconds=500)
    assert parse_go_duration("1.5µs") == timedelta(microseconds=1.5)
    assert parse_go_duration("0") == timedelta(0)
    for bad in ("", "1", "1d", "ms", "1.2.3s"):
        with pytest.raises(ValueError):
            parse_go_duration(bad)


def test_trace_by_id_with_grafana_time_params(client):
    inside = f"start={START_US - 10**6}&end={START_US + 10**6}"
    assert len(get(client, f"/api/traces/a?{inside}")["data"][0]["spans"]) == 5
    outside = f"start={START_US + 10**9}&end={START_US + 2 * 10**9}"
    assert get(client, f"/api/traces/a?{outside}", status=404)["errors"][0]["msg"] == "trace not found"


@pytest.mark.parametrize("url, message", [
    ("/api/traces?service=frontend&limit=99999999999999999999", "out of the 64-bit integer range"),
    ("/api/traces?service=frontend&limit=10001", "a search returns at most 10000 traces"),
    ("/api/traces?service=frontend&end=9223372036854775807", "outside the years 1 to 9999"),
    ("/api/traces?service=frontend&end=-62135596800000000", "reaches before the year 1"),
    ("/api/dependencies?endTs=9223372036854775808", "out of the 64-bit integer range"),
    ("/api/dependencies?endTs=9223372036854775807", "outside the years 1 to 9999"),
    ("/api/dependencies?lookback=9223372036854775807", "beyond any time range"),
    ("/api/traces/b?start=-9223372036854775808", "outside the years 1 to 9999"),
])
def test_out_of_range_numbers_are_400_not_500(client, url, message):
    assert message in get(client, url, status=400)["errors"][0]["msg"]


def test_a_search_stays_within_the_query_timeout(trace_config, db):
    """Every statement of a request gets what is left of --query-timeout: a search is two
    queries, and ran 4.3 s with a 3 s timeout."""
    from dataclasses import replace

    from pyconnector import create_app
    from pyconnector.db import Database, QueryTimeout, TimeBudget

    db, budget = Database(trace_config.db_uri), TimeBudget(400)
    assert db.query("SELECT 1 FROM pg_sleep(0.25)", timeout_ms=budget.left_ms()) == [(1,)]
    with pytest.raises(QueryTimeout):  # 250 ms more would pass 400: cancelled at ~150
        db.query("SELECT 1 FROM pg_sleep(0.25)", timeout_ms=budget.left_ms())
    response = Client(create_app(replace(trace_config, query_timeout=1_000_000))).get(
        "/api/traces?service=frontend&start=0")
    assert response.status_code == 503
    assert json.loads(response.data)["errors"][0]["msg"] == "query timed out after 1 ms (--query-timeout)"
