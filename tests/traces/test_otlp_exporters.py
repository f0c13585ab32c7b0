"""The real OpenTelemetry SDK exporters (OTLP/HTTP with gzip and deflate, OTLP/gRPC) send a
multi-service trace; every field read back through SQL and the Jaeger API equals what was sent."""

from __future__ import annotations

import pytest
import requests
from grpc import Compression as GrpcCompression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from support.otel_workload import run_workload

KINDS = {SpanKind.INTERNAL: "internal", SpanKind.SERVER: "server", SpanKind.CLIENT: "client",
         SpanKind.PRODUCER: "producer", SpanKind.CONSUMER: "consumer"}
STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}


def plain(attributes) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (attributes or {}).items()}


def signed(span_id: int) -> int:
    return span_id - (1 << 64) if span_id >= 1 << 63 else span_id


def assert_stored_exactly(db, sent: list[ReadableSpan]) -> None:
    for span in sent:
        ctx = span.get_span_context()
        row = db.execute(
            "SELECT service_name, span_name, span_kind, start_time_unix_nano, end_time_unix_nano, span_tags, "
            "status_code, status_message, parent_span_id, instrumentation_lib_name, instrumentation_lib_version, "
            "resource_tags, trace_state, flags, dropped_tags_count, dropped_events_count, dropped_link_count "
            "FROM ps_trace.span WHERE trace_id = ps_trace.trace_id(%s) AND span_id = %s",
            (f"{ctx.trace_id:032x}", signed(ctx.span_id))).fetchone()
        assert row is not None, f"span {span.name} not stored"
        (service, name, kind, start, end, tags, status, message, parent, lib, lib_version, resource,
         trace_state, flags, dropped_attrs, dropped_events, dropped_links) = row
        assert service == span.resource.attributes["service.name"]
        assert name == span.name
        assert kind == KINDS[span.kind]
        assert (start, end) == (span.start_time, span.end_time)
        assert tags == plain(span.attributes)
        assert status == STATUS[span.status.status_code]
        assert message == (span.status.description or None)
        assert parent == (signed(span.parent.span_id) if span.parent else None)
        assert (lib, lib_version) == (span.instrumentation_scope.name, span.instrumentation_scope.version or "")
        assert resource == plain(span.resource.attributes)
        assert trace_state is None
        # the Python exporter sends only the HAS_IS_REMOTE bit (0x100): these parents are local
        assert flags == 0x100
        assert (dropped_attrs, dropped_events, dropped_links) == (0, 0, 0)
        events = db.execute(
            "SELECT name, time_unix_nano, tags FROM ps_trace.event WHERE trace_id = ps_trace.trace_id(%s) "
            "AND span_id = %s ORDER BY event_nbr", (f"{ctx.trace_id:032x}", signed(ctx.span_id))).fetchall()
        assert events == [(e.name, e.timestamp, plain(e.attributes)) for e in span.events]
        links = db.execute(
            "SELECT ps_trace.trace_id_hex(linked_trace_id), linked_span_id, link_tags FROM ps_trace.link "
            "WHERE trace_id = ps_trace.trace_id(%s) AND span_id = %s ORDER BY link_nbr",
            (f"{ctx.trace_id:032x}", signed(ctx.span_id))).fetchall()
        assert links == [(f"{link.context.trace_id:032x}", signed(link.context.span_id), plain(link.attributes))
                         for link in span.links]


def jaeger_tags(tags: list[dict]) -> dict:
    return {t["key"]: (t["type"], t["value"]) for t in tags}


def assert_jaeger_trace(http_url: str, sent: list[ReadableSpan]) -> None:
    trace_id = sent[0].get_span_context().trace_id
    spans_of_trace = [s for s in sent if s.get_span_context().trace_id == trace_id]
    response = requests.get(f"{http_url}/api/traces/{trace_id:032x}", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "total", "limit", "offset", "errors"} and body["errors"] is None
    [trace] = body["data"]
    assert trace["traceID"] == f"{trace_id:032x}"
    by_id = {s["spanID"]: s for s in trace["spans"]}
    assert set(by_id) == {f"{s.get_span_context().span_id:016x}" for s in spans_of_trace}
    for span in spans_of_trace:
        j = by_id[f"{span.get_span_context().span_id:016x}"]
        assert j["operationName"] == span.name
        assert j["startTime"] == span.start_time // 1000
        assert j["duration"] == (span.end_time - span.start_time) // 1000
        process = trace["processes"][j["processID"]]
        assert process["serviceName"] == span.resource.attributes["service.name"]
        tags = jaeger_tags(j["tags"])
        assert tags["otel.library.name"] == ("string", span.instrumentation_scope.name)
        assert tags["span.kind"] == ("string", KINDS[span.kind])
        if span.status.status_code == StatusCode.ERROR:
            assert tags["otel.status_code"] == ("string", "ERROR")
            assert tags["error"] == ("bool", True)
            assert tags["otel.status_description"] == ("string", span.status.description)
        for key, value in (span.attributes or {}).items():
            expected_type = {bool: "bool", int: "int64", float: "float64", str: "string"}.get(type(value), "string")
            assert tags[key][0] == expected_type
        refs = j["references"]
        if span.parent:
            assert refs[0] == {"refType": "CHILD_OF", "traceID": trace["traceID"],
                               "spanID": f"{span.parent.span_id:016x}"}
        assert len(refs) == (1 if span.parent else 0) + len(span.links)
        assert [log["fields"][0] for log in j["logs"]] == [
            {"key": "event", "type": "string", "value": e.name} for e in span.events]
    # every reference of the trace points at one of its spans (none dangle here)
    assert trace["warnings"] is None
    typed = jaeger_tags(next(s for s in trace["spans"] if s["operationName"] == "GET /checkout")["tags"])
    assert typed["http.status_code"] == ("int64", 200)
    assert typed["cart.total"] == ("float64", 123.45)
    assert typed["zero.float"] == ("float64", 3.0)
    assert typed["user.vip"] == ("bool", True)
    assert typed["cart.items"] == ("string", '["book","pen"]')


@pytest.mark.parametrize("compression", [Compression.Gzip, Compression.Deflate, Compression.NoCompression])
def test_http_exporter_round_trip(http_url, db, compression):
    exporter = HttpExporter(endpoint=f"{http_url}/v1/traces", compression=compression, timeout=10)
    sent = run_workload(exporter, tag=compression.value)
    assert len(sent) == 7
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 7
    assert_stored_exactly(db, sent)
    assert_jaeger_trace(http_url, sent)


@pytest.mark.parametrize("compression", [GrpcCompression.Gzip, GrpcCompression.NoCompression])
def test_grpc_exporter_round_trip(http_url, grpc_endpoint, db, compression):
    exporter = GrpcExporter(endpoint=grpc_endpoint, insecure=True, timeout=10, compression=compression)
    sent = run_workload(exporter, tag="grpc")
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 7
    assert_stored_exactly(db, sent)
    assert_jaeger_trace(http_url, sent)


def test_retried_export_stores_each_span_once(http_url, db):
    exporter = HttpExporter(endpoint=f"{http_url}/v1/traces", timeout=10)
    sent = run_workload(exporter)
    assert exporter.export(sent).name == "SUCCESS"  # the same spans again, as a retry would
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 7
    assert db.execute("SELECT count(*) FROM ps_trace.event").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM ps_trace.link").fetchone()[0] == 1
