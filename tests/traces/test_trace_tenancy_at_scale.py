"""Trace multitenancy at 100,000 spans of 100 tenants with identical service and operation names:
the tenant filter keeps the reads on the span key and the operation index, so a tenant's trace
fetch and search read what they answer, not the other tenants' spans. Asserted on the plans the
calls really run (auto_explain), never on timings."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from support.nested_plans import rows_read, run_explained, scans

TENANTS = 100
TRACES = 200  # per tenant
SPANS = 5  # per trace, one per operation of the service
WINDOW = ("2024-01-01 00:00+00", "2024-01-01 06:00+00")


def trace_id(tenant: int, trace: int) -> uuid.UUID:
    return uuid.UUID(bytes=bytes.fromhex(f"{tenant:016x}{trace:016x}"))


@pytest.fixture(scope="module")
def trace_db(module_db_uri) -> str:
    """Tenant t<i>'s trace k: spans 1..5 (span 1 the root) of operations op-0..op-4 of service
    shop, starting 15 s apart from 2024-01-01 00:00, all in one chunk."""
    with psycopg.connect(module_db_uri, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SELECT _ps_trace.ensure_chunks(ARRAY['2024-01-01 00:00+00'::timestamptz])")
            conn.execute("INSERT INTO _ps_trace.operation (tenant, service_name, span_name, span_kind) "
                         "SELECT 't' || t, 'shop', 'op-' || j, 2 "
                         "FROM generate_series(0, %s) t, generate_series(0, %s) j",
                         (TENANTS - 1, SPANS - 1))
            conn.execute("INSERT INTO _ps_trace.resource (service_name, attributes, dropped_attributes_count, "
                         "schema_url, digest) VALUES ('shop', '{\"service.name\": \"shop\"}', 0, '', '\\x00')")
            conn.execute("INSERT INTO _ps_trace.scope (name, version, attributes, dropped_attributes_count, "
                         "schema_url, digest) VALUES ('lib', '', '{}', 0, '', '\\x00')")
            conn.execute(
                "INSERT INTO _ps_trace.span (trace_id, tenant, span_id, parent_span_id, start_time, end_time, "
                "start_ns, end_ns, operation_id, resource_id, scope_id, attributes) "
                "SELECT (lpad(to_hex(t), 16, '0') || lpad(to_hex(k), 16, '0'))::uuid, o.tenant, j + 1, "
                "       CASE WHEN j > 0 THEN 1 END, "
                "       '2024-01-01 00:00+00'::timestamptz + k * interval '15 s' + j * interval '1 ms', "
                "       '2024-01-01 00:00+00'::timestamptz + k * interval '15 s' + (j + 10) * interval '1 ms', 0, 0, "
                "       o.id, 1, 1, '{}' "
                "FROM generate_series(0, %s) t, generate_series(0, %s) k, generate_series(0, %s) j "
                "JOIN _ps_trace.operation o ON o.span_name = 'op-' || j "
                "WHERE o.tenant = 't' || t", (TENANTS - 1, TRACES - 1, SPANS - 1))
        conn.execute("VACUUM ANALYZE _ps_trace.span, _ps_trace.operation")
        assert conn.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] == TENANTS * TRACES * SPANS
    return module_db_uri


@pytest.fixture
def conn(trace_db):
    with psycopg.connect(trace_db, autocommit=True) as c:
        c.execute("SET max_parallel_workers_per_gather = 0")
        c.execute("SELECT prom_api.set_request_tenant('t7', false)")
        yield c


def chunk_tables(conn) -> tuple[str, str]:
    chunk = conn.execute("SELECT id FROM _ps_trace.chunk").fetchone()[0]
    return f"span_{chunk}", f"span_packed_{chunk}"


def test_a_trace_fetch_reads_the_traces_spans_by_the_key(conn):
    span_table, _ = chunk_tables(conn)
    count, plans = run_explained(conn, "SELECT count(*) FROM ps_trace.get_trace_spans(ARRAY[%s::uuid])",
                                 (trace_id(7, 42),))
    assert count == SPANS
    assert rows_read(plans, span_table) == SPANS
    assert {n["Node Type"] for n in scans(plans) if n["Relation Name"] == span_table} <= {"Index Scan",
                                                                                           "Bitmap Heap Scan"}
    # another tenant's trace: nothing answered, nothing of it read beyond its own key
    count, plans = run_explained(conn, "SELECT count(*) FROM ps_trace.get_trace_spans(ARRAY[%s::uuid])",
                                 (trace_id(8, 42),))
    assert count == 0 and rows_read(plans, span_table) <= SPANS


def test_the_span_view_by_trace_id_keeps_the_key(conn):
    span_table, _ = chunk_tables(conn)
    count, plans = run_explained(conn, "SELECT count(*) FROM ps_trace.span WHERE trace_id = %s",
                                 (trace_id(7, 3),))
    assert count == SPANS
    assert rows_read(plans, span_table) == SPANS


def test_a_search_reads_what_its_limit_asks(conn):
    span_table, _ = chunk_tables(conn)
    limit = 20
    found, plans = run_explained(
        conn, "SELECT array_agg(trace_id) FROM ps_trace.find_trace_ids('shop', NULL, NULL, %s, %s, NULL, NULL, %s)",
        (*WINDOW, limit))
    assert found == [trace_id(7, k) for k in range(TRACES - 1, TRACES - 1 - limit, -1)]
    # spans of the tenant's five operations only (operation ids are per tenant), never the other
    # 99 tenants' spans of the same names; with 200 spans an operation, the planner may sort them
    # rather than walk the index newest first
    assert rows_read(plans, span_table) <= TRACES * SPANS


def test_operations_and_services_of_a_tenant(conn):
    assert conn.execute("SELECT array_agg(s) FROM ps_trace.get_services() s").fetchone()[0] == ["shop"]
    assert conn.execute("SELECT count(*) FROM ps_trace.get_operations('shop')").fetchone()[0] == SPANS


def test_packed_traces_unpack_only_the_asked_tenants_row(conn, trace_db):
    span_table, packed_table = chunk_tables(conn)
    with psycopg.connect(trace_db, autocommit=True) as admin:
        if admin.execute("SELECT packed_at IS NULL FROM _ps_trace.chunk").fetchone()[0]:
            admin.execute("SELECT ps_trace.pack_trace_partitions('infinity')")
            admin.execute(f"VACUUM ANALYZE _ps_trace.{packed_table}")
        assert admin.execute("SELECT count(DISTINCT tenant) FROM _ps_trace.pack_dictionary").fetchone()[0] == TENANTS
    count, plans = run_explained(conn, "SELECT count(*) FROM ps_trace.get_trace_spans(ARRAY[%s::uuid])",
                                 (trace_id(7, 42),))
    assert count == SPANS
    # the trace's one packed row of this tenant, once each for spans, events and links
    assert rows_read(plans, packed_table) <= 3
    found, plans = run_explained(
        conn, "SELECT array_agg(trace_id) FROM ps_trace.find_trace_ids('shop', 'op-0', NULL, %s, %s, NULL, NULL, 5)",
        WINDOW)
    assert found == [trace_id(7, k) for k in range(TRACES - 1, TRACES - 6, -1)]
    # the slices read the tenant's packed rows only (the (tenant, max_start_time) index), not the
    # 99 other tenants' rows of the same times; with 200 rows a tenant, the planner may sort them all
    assert rows_read(plans, packed_table) <= TRACES + 2 * 16
