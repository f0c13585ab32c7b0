"""OTLP/gRPC error codes with a raw TraceService stub, and the exporter's reaction to them."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult

from support.otel_workload import run_workload


@pytest.fixture
def stub(grpc_endpoint):
    channel = grpc.insecure_channel(grpc_endpoint)
    yield trace_service_pb2_grpc.TraceServiceStub(channel)
    channel.close()


def one_span(trace_id: bytes = b"\x01" * 16, span_id: bytes = b"\x02" * 8) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "grpc-raw"
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = trace_id, span_id, "op"
    span.start_time_unix_nano, span.end_time_unix_nano = 1_000_000_000, 2_000_000_000  # 1970: partitions on demand
    return request


def test_valid_export(stub, db):
    response = stub.Export(one_span(), timeout=10)
    assert not response.HasField("partial_success")
    assert db.execute("SELECT service_name, start_time FROM ps_trace.span").fetchone()[0] == "grpc-raw"


def test_wrong_id_length_is_invalid_argument(stub, db):
    with pytest.raises(grpc.RpcError) as failure:
        stub.Export(one_span(span_id=b"\x02" * 7), timeout=10)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "span_id must be 8 bytes, got 7" in failure.value.details()
    assert db.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 0


def test_oversized_message_is_resource_exhausted(stub, trace_config, db):
    request = one_span()
    request.resource_spans[0].scope_spans[0].spans[0].name = "x" * (trace_config.max_decoded_bytes + 1)
    with pytest.raises(grpc.RpcError) as failure:
        stub.Export(request, timeout=10)
    assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert db.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 0


def test_database_down_is_unavailable(trace_config):
    from dataclasses import replace

    from pyconnector.otlp.grpc_server import create_server

    server, port = create_server(replace(trace_config, db_uri="postgresql://nobody@127.0.0.1:1/none",
                                         db_connect_timeout=1))
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.RpcError) as failure:
                trace_service_pb2_grpc.TraceServiceStub(channel).Export(one_span(), timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(None).wait()


def test_exporter_reports_failure_without_retrying_invalid_argument(grpc_endpoint, db):
    exporter = GrpcExporter(endpoint=grpc_endpoint, insecure=True, timeout=10)
    spans = run_workload(exporter, tag="ok")
    # same spans with a corrupt id: INVALID_ARGUMENT is not retryable, the export fails at once
    bad = spans[0]
    bad._context = bad.get_span_context().__class__(0, bad.get_span_context().span_id, False)
    assert exporter.export([bad]) == SpanExportResult.FAILURE
    assert db.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 7


def test_a_second_server_cannot_bind_the_same_port(trace_config):
    """With gRPC's default SO_REUSEPORT, both bound and the kernel split the exports between them."""
    from dataclasses import replace

    from pyconnector.otlp.grpc_server import create_server

    first, port = create_server(trace_config)
    first.start()
    try:
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port} for OTLP/gRPC"):
            create_server(replace(trace_config, otlp_grpc_listen=f"127.0.0.1:{port}"))
    finally:
        first.stop(grace=None)
