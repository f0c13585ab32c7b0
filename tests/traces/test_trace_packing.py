"""The packed tier: closed trace partitions packed into one compressed row per trace read back
exactly the same through every view, function and the Jaeger API; late spans, retried spans,
retention, maintenance and concurrent ingest lose or duplicate nothing."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlencode

import psycopg
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from werkzeug.test import Client

from support.otel_workload import run_workload
from support.traces import BASE_NS, PB_HEADERS, SHOP, S, export, request_of
from test_otlp_exporters import assert_jaeger_trace, assert_stored_exactly

TRACE_A = "0000000000000000000000000000000a"


def pack(db, older_than: str = "infinity") -> int:
    return db.execute("SELECT ps_trace.pack_trace_partitions(%s)", (older_than,)).fetchone()[0]


def row_counts(db) -> tuple[int, int, int]:
    """(spans in row partitions, events in row partitions, packed rows)."""
    return db.execute("SELECT (SELECT count(*) FROM _ps_trace.span), (SELECT count(*) FROM _ps_trace.event), "
                      "(SELECT count(*) FROM _ps_trace.span_packed)").fetchone()


def sql_snapshot(db) -> dict:
    """What every SQL reader returns for everything stored."""
    snap = {
        "spans": db.execute("SELECT * FROM ps_trace.span ORDER BY trace_id, span_id, start_time").fetchall(),
        "events": db.execute("SELECT * FROM ps_trace.event ORDER BY trace_id, span_id, event_nbr").fetchall(),
        "links": db.execute("SELECT * FROM ps_trace.link ORDER BY trace_id, span_id, link_nbr").fetchall(),
        "calls": db.execute("SELECT * FROM ps_trace.operation_calls('-infinity', 'infinity') ORDER BY 1, 2").fetchall(),
        "deps": db.execute("SELECT * FROM ps_trace.get_dependencies('-infinity', 'infinity')").fetchall(),
        "found": db.execute("SELECT s.service_name, f.* FROM (SELECT DISTINCT service_name FROM ps_trace.span) s, "
                            "ps_trace.find_trace_ids(s.service_name, NULL, NULL, '-infinity', 'infinity', NULL, NULL, 10) f "
                            "ORDER BY 1, 3 DESC, 2").fetchall(),
        "fetched": db.execute("SELECT * FROM ps_trace.get_trace_spans(ARRAY(SELECT DISTINCT trace_id "
                              "FROM ps_trace.span))").fetchall(),
    }
    for trace_id, span_id in db.execute("SELECT DISTINCT trace_id, span_id FROM ps_trace.span ORDER BY 1, 2"):
        snap[("tree", trace_id)] = db.execute("SELECT * FROM ps_trace.trace_tree(%s) ORDER BY path",
                                              (trace_id,)).fetchall()
        for fn in ("upstream_spans", "downstream_spans", "span_tree"):
            snap[(fn, trace_id, span_id)] = db.execute(
                f"SELECT * FROM ps_trace.{fn}(%s, %s) ORDER BY path, dist", (trace_id, span_id)).fetchall()
        snap[("near", trace_id, span_id)] = db.execute(
            "SELECT * FROM ps_trace.downstream_spans(%s, %s, 1) ORDER BY path", (trace_id, span_id)).fetchall()
    return snap


def jaeger_snapshot(http_url: str, services: list[str], trace_ids: list[str]) -> dict:
    def get(path: str, **params) -> dict:
        response = requests.get(f"{http_url}{path}?{urlencode(params)}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    snap = {"services": get("/api/services"), "deps": get("/api/dependencies", lookback=10**12)}
    for service in services:
        snap[("ops", service)] = get("/api/operations", service=service)
        for tags in (None, json.dumps({"error": "true"}), json.dumps({"cache.key": "cart:42"})):
            params = {"service": service, "start": 0, "end": 2**53, "limit": 20}
            if tags:
                params["tags"] = tags
            snap[("search", service, tags)] = get("/api/traces", **params)
        snap[("slow", service)] = get("/api/traces", service=service, start=0, end=2**53, minDuration="1us")
    for trace_id in trace_ids:
        snap[("trace", trace_id)] = get(f"/api/traces/{trace_id}")
    return snap


def test_sdk_workload_reads_the_same_packed(http_url, db):
    exporter = HttpExporter(endpoint=f"{http_url}/v1/traces", timeout=10)
    sent = run_workload(exporter, tag="a") + run_workload(exporter, tag="b")
    services = [r[0] for r in db.execute("SELECT DISTINCT service_name FROM ps_trace.span ORDER BY 1")]
    trace_ids = sorted({f"{s.get_span_context().trace_id:032x}" for s in sent})
    sql_before, jaeger_before = sql_snapshot(db), jaeger_snapshot(http_url, services, trace_ids)
    assert len(sql_before["spans"]) == 14 and sql_before["events"] and sql_before["links"]
    assert any(r for r in jaeger_before.values() if isinstance(r, dict) and r.get("data"))

    assert pack(db) >= 1
    spans_in_rows, events_in_rows, packed = row_counts(db)
    assert (spans_in_rows, events_in_rows) == (0, 0) and packed == 4  # 2 traces per workload run
    assert sql_snapshot(db) == sql_before
    assert jaeger_snapshot(http_url, services, trace_ids) == jaeger_before
    assert_stored_exactly(db, sent)
    assert_jaeger_trace(http_url, sent)
    assert pack(db) == 0  # nothing new to pack


def test_exact_fields_survive_packing(connector, db):
    """Fields the SDK never sets: trace state, flags, dropped counts, odd doubles, 1970 nanoseconds."""
    client = Client(connector)
    export(client, SHOP)
    request = request_of([S(0xB, 7, None, "old", "batch", links=[(0xA, 1)], events=[("e", {"k": "v"})])], 123)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.trace_state, span.flags = "vendor=x,other=y", 0x301
    span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count = 1, 2, 3
    span.status.code, span.status.message = 2, "ünïcode \\ \"quoted\""
    for key, value in (("nan", float("nan")), ("big", 1e300), ("three", 3.0), ("neg", -0.0)):
        kv = span.attributes.add()
        kv.key, kv.value.double_value = key, value
    kv = span.attributes.add()
    kv.key, kv.value.bytes_value = "raw", b"\x00\xff"
    span.links[0].trace_state, span.links[0].flags, span.links[0].dropped_attributes_count = "l=1", 1, 4
    span.events[0].dropped_attributes_count = 5
    span.events[0].time_unix_nano = 124
    response = client.post("/v1/traces", data=request.SerializeToString(), headers=PB_HEADERS)
    assert response.status_code == 200
    before = sql_snapshot(db)
    assert db.execute("SELECT start_time_unix_nano, trace_state, flags, dropped_link_count FROM ps_trace.span "
                      "WHERE span_name = 'old'").fetchone() == (123, "vendor=x,other=y", 0x301, 3)
    assert pack(db) == 2  # 1970 and 2023 chunks
    assert row_counts(db)[0] == 0
    assert sql_snapshot(db) == before


def test_late_and_retried_spans(connector, db):
    client = Client(connector)
    export(client, SHOP)
    assert pack(db) == 1
    # a late child of span 5 and a retry of an already packed span (same ids and start)
    export(client, [S(0xA, 6, 5, "late", "frontend", 70, 5), SHOP[2]])
    assert db.execute("SELECT count(*) FROM ps_trace.span WHERE trace_id = ps_trace.trace_id(%s)",
                      (TRACE_A,)).fetchone()[0] == 6
    assert row_counts(db)[0] == 1  # only the late span went to the row partition
    tree = db.execute("SELECT span_id, lvl FROM ps_trace.trace_tree(ps_trace.trace_id(%s)) ORDER BY path",
                      (TRACE_A,)).fetchall()
    assert tree == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 2), (6, 3)]
    # the next run packs the late span as a second row of the trace; nothing else is due
    assert pack(db) == 1 and pack(db) == 0
    assert row_counts(db) == (0, 0, 2)
    export(client, [S(0xA, 6, 5, "late", "frontend", 70, 5)])  # a retry of the late span, now packed
    export(client, SHOP)
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 6
    assert db.execute("SELECT count(*) FROM ps_trace.event").fetchone()[0] == 1
    # same ids at another start time is another span, as without packing
    export(client, [S(0xA, 6, 5, "late", "frontend", 71, 5)])
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 7


def test_maintenance_packs_closed_chunks_only(connector, db):
    db.execute("SELECT ps_trace.set_trace_retention_period('36500 days')")
    client = Client(connector)
    export(client, SHOP)  # 2023: closed long ago
    export(client, [S(0xC, 1, None, "now", "svc")], base_ns=time.time_ns())
    db.execute("CALL prom_api.execute_maintenance(log_steps => false)")
    assert db.execute("SELECT o.span_name FROM _ps_trace.span s JOIN _ps_trace.operation o ON o.id = s.operation_id"
                      ).fetchall() == [("now",)]
    assert db.execute("SELECT count(*) FROM _ps_trace.span_packed").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM _ps_trace.chunk WHERE packed_at IS NOT NULL").fetchone()[0] == 1
    assert db.execute("SELECT done FROM _prom_catalog.maintenance_stat WHERE task = 'pack_trace_chunks'"
                      ).fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 6


def test_retention_drops_packed_rows(connector, db):
    client = Client(connector)
    export(client, [S(0xB, 1, None, "old", "svc", events=[("e", {})])], base_ns=0)
    export(client, SHOP)
    assert pack(db) == 2
    dictionaries = "SELECT count(*) FROM _ps_trace.pack_dictionary"
    assert db.execute(dictionaries).fetchone()[0] == 2
    assert db.execute("SELECT ps_trace.drop_expired_trace_partitions('2000-01-01')").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 5
    assert db.execute(dictionaries).fetchone()[0] == 1  # the dropped chunk's went with it
    assert db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = '_ps_trace' "
                      "AND tablename LIKE 'span_packed_%'").fetchone()[0] == 1
    export(client, [S(0xB, 1, None, "old", "svc")], base_ns=0)  # a new partition for the dropped range
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 6
    assert db.execute("SELECT ps_trace.delete_all_traces()").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM _ps_trace.span_packed").fetchone()[0] == 0


def test_packing_while_spans_arrive(connector, db, db_uri):
    """Writers keep sending spans into the closed chunk being packed; every span is stored once."""
    client = Client(connector)
    export(client, SHOP)
    writers, per_writer = 3, 20
    stop = threading.Event()
    errors: list = []

    def write(w: int) -> None:
        c = Client(connector)
        try:
            for n in range(per_writer):
                # new traces and children of the packed trace, each sent twice (a retry)
                spans = [S(0x1000 + w * 100 + n, 1, None, "op", "svc", 200 + n),
                         S(0xA, 1000 + w * 100 + n, 1, "child", "frontend", 50 + n)]
                export(c, spans)
                export(c, spans)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def maintain() -> None:
        with psycopg.connect(db_uri, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("SELECT ps_trace.pack_trace_partitions('infinity')")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    packer = threading.Thread(target=maintain)
    packer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    packer.join()
    assert not errors
    expected = len(SHOP) + writers * per_writer * 2
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == expected
    assert db.execute("SELECT count(*) FROM (SELECT DISTINCT trace_id, span_id, start_time FROM ps_trace.span) s"
                      ).fetchone()[0] == expected
    pack(db)
    assert row_counts(db)[0] == 0
    assert db.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == expected
    assert db.execute("SELECT count(*) FROM ps_trace.trace_tree(ps_trace.trace_id(%s))",
                      (TRACE_A,)).fetchone()[0] == len(SHOP) + writers * per_writer
    assert BASE_NS  # the workload's times: a chunk closed long ago


def test_search_reads_packed_chunks_newest_first_in_slices(connector, db, pg_cluster, db_name):
    client = Client(connector)
    # 60 traces of two spans each, 1 s apart, in one chunk; half of them have a slow root
    export(client, [s for n in range(60) for s in (
        S(0x500 + n, 1, None, "root", "svc", n * 1000, 900 if n % 2 else 5, kind=2, attributes={"n": n}),
        S(0x500 + n, 2, 1, "child", "svc", n * 1000 + 1, 3, status=2 if n % 3 == 0 else 0))])

    def searches(conn) -> list:
        return [conn.execute("SELECT * FROM ps_trace.find_trace_ids('svc', %s, %s, %s, %s, %s, NULL, %s)", args
                             ).fetchall() for args in (
            (None, None, "-infinity", "infinity", None, 3),
            (None, None, "-infinity", "infinity", None, 25),
            ("root", None, "-infinity", "infinity", "100 ms", 40),
            ("child", '{"error": "true"}', "-infinity", "infinity", None, 100),
            (None, None, "2023-11-14 22:13:40+00", "2023-11-14 22:13:50+00", None, 100),
        )]

    def between(conn) -> list:  # the view filtered on time, and the function reading only that range
        window = ("2023-11-14 22:13:40+00", "2023-11-14 22:13:50+00")
        rows = conn.execute("SELECT * FROM ps_trace.span WHERE start_time >= %s AND start_time < %s "
                            "ORDER BY trace_id, span_id", window).fetchall()
        assert conn.execute("SELECT * FROM ps_trace.span_between(%s, %s) ORDER BY trace_id, span_id",
                            window).fetchall() == rows
        return rows

    before = searches(db)
    assert [len(r) for r in before] == [3, 25, 30, 20, 11]
    rows_between = between(db)
    assert len(rows_between) == 20
    assert pack(db) == 1 and row_counts(db)[2] == 60
    assert searches(db) == before
    assert between(db) == rows_between
    with psycopg.connect(pg_cluster.uri(db_name, "promscale_reader"), autocommit=True) as reader:
        assert searches(reader) == before
        assert between(reader) == rows_between
        assert reader.execute("SELECT count(*) FROM ps_trace.span").fetchone()[0] == 120
