"""OTLP/gRPC authentication in the server's interceptor: UNAUTHENTICATED without a valid
credential, PERMISSION_DENIED for a role that may not write, the export itself otherwise,
with the caller's identity (and tenant) current while it runs."""

from __future__ import annotations

import base64
from dataclasses import replace

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from pyconnector import auth
from pyconnector.otlp import grpc_server
from test_otlp_grpc import one_span

WRITE_TOKEN = "write-token-0123456789"
READ_TOKEN = "read-token-0123456789"


@pytest.fixture
def seen_identities(monkeypatch) -> list:
    """The identity current in each Export call (patched before the server binds its servicer)."""
    seen = []
    export = grpc_server.TraceService.Export

    def observed(self, request, context):
        seen.append(auth.current_identity())
        return export(self, request, context)

    monkeypatch.setattr(grpc_server.TraceService, "Export", observed)
    return seen


@pytest.fixture
def secured_stub(trace_config, tmp_path, seen_identities):
    (tmp_path / "tokens").write_text(f"{WRITE_TOKEN} write team-a\n{READ_TOKEN} read\n")
    (tmp_path / "password").write_text("basic-password\n")
    config = replace(trace_config, auth_token_file=str(tmp_path / "tokens"), auth_username="otel",
                     auth_password_file=str(tmp_path / "password"))
    server, port = grpc_server.create_server(config)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield trace_service_pb2_grpc.TraceServiceStub(channel)
    channel.close()
    server.stop(grace=None).wait()


@pytest.mark.parametrize("metadata, code", [
    ((), grpc.StatusCode.UNAUTHENTICATED),
    ((("authorization", "Bearer " + WRITE_TOKEN + "x"),), grpc.StatusCode.UNAUTHENTICATED),
    ((("authorization", "Basic " + base64.b64encode(b"otel:wrong").decode()),), grpc.StatusCode.UNAUTHENTICATED),
    ((("authorization", "Bearer " + READ_TOKEN),), grpc.StatusCode.PERMISSION_DENIED),
])
def test_refused_calls_store_nothing(secured_stub, db, metadata, code):
    with pytest.raises(grpc.RpcError) as failure:
        secured_stub.Export(one_span(), metadata=metadata, timeout=10)
    assert failure.value.code() == code
    assert WRITE_TOKEN not in failure.value.details() and READ_TOKEN not in failure.value.details()
    assert db.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 0


def test_a_writer_exports_as_its_identity(secured_stub, seen_identities, db):
    secured_stub.Export(one_span(), metadata=(("authorization", "Bearer " + WRITE_TOKEN),), timeout=10)
    basic = "Basic " + base64.b64encode(b"otel:basic-password").decode()
    secured_stub.Export(one_span(span_id=b"\x03" * 8), metadata=(("authorization", basic),), timeout=10)
    assert db.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 2
    # the basic-auth user may choose a tenant with X-Scope-OrgID ("*", pyconnector/tenancy.py)
    assert [(i.role, i.tenant) for i in seen_identities] == [(auth.WRITE, "team-a"), (auth.ADMIN, "*")]
    assert auth.current_identity() is None
