"""OTLP/HTTP details the SDK exporter does not exercise: JSON bodies (hex ids, int64 strings,
unknown fields), every field of the data model, partial success, and bad input (400/413/415
with a google.rpc.Status body, nothing stored)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from werkzeug.test import Client

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"
PARENT = "eee19b7ec3c1b173"
T0 = 1_700_000_000_123_456_789
JSON_HEADERS = {"Content-Type": "application/json"}
PB_HEADERS = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def client(connector):
    return Client(connector)


def json_request(**span_overrides) -> dict:
    span = {
        "traceId": TRACE, "spanId": SPAN, "parentSpanId": PARENT, "traceState": "congo=t61rcWkgMzE",
        "flags": 769, "name": "GET /json", "kind": 2,
        "startTimeUnixNano": str(T0), "endTimeUnixNano": T0 + 1_500_000,
        "attributes": [
            {"key": "s", "value": {"stringValue": "x"}},
            {"key": "i", "value": {"intValue": "-9007199254740993"}},
            {"key": "d", "value": {"doubleValue": 2.5}},
            {"key": "whole", "value": {"doubleValue": 4.0}},
            {"key": "huge", "value": {"doubleValue": 1e300}},
            {"key": "nan", "value": {"doubleValue": "NaN"}},
            {"key": "b", "value": {"boolValue": False}},
            {"key": "raw", "value": {"bytesValue": base64.b64encode(b"\x00\xffbin").decode()}},
            {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 1}]}}},
            {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}}},
            {"key": "empty", "value": {}},
        ],
        "droppedAttributesCount": 1,
        "events": [{"timeUnixNano": str(T0 + 1000), "name": "ev", "droppedAttributesCount": 2,
                    "attributes": [{"key": "e", "value": {"intValue": 5}}]}],
        "droppedEventsCount": 3,
        "links": [{"traceId": TRACE.upper(), "spanId": PARENT, "traceState": "a=b", "flags": 1,
                   "attributes": [{"key": "l", "value": {"stringValue": "v"}}], "droppedAttributesCount": 4}],
        "droppedLinksCount": 5,
        "status": {"code": 2, "message": "boom"},
        "someFutureField": {"ignored": True},
    }
    span.update(span_overrides)
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}},
                                    {"key": "host.name", "value": {"stringValue": "h1"}}],
                     "droppedAttributesCount": 6},
        "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
        "scopeSpans": [{"scope": {"name": "lib", "version": "1.0", "droppedAttributesCount": 7,
                                  "attributes": [{"key": "scope.attr", "value": {"stringValue": "sa"}}]},
                        "schemaUrl": "https://opentelemetry.io/schemas/1.20.0",
                        "spans": [span]}],
    }]}


# an attribute value nested 300 arrays deep: JSON that json.loads takes (900 levels), an
# AnyValue past the protobuf parser's depth limit (the text is built by hand: json.dumps
# itself would stop at that depth)
DEEP_VALUE = '{"arrayValue": {"values": [' * 300 + '{"stringValue": "leaf"}' + "]}}" * 300


def post_json(client, document, headers=JSON_HEADERS):
    return client.post("/v1/traces", data=json.dumps(document), headers=headers)


def span_count(db) -> int:
    return db.execute("SELECT (SELECT count(*) FROM _ps_trace.span) + (SELECT count(*) FROM _ps_trace.event) "
                      "+ (SELECT count(*) FROM _ps_trace.link)").fetchone()[0]


def test_json_request_keeps_every_field(client, db):
    response = post_json(client, json_request())
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    assert response.get_json() == {}
    row = db.execute(
        "SELECT service_name, span_name, span_kind, start_time_unix_nano, end_time_unix_nano, "
        "ps_trace.span_id_hex(parent_span_id), trace_state, flags, span_tags, dropped_tags_count, "
        "dropped_events_count, dropped_link_count, status_code, status_message, instrumentation_lib_name, "
        "instrumentation_lib_version, instrumentation_lib_schema_url, instrumentation_lib_tags, "
        "instrumentation_lib_dropped_tags_count, resource_tags, resource_dropped_tags_count, resource_schema_url "
        "FROM ps_trace.span WHERE trace_id = ps_trace.trace_id(%s) AND span_id = ps_trace.span_id(%s)",
        (TRACE, SPAN)).fetchone()
    assert row == (
        "json-svc", "GET /json", "server", T0, T0 + 1_500_000, PARENT, "congo=t61rcWkgMzE", 769,
        {"s": "x", "i": -9007199254740993, "d": 2.5, "whole": 4.0, "huge": {"double": "1e+300"},
         "nan": {"double": "NaN"}, "b": False, "raw": {"bytes": base64.b64encode(b"\x00\xffbin").decode()},
         "arr": ["a", 1], "map": {"kvlist": {"k": True}}, "empty": None},
        1, 3, 5, "error", "boom", "lib", "1.0", "https://opentelemetry.io/schemas/1.20.0", {"scope.attr": "sa"}, 7,
        {"service.name": "json-svc", "host.name": "h1"}, 6, "https://opentelemetry.io/schemas/1.21.0")
    assert isinstance(row[8]["whole"], float)
    assert db.execute("SELECT name, time_unix_nano, tags, dropped_tags_count FROM ps_trace.event").fetchall() == [
        ("ev", T0 + 1000, {"e": 5}, 2)]
    assert db.execute("SELECT ps_trace.trace_id_hex(linked_trace_id), ps_trace.span_id_hex(linked_span_id), "
                      "trace_state, flags, link_tags, dropped_tags_count FROM ps_trace.link").fetchall() == [
        (TRACE, PARENT, "a=b", 1, {"l": "v"}, 4)]


def test_protobuf_response_and_empty_request(client, db):
    response = client.post("/v1/traces", data=ExportTraceServiceRequest().SerializeToString(), headers=PB_HEADERS)
    assert response.status_code == 200
    assert response.mimetype == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(response.data).HasField("partial_success")
    assert post_json(client, {}).status_code == 200
    assert span_count(db) == 0


def test_end_before_start_is_swapped_and_reported_as_partial_success(client, db):
    response = post_json(client, json_request(startTimeUnixNano=str(T0 + 10), endTimeUnixNano=str(T0)))
    assert response.status_code == 200
    assert response.get_json() == {"partialSuccess": {
        "errorMessage": "1 span(s) ended before they started; stored with start and end swapped"}}
    assert db.execute("SELECT start_time_unix_nano, end_time_unix_nano FROM ps_trace.span").fetchone() == (T0, T0 + 10)


def test_ids_ending_in_zero_bytes_round_trip(client, db):
    trace, span = "0123456789abcdef0000000000000000", "8000000000000000"
    assert post_json(client, json_request(traceId=trace, spanId=span, parentSpanId="", links=[])).status_code == 200
    assert db.execute("SELECT ps_trace.trace_id_hex(trace_id), ps_trace.span_id_hex(span_id), parent_span_id "
                      "FROM ps_trace.span").fetchone() == (trace, span, None)


def rpc_status(response) -> tuple[int, str]:
    if response.mimetype == "application/json":
        body = response.get_json()
        return body["code"], body["message"]
    data = response.data
    assert data[0] == 0x08
    code = data[1]
    assert data[2] == 0x12
    return code, data[4:].decode() if data[3] < 0x80 else data[5:].decode()


@pytest.mark.parametrize("document, fragment", [
    (json_request(traceId="abcd"), "trace_id must be 16 bytes, got 2"),
    (json_request(spanId="00" * 8), "span_id is all zeros"),
    (json_request(traceId="00" * 16), "trace_id is all zeros"),
    (json_request(parentSpanId="0102"), "parent_span_id must be empty or 8 bytes"),
    (json_request(spanId="zz" * 8), "spanId is not valid hex"),
    (json_request(traceId=""), "trace_id must be 16 bytes, got 0"),
    (json_request(links=[{"traceId": TRACE, "spanId": "01"}]), "links[0]: span_id must be 8 bytes"),
    (json_request(kind="SPAN_KIND_SERVER", name=5), "malformed ExportTraceServiceRequest JSON"),
    ({"resourceSpans": "nope"}, "malformed ExportTraceServiceRequest JSON"),
])
def test_invalid_json_spans_answer_400_and_store_nothing(client, db, document, fragment):
    good = json_request(spanId="0000000000000001")["resourceSpans"][0]
    if "resourceSpans" in document and isinstance(document["resourceSpans"], list):
        document["resourceSpans"].insert(0, good)  # a valid span in the same request is not stored either
    response = post_json(client, document)
    assert response.status_code == 400
    code, message = rpc_status(response)
    assert code == 3 and fragment in message
    assert span_count(db) == 0


@pytest.mark.parametrize("body, fragment", [
    (b"{not json", "invalid JSON body"),
    (b"[1, 2]", "must be an ExportTraceServiceRequest object"),
    ("\udcff".encode("utf-8", "surrogatepass"), "invalid JSON body"),
    (b"[" * 100_000 + b"]" * 100_000, "invalid JSON body: nested more than"),  # answered 500 (RecursionError)
    (json.dumps(json_request(attributes=[{"key": "k", "value": "DEEP"}])).replace('"DEEP"', DEEP_VALUE).encode(),
     "Message too deep"),
])
def test_invalid_json_body(client, db, body, fragment):
    response = client.post("/v1/traces", data=body, headers=JSON_HEADERS)
    assert response.status_code == 400
    assert fragment in rpc_status(response)[1]


def test_garbage_protobuf_is_400(client, db):
    response = client.post("/v1/traces", data=b"\xff\xff\xff\xff garbage", headers=PB_HEADERS)
    assert response.status_code == 400
    assert response.mimetype == "application/x-protobuf"
    code, message = rpc_status(response)
    assert code == 3 and "malformed protobuf ExportTraceServiceRequest" in message
    assert span_count(db) == 0


def test_wrong_id_length_in_protobuf_is_400(client, db):
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = b"\x01" * 15, b"\x02" * 8, "short"
    response = client.post("/v1/traces", data=request.SerializeToString(), headers=PB_HEADERS)
    assert response.status_code == 400
    assert "trace_id must be 16 bytes, got 15" in rpc_status(response)[1]
    assert span_count(db) == 0


def test_nul_in_a_string_is_rejected_by_the_database_as_400(client, db):
    response = post_json(client, json_request(name="bad\u0000name"))
    assert response.status_code == 400
    assert "the database rejected the spans" in rpc_status(response)[1]
    assert span_count(db) == 0


def test_compressed_bodies(client, db):
    document = json.dumps(json_request()).encode()
    assert client.post("/v1/traces", data=gzip.compress(document),
                       headers={**JSON_HEADERS, "Content-Encoding": "gzip"}).status_code == 200
    raw = zlib.compressobj(wbits=-15)
    raw_deflate = raw.compress(document) + raw.flush()
    assert client.post("/v1/traces", data=raw_deflate,
                       headers={**JSON_HEADERS, "Content-Encoding": "deflate"}).status_code == 200
    response = client.post("/v1/traces", data=b"not gzip", headers={**JSON_HEADERS, "Content-Encoding": "gzip"})
    assert response.status_code == 400 and "malformed gzip body" in rpc_status(response)[1]
    response = client.post("/v1/traces", data=gzip.compress(document)[:-12],
                           headers={**JSON_HEADERS, "Content-Encoding": "gzip"})
    assert response.status_code == 400
    response = client.post("/v1/traces", data=document, headers={**JSON_HEADERS, "Content-Encoding": "br"})
    assert response.status_code == 415 and "Content-Encoding 'br'" in rpc_status(response)[1]
    assert db.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 1


def test_oversized_bodies_are_413(client, db, trace_config):
    too_big = b"x" * (trace_config.max_body_bytes + 1)
    response = client.post("/v1/traces", data=too_big, headers=PB_HEADERS)
    assert response.status_code == 413
    assert "over the limit" in rpc_status(response)[1]
    # a small gzip body that inflates past the decoded limit (a zip bomb)
    bomb = gzip.compress(b"\x00" * (trace_config.max_decoded_bytes + 1))
    assert len(bomb) < trace_config.max_body_bytes
    response = client.post("/v1/traces", data=bomb, headers={**PB_HEADERS, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed body is over the limit" in rpc_status(response)[1]
    assert span_count(db) == 0


def test_other_content_types_are_415(client, db):
    response = client.post("/v1/traces", data=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert "OTLP/HTTP needs application/x-protobuf or application/json" in rpc_status(response)[1]


def test_database_down_is_503_with_retry_after(tmp_path, trace_config):
    from dataclasses import replace

    from pyconnector import create_app

    down = create_app(replace(trace_config, db_uri="postgresql://nobody@127.0.0.1:1/none", db_connect_timeout=1))
    response = Client(down).post("/v1/traces", data=json.dumps(json_request()), headers=JSON_HEADERS)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert rpc_status(response)[0] == 14


def test_concurrent_requests_creating_the_same_services(http_url, db):
    """New resources, scopes and operations created by concurrent transactions resolve to one id each."""
    import threading

    import requests as http

    from support.traces import PB_HEADERS, S, request_of

    bodies = [request_of([S(0x1000 + n, m + 1, None, f"op{m % 3}", f"svc{m % 2}", m) for m in range(30)])
              .SerializeToString() for n in range(8)]
    statuses: list[int] = []

    def send(body: bytes) -> None:
        statuses.append(http.post(f"{http_url}/v1/traces", data=body, headers=PB_HEADERS, timeout=30).status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 240
    assert db.execute("SELECT count(*) FROM _ps_trace.operation").fetchone()[0] == 6
    assert db.execute("SELECT count(*) FROM _ps_trace.resource").fetchone()[0] == 2
