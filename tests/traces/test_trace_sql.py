"""The ps_trace SQL API: tree functions, operation_calls, partitions, retention, privileges."""

from __future__ import annotations

import time

import psycopg
import pytest
from werkzeug.test import Client

from support.traces import SHOP, S, export

TRACE_A = "0000000000000000000000000000000a"


@pytest.fixture
def shop(connector, db):
    export(Client(connector), SHOP)
    return db


def test_trace_tree(shop):
    rows = shop.execute("SELECT parent_span_id, span_id, lvl, path FROM ps_trace.trace_tree(ps_trace.trace_id(%s)) "
                        "ORDER BY path", (TRACE_A,)).fetchall()
    assert rows == [(None, 1, 1, [1]), (1, 2, 2, [1, 2]), (2, 3, 3, [1, 2, 3]), (3, 4, 4, [1, 2, 3, 4]),
                    (1, 5, 2, [1, 5])]


def test_upstream_and_downstream(shop):
    up = shop.execute("SELECT span_id, dist, path FROM ps_trace.upstream_spans(ps_trace.trace_id(%s), 4) "
                      "ORDER BY dist", (TRACE_A,)).fetchall()
    assert up == [(4, 0, [4]), (3, 1, [3, 4]), (2, 2, [2, 3, 4]), (1, 3, [1, 2, 3, 4])]
    assert shop.execute("SELECT span_id FROM ps_trace.upstream_spans(ps_trace.trace_id(%s), 4, 1) ORDER BY 1",
                        (TRACE_A,)).fetchall() == [(3,), (4,)]
    down = shop.execute("SELECT span_id, dist FROM ps_trace.downstream_spans(ps_trace.trace_id(%s), 2) ORDER BY dist",
                        (TRACE_A,)).fetchall()
    assert down == [(2, 0), (3, 1), (4, 2)]
    assert shop.execute("SELECT span_id FROM ps_trace.downstream_spans(ps_trace.trace_id(%s), 1, 1) ORDER BY 1",
                        (TRACE_A,)).fetchall() == [(1,), (2,), (5,)]


def test_span_tree(shop):
    rows = shop.execute("SELECT span_id, dist, is_upstream, is_downstream FROM "
                        "ps_trace.span_tree(ps_trace.trace_id(%s), 2) ORDER BY span_id", (TRACE_A,)).fetchall()
    assert rows == [(1, 1, True, False), (2, 0, True, True), (3, 1, False, True), (4, 2, False, True)]


def test_operation_calls_and_dependencies(shop):
    rows = shop.execute(
        "SELECT p.service_name, p.span_name, c.service_name, c.span_name, calls.cnt "
        "FROM ps_trace.operation_calls('2023-01-01', '2024-01-01') calls "
        "JOIN ps_trace.operation p ON p.id = calls.parent_operation_id "
        "JOIN ps_trace.operation c ON c.id = calls.child_operation_id ORDER BY 2, 4").fetchall()
    assert rows == [("frontend", "GET /checkout", "frontend", "POST /price", 1),
                    ("frontend", "GET /checkout", "frontend", "render", 1),
                    ("frontend", "POST /price", "backend", "price", 1),
                    ("backend", "price", "backend", "SELECT rates", 1)]
    assert shop.execute("SELECT * FROM ps_trace.get_dependencies('2023-01-01', '2024-01-01')").fetchall() == [
        ("frontend", "backend", 1)]
    assert shop.execute("SELECT count(*) FROM ps_trace.operation_calls('2024-01-01', '2025-01-01')").fetchone()[0] == 0


def test_views_and_events(shop):
    assert shop.execute("SELECT span_name, span_kind, status_code, is_root_span, duration_ms FROM ps_trace.span "
                        "WHERE span_id = 4").fetchone() == ("SELECT rates", "client", "error", False, 20.0)
    assert shop.execute("SELECT e.name, e.tags, s.span_name FROM ps_trace.event e JOIN ps_trace.span s "
                        "USING (trace_id, span_id)").fetchall() == [("exception", {"exception.type": "X"},
                                                                     "SELECT rates")]


def test_partitions_on_demand_for_any_time(connector, db):
    client = Client(connector)
    export(client, [S(0xB, 1, None, "epoch", "old", 0)], base_ns=0)  # 1970-01-01
    export(client, [S(0xC, 1, None, "future", "new", 0)], base_ns=4_102_444_800 * 10**9)  # 2100-01-01
    export(client, [S(0xD, 1, None, "now", "now", 0)])
    assert db.execute("SELECT count(*) FROM _ps_trace.chunk").fetchone()[0] == 3
    assert db.execute("SELECT min(start_time)::text FROM ps_trace.span").fetchone()[0].startswith("1970-01-01")
    partitions = db.execute("SELECT count(*) FROM pg_inherits WHERE inhparent IN "
                            "('_ps_trace.span'::regclass, '_ps_trace.event'::regclass, '_ps_trace.link'::regclass)"
                            ).fetchone()[0]
    assert partitions == 9


def test_retention_drops_expired_chunks_with_their_events(connector, db):
    client = Client(connector)
    export(client, [S(0xB, 1, None, "old", "svc", events=[("e", {})])], base_ns=0)
    export(client, [S(0xC, 1, None, "recent", "svc", events=[("e", {})])], base_ns=time.time_ns() - 3600 * 10**9)
    assert db.execute("SELECT ps_trace.get_trace_retention_period()").fetchone()[0].days == 30
    assert db.execute("SELECT ps_trace.drop_expired_trace_partitions('1969-01-01')").fetchone()[0] == 0
    # the default boundary is now() - 30 days: only the 1970 chunk is older
    assert db.execute("SELECT ps_trace.drop_expired_trace_partitions()").fetchone()[0] == 1
    assert db.execute("SELECT span_name FROM ps_trace.span").fetchall() == [("recent",)]
    assert db.execute("SELECT count(*) FROM ps_trace.event").fetchone()[0] == 1
    assert db.execute("SELECT ps_trace.set_trace_retention_period('1 day')").fetchone()[0] is True
    assert db.execute("SELECT ps_trace.get_trace_retention_period()").fetchone()[0].days == 1
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="invalid trace retention period -1 days: it must be at least 00:00:01"):
        db.execute("SELECT ps_trace.set_trace_retention_period('-1 day')")
    assert db.execute("SELECT ps_trace.delete_all_traces()").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 0
    # spans arriving for a dropped range get a new partition
    export(client, [S(0xE, 1, None, "late", "svc")], base_ns=0)
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 1


def test_roles(shop, pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name, "promscale_reader"), autocommit=True) as reader:
        assert reader.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 5
        assert reader.execute("SELECT count(*) FROM ps_trace.trace_tree(ps_trace.trace_id(%s))",
                              (TRACE_A,)).fetchone()[0] == 5
        assert reader.execute("SELECT count(*) FROM ps_trace.get_services()").fetchone()[0] == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT ps_trace.drop_expired_trace_partitions()")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("DELETE FROM _ps_trace.operation")
    with psycopg.connect(pg_cluster.uri(db_name, "promscale_writer"), autocommit=True) as writer:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("SELECT ps_trace.set_trace_retention_period('1 day')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            writer.execute("INSERT INTO _ps_trace.operation (service_name, span_name, span_kind) VALUES ('a','b',1)")


def test_id_helpers(db):
    assert db.execute("SELECT ps_trace.span_id('ffffffffffffffff'), ps_trace.span_id_hex(-1), "
                      "ps_trace.trace_id('abc')::text").fetchone() == (-1, "ffffffffffffffff",
                                                                        "00000000-0000-0000-0000-000000000abc")


def test_find_trace_ids_walks_partitions_newest_first(connector, db):
    db.execute("SELECT ps_trace.set_trace_chunk_interval('1 minute')")
    client = Client(connector)
    # five traces, each in its own one-minute partition, plus one of another service
    export(client, [S(0x100 + n, 1, None, "op", "svc", n * 60_000) for n in range(5)]
           + [S(0x200, 1, None, "op", "other", 4 * 60_000)])
    assert db.execute("SELECT count(*) FROM _ps_trace.chunk").fetchone()[0] == 5
    found = db.execute("SELECT ps_trace.trace_id_hex(trace_id) FROM ps_trace.find_trace_ids("
                       "'svc', NULL, NULL, '2023-01-01', '2024-01-01', NULL, NULL, 3)").fetchall()
    assert [int(r[0], 16) for r in found] == [0x104, 0x103, 0x102]
    found = db.execute("SELECT ps_trace.trace_id_hex(trace_id) FROM ps_trace.find_trace_ids("
                       "'svc', 'op', NULL, '2023-01-01', to_timestamp(1700000000 + 90), NULL, NULL, 10)").fetchall()
    assert [int(r[0], 16) for r in found] == [0x101, 0x100]
    assert db.execute("SELECT count(*) FROM ps_trace.find_trace_ids('nobody', NULL, NULL, '-infinity', 'infinity', "
                      "NULL, NULL, 10)").fetchone()[0] == 0


def test_retention_in_bounded_steps(connector, db):
    client = Client(connector)
    for n in range(3):
        export(client, [S(0x300 + n, 1, None, "old", "svc")], base_ns=n * 86_400 * 10**9)  # 1970-01-01, 02, 03
    assert db.execute("SELECT ps_trace.drop_expired_trace_partitions(max_chunks => 1)").fetchone()[0] == 1
    assert db.execute("SELECT min(start_time)::date::text FROM ps_trace.span").fetchone()[0] == "1970-01-02"
    assert db.execute("SELECT ps_trace.drop_expired_trace_partitions(NULL, 5)").fetchone()[0] == 2
    assert db.execute("SELECT ps_trace.drop_expired_trace_partitions(NULL, 5)").fetchone()[0] == 0


def test_scattered_times_are_refused_before_the_lock_table_fills(connector, db):
    db.execute("SELECT ps_trace.set_trace_chunk_interval('1 minute')")
    spans = [S(0x400 + n, 1, None, "op", "svc", n * 60_000) for n in range(101)]
    from support.traces import PB_HEADERS, request_of

    response = Client(connector).post("/v1/traces", data=request_of(spans).SerializeToString(), headers=PB_HEADERS)
    assert response.status_code == 400
    assert b"more than 100 new trace partitions" in response.data
    assert db.execute("SELECT count(*) FROM _ps_trace.chunk").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 0
