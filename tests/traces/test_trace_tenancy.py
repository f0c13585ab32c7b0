"""Multitenancy of traces (--multi-tenancy; docs/traces.md "Tenants"): two tenants and a sender
without tenant send identical traces (same service and operation names, trace and span ids,
times) with the real OpenTelemetry SDK exporters, over OTLP/HTTP and OTLP/gRPC; no answer of the
Jaeger API nor of any trace SQL function or view given to team-a contains anything of team-b or
of the spans without tenant, before and after packing. Each sender also has a service and
secret of its own, so that a leak shows as a name, a secret or a doubled count."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace

import grpc
import psycopg
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanKind, set_span_in_context
from psycopg.conninfo import conninfo_to_dict
from werkzeug.serving import make_server

from pyconnector import Config, create_app
from pyconnector.otlp.grpc_server import create_server
from support.leaks import values_seen
from test_otlp_grpc import one_span

A_TOKEN = "trace-tenant-a-token-0123456789"
ANY_TOKEN = "trace-any-tenant-token-0123456789"
PLAIN_TOKEN = "trace-no-tenant-token-0123456789"
SECRET = {"team-a": "a-secret", "team-b": "b-secret", "": "nobody-secret"}
OTHERS = ("b-secret", "nobody-secret", "team-b")
T0 = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC, ns
TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C
TRACE = f"{TRACE_ID:032x}"
WINDOW = "'2023-12-31 00:00+00', '2024-01-02 00:00+00'"
JAEGER_WINDOW = {"start": str(T0 // 1000 - 3_600_000_000), "end": str(T0 // 1000 + 3_600_000_000)}
SPANS_PER_SENDER = 4


class FixedIds(IdGenerator):
    """The same trace id and span ids 1, 2, 3... for every sender."""

    def __init__(self) -> None:
        self.last = 0

    def generate_span_id(self) -> int:
        self.last += 1
        return self.last

    def generate_trace_id(self) -> int:
        return TRACE_ID


def send(exporter: SpanExporter, secret: str) -> None:
    """One trace: frontend → backend → its database call, and frontend → the sender's own service;
    the secret in span, event and link attributes."""
    ids = FixedIds()

    def tracer(service: str):
        provider = TracerProvider(resource=Resource.create({"service.name": service}), id_generator=ids,
                                  shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        return provider.get_tracer("shop")

    frontend, backend, own = tracer("frontend"), tracer("backend"), tracer(f"own-{secret}")
    root = frontend.start_span("GET /checkout", kind=SpanKind.SERVER, attributes={"secret": secret},
                               start_time=T0)
    root.add_event("cache miss", {"secret": secret}, timestamp=T0 + 1_000)
    child = backend.start_span("price cart", context=set_span_in_context(root), kind=SpanKind.SERVER,
                               attributes={"secret": secret}, start_time=T0 + 10_000,
                               links=[Link(root.get_span_context(), {"secret": secret})])
    query = backend.start_span("SELECT rates", context=set_span_in_context(child), kind=SpanKind.CLIENT,
                               start_time=T0 + 20_000)
    query.end(T0 + 30_000)
    child.end(T0 + 40_000)
    mine = own.start_span("own work", context=set_span_in_context(root), kind=SpanKind.SERVER,
                          start_time=T0 + 50_000)
    mine.end(T0 + 60_000)
    root.end(T0 + 100_000)


@pytest.fixture(scope="module")
def db_name(module_db_uri) -> str:
    return conninfo_to_dict(module_db_uri)["dbname"]


@pytest.fixture(scope="module")
def config(pg_cluster, db_name, tmp_path_factory) -> Config:
    tmp = tmp_path_factory.mktemp("trace-tenancy")
    (tmp / "tokens").write_text(f"{A_TOKEN} admin team-a\n{ANY_TOKEN} admin *\n{PLAIN_TOKEN} admin\n")
    return Config(db_uri=pg_cluster.uri(db_name, "promscale_writer"), telemetry_dir=str(tmp / "telemetry"),
                  auth_token_file=str(tmp / "tokens"), multi_tenancy=True, multi_tenancy_allow_non_tenants=True,
                  otlp_grpc_listen="127.0.0.1:0", threads=4)


@pytest.fixture(scope="module")
def http_url(config) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def grpc_endpoint(config) -> Iterator[str]:
    server, port = create_server(config)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None).wait()


@pytest.fixture(scope="module")
def admin(module_db_uri) -> Iterator[psycopg.Connection]:
    with psycopg.connect(module_db_uri, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def sent(http_url, grpc_endpoint, admin) -> None:
    """team-a over OTLP/HTTP (its token's tenant), team-b over OTLP/gRPC (x-scope-orgid metadata),
    and a sender without tenant over OTLP/HTTP."""
    send(HttpExporter(endpoint=f"{http_url}/v1/traces", headers={"Authorization": "Bearer " + A_TOKEN}), "a-secret")
    send(GrpcExporter(endpoint=grpc_endpoint, insecure=True,
                      headers={"authorization": "Bearer " + ANY_TOKEN, "x-scope-orgid": "team-b"}), "b-secret")
    send(HttpExporter(endpoint=f"{http_url}/v1/traces", headers={"Authorization": "Bearer " + PLAIN_TOKEN}),
         "nobody-secret")
    counts = dict(admin.execute("SELECT tenant, count(*) FROM _ps_trace.span GROUP BY 1").fetchall())
    assert counts == {"team-a": SPANS_PER_SENDER, "team-b": SPANS_PER_SENDER, "": SPANS_PER_SENDER}


@pytest.fixture(scope="module", params=["rows", "packed"])
def stored(request, sent, admin) -> str:
    """The spans in row partitions, then packed (one packed row per trace and tenant)."""
    if request.param == "packed":
        admin.execute("SELECT ps_trace.pack_trace_partitions('infinity')")
        assert admin.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == 0
        assert admin.execute("SELECT count(*), count(DISTINCT tenant) FROM _ps_trace.span_packed").fetchone() == (3, 3)
    return request.param


@pytest.fixture(scope="module")
def analyst(pg_cluster, db_name, admin, sent) -> Iterator[psycopg.Connection]:
    """An SQL user of team-a (prom_api.grant_tenant)."""
    admin.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trace_analyst') "
                  "THEN CREATE ROLE trace_analyst LOGIN; END IF; END $$")
    admin.execute("SELECT prom_api.grant_tenant('trace_analyst', 'team-a')")
    with psycopg.connect(pg_cluster.uri(db_name, "trace_analyst"), autocommit=True) as conn:
        yield conn
    admin.execute("SELECT prom_api.revoke_tenant('trace_analyst', 'team-a')")


def jaeger(http_url: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{http_url}/api{path}", params=params, timeout=30,
                        headers={"Authorization": "Bearer " + A_TOKEN})


JAEGER_READS = [
    ("/services", {}),
    ("/services/frontend/operations", {}),
    ("/services/own-b-secret/operations", {}),
    ("/operations", {"service": "frontend"}),
    ("/operations", {"service": "backend", "spanKind": "client"}),
    ("/traces", {"service": "frontend", **JAEGER_WINDOW}),
    ("/traces", {"service": "backend", "operation": "price cart", **JAEGER_WINDOW}),
    ("/traces", {"service": "frontend", "tags": json.dumps({"secret": "b-secret"}), **JAEGER_WINDOW}),
    ("/traces", {"service": "own-b-secret", **JAEGER_WINDOW}),
    ("/traces", {"traceID": TRACE}),
    (f"/traces/{TRACE}", {}),
    ("/dependencies", {"endTs": str(T0 // 10**6 + 3_600_000), "lookback": str(7_200_000)}),
]


@pytest.mark.parametrize("path, params", JAEGER_READS)
def test_jaeger_answers_of_a_tenant_hold_nothing_of_others(stored, http_url, path, params):
    response = jaeger(http_url, path, **params)
    assert response.status_code in (200, 404), response.text
    assert not any(other in response.text for other in OTHERS), response.text


def test_jaeger_shows_a_tenant_its_own_trace_once(stored, http_url):
    services = jaeger(http_url, "/services").json()["data"]
    assert services == ["backend", "frontend", "own-a-secret"]
    traces = jaeger(http_url, f"/traces/{TRACE}").json()["data"]
    assert len(traces) == 1 and len(traces[0]["spans"]) == SPANS_PER_SENDER
    processes = traces[0]["processes"].values()
    # the tenant is stored as the resource attribute __tenant__ (Jaeger's process tags)
    assert all({"key": "__tenant__", "type": "string", "value": "team-a"} in p["tags"] for p in processes)
    found = jaeger(http_url, "/traces", service="frontend", tags=json.dumps({"secret": "a-secret"}),
                   **JAEGER_WINDOW).json()["data"]
    assert [t["traceID"] for t in found] == [TRACE]
    assert sorted(s["operationName"] for s in found[0]["spans"]) == ["GET /checkout", "SELECT rates", "own work",
                                                                      "price cart"]
    deps = jaeger(http_url, "/dependencies", endTs=str(T0 // 10**6 + 3_600_000), lookback="7200000").json()["data"]
    assert sorted((d["parent"], d["child"], d["callCount"]) for d in deps) == [
        ("frontend", "backend", 1), ("frontend", "own-a-secret", 1)]


SPAN = "ps_trace.span_id('{:016x}')"
SQL_READS = [
    "SELECT json_agg(s) FROM ps_trace.span s",
    f"SELECT json_agg(s) FROM ps_trace.span s WHERE trace_id = ps_trace.trace_id('{TRACE}')",
    "SELECT json_agg(e) FROM ps_trace.event e",
    "SELECT json_agg(l) FROM ps_trace.link l",
    "SELECT json_agg(o) FROM ps_trace.operation o",
    f"SELECT json_agg(s) FROM ps_trace.span_between({WINDOW}) s",
    f"SELECT json_agg(t) FROM ps_trace.trace_tree(ps_trace.trace_id('{TRACE}')) t",
    f"SELECT json_agg(t) FROM ps_trace.upstream_spans(ps_trace.trace_id('{TRACE}'), {SPAN.format(3)}) t",
    f"SELECT json_agg(t) FROM ps_trace.downstream_spans(ps_trace.trace_id('{TRACE}'), {SPAN.format(1)}) t",
    f"SELECT json_agg(t) FROM ps_trace.span_tree(ps_trace.trace_id('{TRACE}'), {SPAN.format(2)}) t",
    f"SELECT json_agg(c) FROM ps_trace.operation_calls({WINDOW}) c "
    "JOIN ps_trace.operation o ON o.id = c.child_operation_id",
    "SELECT json_agg(s) FROM ps_trace.get_services() s",
    "SELECT json_agg(o) FROM ps_trace.get_operations('frontend') o",
    "SELECT json_agg(o) FROM ps_trace.get_operations('own-b-secret') o",
    f"SELECT json_agg(t) FROM ps_trace.find_trace_ids('frontend', NULL, NULL, {WINDOW}, NULL, NULL, 10) t",
    f"SELECT json_agg(t) FROM ps_trace.find_trace_ids('own-b-secret', NULL, NULL, {WINDOW}, NULL, NULL, 10) t",
    f"SELECT json_agg(t) FROM ps_trace.find_trace_ids('frontend', NULL, '{{\"secret\": \"b-secret\"}}', {WINDOW}, "
    "NULL, NULL, 10) t",
    f"SELECT json_agg(t) FROM ps_trace.get_trace_spans(ARRAY[ps_trace.trace_id('{TRACE}')]) t",
    f"SELECT json_agg(d) FROM ps_trace.get_dependencies({WINDOW}) d",
]


@pytest.mark.parametrize("sql", SQL_READS)
def test_an_analyst_of_a_tenant_sees_nothing_of_others(stored, analyst, sql):
    text = str(analyst.execute(sql).fetchone()[0])
    assert not any(other in text for other in OTHERS), text


@pytest.mark.parametrize("sql, expected", [
    ("SELECT count(*) FROM ps_trace.span", SPANS_PER_SENDER),
    ("SELECT count(*) FROM ps_trace.event", 1),
    ("SELECT count(*) FROM ps_trace.link", 1),
    (f"SELECT count(*) FROM ps_trace.span_between({WINDOW})", SPANS_PER_SENDER),
    (f"SELECT count(*) FROM ps_trace.trace_tree(ps_trace.trace_id('{TRACE}'))", SPANS_PER_SENDER),
    (f"SELECT count(*) FROM ps_trace.upstream_spans(ps_trace.trace_id('{TRACE}'), {SPAN.format(3)})", 3),
    (f"SELECT count(*) FROM ps_trace.downstream_spans(ps_trace.trace_id('{TRACE}'), {SPAN.format(1)})",
     SPANS_PER_SENDER),
    (f"SELECT sum(cnt) FROM ps_trace.operation_calls({WINDOW})", 3),
    ("SELECT string_agg(s, ',') FROM ps_trace.get_services() s", "backend,frontend,own-a-secret"),
    (f"SELECT count(*) FROM ps_trace.get_trace_spans(ARRAY[ps_trace.trace_id('{TRACE}')])", SPANS_PER_SENDER),
    (f"SELECT string_agg(events::text, '') FROM ps_trace.get_trace_spans(ARRAY[ps_trace.trace_id('{TRACE}')])",
     '[{"name": "cache miss", "attributes": {"secret": "a-secret"}, "time_unix_nano": %d}]' % (T0 + 1_000)),
    (f"SELECT sum(call_count) FROM ps_trace.get_dependencies({WINDOW})", 2),
    ("SELECT string_agg(DISTINCT tenant, ',') FROM ps_trace.span", "team-a"),
])
def test_an_analyst_sees_its_tenants_trace_whole(stored, analyst, sql, expected):
    assert analyst.execute(sql).fetchone()[0] == expected


def test_an_analyst_reads_no_trace_table(stored, analyst):
    for table in ("_ps_trace.span", "_ps_trace.span_packed", "_ps_trace.operation", "_ps_trace.resource",
                  "_ps_trace.chunk", "_ps_trace.pack_dictionary"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute(f"SELECT 1 FROM {table} LIMIT 1")


def test_an_analyst_gets_no_other_tenants_pack_dictionary(stored, analyst, admin):
    if stored != "packed":  # dictionaries exist once packed
        assert admin.execute("SELECT count(*) FROM _ps_trace.pack_dictionary").fetchone()[0] == 0
        return
    chunk = admin.execute("SELECT chunk_id FROM _ps_trace.pack_dictionary WHERE tenant = 'team-b'").fetchone()[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not visible"):
        analyst.execute("SELECT _ps_trace.get_pack_dictionary(%s, 'team-b')", (chunk,))
    assert analyst.execute("SELECT _ps_trace.get_pack_dictionary(%s, 'team-a') IS NOT NULL", (chunk,)).fetchone()[0]


def test_roles_without_grants_see_every_tenant_or_the_request_tenant(stored, admin):
    count = "SELECT count(*) FROM ps_trace.span"
    assert admin.execute(count).fetchone()[0] == 3 * SPANS_PER_SENDER
    with admin.transaction():
        admin.execute("SELECT prom_api.set_request_tenant('team-b')")
        assert admin.execute("SELECT string_agg(DISTINCT tenant, ',') FROM ps_trace.span").fetchone()[0] == "team-b"
        assert admin.execute("SELECT string_agg(s, ',') FROM ps_trace.get_services() s").fetchone()[0] == \
            "backend,frontend,own-b-secret"
    with admin.transaction():
        admin.execute("SELECT prom_api.set_request_tenant('')")
        assert admin.execute("SELECT string_agg(DISTINCT tenant, ',') || '.' FROM ps_trace.span").fetchone()[0] == "."
        assert admin.execute(count).fetchone()[0] == SPANS_PER_SENDER


# --- writes: the tenant of a span is the request's -------------------------------------------

def with_tenant_attribute(tenant: str):
    request = one_span(trace_id=b"\x07" * 16)
    kv = request.resource_spans[0].resource.attributes.add()
    kv.key, kv.value.string_value = "__tenant__", tenant
    return request


def stored_count(admin) -> int:
    return admin.execute("SELECT count(*) FROM _ps_trace.span_all "
                         "WHERE trace_id = '07070707-0707-0707-0707-070707070707'").fetchone()[0]


@pytest.mark.parametrize("token, header, tenant_attribute", [
    (A_TOKEN, None, "team-b"),
    (ANY_TOKEN, "team-a", "team-b"),
    (PLAIN_TOKEN, None, "team-a"),
])
def test_http_refuses_a_resource_of_another_tenant(sent, http_url, admin, token, header, tenant_attribute):
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/x-protobuf"}
    if header:
        headers["X-Scope-OrgID"] = header
    response = requests.post(f"{http_url}/v1/traces", data=with_tenant_attribute(tenant_attribute).SerializeToString(),
                             headers=headers, timeout=30)
    assert response.status_code == 400
    assert "__tenant__" in response.text and tenant_attribute in response.text
    assert stored_count(admin) == 0


@pytest.fixture
def stub(grpc_endpoint) -> Iterator[trace_service_pb2_grpc.TraceServiceStub]:
    channel = grpc.insecure_channel(grpc_endpoint)
    yield trace_service_pb2_grpc.TraceServiceStub(channel)
    channel.close()


@pytest.mark.parametrize("metadata, request_tenant, code", [
    ((("authorization", "Bearer " + A_TOKEN),), "team-b", grpc.StatusCode.INVALID_ARGUMENT),
    ((("authorization", "Bearer " + A_TOKEN), ("x-scope-orgid", "team-b")), None, grpc.StatusCode.PERMISSION_DENIED),
    ((("authorization", "Bearer " + ANY_TOKEN), ("x-scope-orgid", "bad tenant")), None,
     grpc.StatusCode.INVALID_ARGUMENT),
    ((("authorization", "Bearer " + PLAIN_TOKEN), ("x-scope-orgid", "team-a")), None,
     grpc.StatusCode.PERMISSION_DENIED),
])
def test_grpc_refuses_what_http_refuses(sent, stub, admin, metadata, request_tenant, code):
    request = with_tenant_attribute(request_tenant) if request_tenant else one_span(trace_id=b"\x07" * 16)
    with pytest.raises(grpc.RpcError) as failure:
        stub.Export(request, metadata=metadata, timeout=10)
    assert failure.value.code() == code, failure.value.details()
    assert stored_count(admin) == 0


def test_a_resource_naming_the_requests_tenant_is_stored_for_it(sent, stub, admin):
    stub.Export(with_tenant_attribute("team-a"), metadata=(("authorization", "Bearer " + A_TOKEN),), timeout=10)
    try:
        rows = admin.execute("SELECT s.tenant, r.attributes->>'__tenant__' FROM _ps_trace.span_all s "
                             "JOIN _ps_trace.resource r ON r.id = s.resource_id "
                             "WHERE s.trace_id = '07070707-0707-0707-0707-070707070707'").fetchall()
        assert rows == [("team-a", "team-a")]
    finally:
        admin.execute("DELETE FROM _ps_trace.span WHERE trace_id = '07070707-0707-0707-0707-070707070707'")


def test_grpc_without_authentication_trusts_the_metadata(trace_config, sent, admin):
    """Without --auth-* options (a proxy authenticates), x-scope-orgid names the tenant, as the
    HTTP header does; without it and without --multi-tenancy.allow-non-tenants: UNAUTHENTICATED."""
    server, port = create_server(replace(trace_config, multi_tenancy=True))
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = trace_service_pb2_grpc.TraceServiceStub(channel)
    try:
        with pytest.raises(grpc.RpcError) as failure:
            stub.Export(one_span(trace_id=b"\x07" * 16), timeout=10)
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "X-Scope-OrgID" in failure.value.details()
        stub.Export(one_span(trace_id=b"\x07" * 16), metadata=(("x-scope-orgid", "team-c"),), timeout=10)
        assert admin.execute("SELECT tenant FROM _ps_trace.span WHERE trace_id = '07070707-0707-0707-0707-070707070707'"
                             ).fetchall() == [("team-c",)]
    finally:
        admin.execute("DELETE FROM _ps_trace.span WHERE trace_id = '07070707-0707-0707-0707-070707070707'")
        channel.close()
        server.stop(grace=None).wait()


# An analyst's own function (support/leaks.py), and conditions whose error would tell what a row holds.
@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM ps_trace.span WHERE pg_temp.leak(span_tags)",
    "SELECT count(*) FROM ps_trace.span WHERE pg_temp.leak(resource_tags) AND start_time > '2000-01-01'",
    "SELECT count(*) FROM ps_trace.span WHERE pg_temp.leak(service_name)",
    "SELECT count(*) FROM ps_trace.event WHERE pg_temp.leak(tags)",
    "SELECT count(*) FROM ps_trace.link WHERE pg_temp.leak(link_tags)",
    "SELECT count(*) FROM ps_trace.operation WHERE pg_temp.leak(service_name)",
])
def test_an_analysts_own_function_sees_only_its_tenants_spans(stored, analyst, sql):
    """The trace views are security barriers: a condition of the caller's that is not leakproof runs only
    on rows the tenant filter let through."""
    seen = values_seen(analyst, sql)
    text = "\n".join(seen)
    assert seen, "the function ran on no row: the test would prove nothing"
    assert not any(other in text for other in OTHERS), text


def test_an_error_tells_nothing_of_other_tenants_spans(stored, analyst):
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as raised:
        analyst.execute("SELECT count(*) FROM ps_trace.span WHERE (span_tags->>'secret')::int = 0")
    assert "a-secret" in str(raised.value)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as raised:
        analyst.execute("SELECT count(*) FROM ps_trace.operation WHERE service_name::int = 0")
    assert not any(other in str(raised.value) for other in OTHERS)
