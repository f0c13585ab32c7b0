"""Every view and every public function works under parallel plans, on compressed samples and
packed traces: the same answers as without parallelism, twice in a row in one session.

PL/Python runs each SPI call in a subtransaction, which PostgreSQL refuses in parallel mode; and
PL/Python 15 raises that refusal from outside its error handling, so the interpreter is left
corrupt (next: "unknown opcode", then a crashed backend restarting the cluster). A PL/Python
function that may run SPI must therefore be PARALLEL UNSAFE (999-checks.sql checks it), and the
decoders that run in parallel workers embed their modules. The lists come from pg_catalog, so a
new view or function cannot escape this test: a new function needs a call below."""

from __future__ import annotations

import time
from datetime import timedelta
from string import Template

import numpy as np
import psycopg
import pytest
from werkzeug.test import Client

from lifecycle_db import ms, put, scrape_batch, series_ids
from pyconnector import Config, create_app
from support.plans import explain, nodes
from support.traces import SHOP, S, export

TRACE = "00000000-0000-0000-0000-00000000000a"
MODES = {
    "serial": "SET max_parallel_workers_per_gather = 0",
    "parallel": "SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; "
                "SET min_parallel_index_scan_size = 0",
    "forced": "SET force_parallel_mode = on",
}

# One call per public function, by signature; $placeholders come from the stored data.
# Calls that write run in a transaction that is rolled back.
READS = {
    "prom_api.compress_due_chunks()": None,  # writes: see WRITES
    "prom_api.format_query(text)": "SELECT prom_api.format_query('sum by (job) (rate(up[5m]))')",
    "prom_api.get_compressed_chunk_interval()": "SELECT prom_api.get_compressed_chunk_interval()",
    "prom_api.get_compression_delay()": "SELECT prom_api.get_compression_delay()",
    "prom_api.get_flush_delay()": "SELECT prom_api.get_flush_delay()",
    "prom_api.get_ha_lease_timeout()": "SELECT prom_api.get_ha_lease_timeout()",
    "prom_api.get_ha_lease_refresh()": "SELECT prom_api.get_ha_lease_refresh()",
    "prom_api.get_ha_lease_history(text, text)": "SELECT * FROM prom_api.get_ha_lease_history('c', 'r')",
    "prom_api.warm_session()": "SELECT prom_api.warm_session() IS NOT NULL",
    "prom_api.get_series_activity(bigint[])": "SELECT count(*) FROM prom_api.get_series_activity(ARRAY[1, 2, 3]::bigint[])",
    "prom_api.get_default_chunk_interval()": "SELECT prom_api.get_default_chunk_interval()",
    "prom_api.set_request_tenant(text, boolean)": "SELECT prom_api.set_request_tenant('team-a')",
    "prom_api.get_default_retention_period()": "SELECT prom_api.get_default_retention_period()",
    "prom_api.get_matching_samples(text[], text[], text[], bigint, bigint)":
        "SELECT * FROM prom_api.get_matching_samples('{__name__,instance}', '{=,=~}', '{up,host-[12]}', "
        "${start_ms}, ${end_ms})",
    "prom_api.get_metric_retention_period(text)": "SELECT prom_api.get_metric_retention_period('up')",
    "prom_api.get_metric_samples(text, timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM prom_api.get_metric_samples('up', '${start}', '${end}')",
    "prom_api.get_promql_max_samples()": "SELECT prom_api.get_promql_max_samples()",
    "prom_api.get_samples(bigint[], timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM prom_api.get_samples('${ids}', '${start}', '${end}')",
    "prom_api.get_series_epoch()": "SELECT prom_api.get_series_epoch() IS NOT NULL",
    "prom_api.get_series_labels(bigint[])": "SELECT * FROM prom_api.get_series_labels('${ids}')",
    "prom_api.get_active_series(bigint[], timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM prom_api.get_active_series('${ids}', '${start}', '${end}')",
    "prom_api.get_active_label_names(timestamp with time zone, timestamp with time zone)":
        "SELECT prom_api.get_active_label_names('${start}', '${end}')",
    "prom_api.get_active_label_values(text, timestamp with time zone, timestamp with time zone)":
        "SELECT prom_api.get_active_label_values('instance', '${start}', '${end}')",
    "prom_api.jsonb(integer[])": "SELECT prom_api.jsonb(s.labels) FROM _prom_catalog.series s",
    "prom_api.key(integer)": "SELECT prom_api.key(l.id) FROM _prom_catalog.label l",
    "prom_api.label_eq(text, text)":
        "SELECT series_id FROM prom_series.up WHERE labels ? prom_api.label_eq('instance', 'host-1')",
    "prom_api.label_ids_match(integer[], prom_api.matcher_negative)":
        "SELECT series_id FROM prom_series.up WHERE prom_api.label_ids_match(label_ids, "
        "prom_api.label_ne('instance', 'host-1'))",
    "prom_api.label_ids_match(integer[], prom_api.matcher_positive)":
        "SELECT series_id FROM prom_series.up WHERE prom_api.label_ids_match(label_ids, "
        "prom_api.label_re('instance', 'host-[23]'))",
    "prom_api.label_names_json(text[], double precision, double precision, integer)":
        "SELECT prom_api.label_names_json('{up}', ${start_s}, ${end_s})",
    "prom_api.label_ne(text, text)":
        "SELECT series_id FROM prom_series.up WHERE labels ? prom_api.label_ne('instance', 'host-1')",
    "prom_api.label_nre(text, text)":
        "SELECT series_id FROM prom_series.up WHERE labels ? prom_api.label_nre('instance', 'host-[12]')",
    "prom_api.label_re(text, text)":
        "SELECT series_id FROM prom_series.up WHERE labels ? prom_api.label_re('instance', 'host-[12]')",
    "prom_api.label_values_json(text, text[], double precision, double precision, integer)":
        "SELECT prom_api.label_values_json('instance', '{up}', ${start_s}, ${end_s})",
    "prom_api.labels(bigint)": "SELECT prom_api.labels(s.id) FROM _prom_catalog.series s",
    "prom_api.labels_match(jsonb, prom_api.matcher_negative)":
        "SELECT series_id FROM prom_series.up WHERE prom_api.labels_match(labels, prom_api.label_nre('job', 'x.*'))",
    "prom_api.labels_match(jsonb, prom_api.matcher_positive)":
        "SELECT series_id FROM prom_series.up WHERE prom_api.labels_match(labels, prom_api.label_eq('job', 'node'))",
    "prom_api.metadata_json(text, integer, integer)": "SELECT prom_api.metadata_json()",
    "prom_api.python_version()": "SELECT prom_api.python_version()",
    "prom_api.query(text, timestamp with time zone)":
        "SELECT * FROM prom_api.query('sum by (instance) (rate(up[10m]))', '${middle}')",
    "prom_api.query_exemplars_json(text, double precision, double precision)":
        "SELECT prom_api.query_exemplars_json('up', ${start_s}, ${now_s})",
    "prom_api.query_json(text, double precision, text, double precision)":
        "SELECT prom_api.query_json('max_over_time(up[1h])', ${middle_s})",
    "prom_api.query_range(text, timestamp with time zone, timestamp with time zone, interval)":
        "SELECT * FROM prom_api.query_range('avg(up)', '${start}', '${end}', '10 minutes')",
    "prom_api.query_range_json(text, double precision, double precision, double precision, text, double precision)":
        "SELECT prom_api.query_range_json('count_over_time(up[30m])', ${start_s}, ${end_s}, 600)",
    "prom_api.query(text, timestamp with time zone, interval)":
        "SELECT * FROM prom_api.query('max_over_time(sum(up)[30m:])', '${middle}', '5 minutes')",
    "prom_api.query_range(text, timestamp with time zone, timestamp with time zone, interval, interval)":
        "SELECT * FROM prom_api.query_range('avg_over_time(up[20m:])', '${start}', '${end}', '10 minutes', '2 minutes')",
    "prom_api.query_json(text, double precision, text, double precision, double precision)":
        "SELECT prom_api.query_json('min_over_time(up[1h:])', ${middle_s}, NULL, NULL, 300)",
    "prom_api.query_range_json(text, double precision, double precision, double precision, text, double precision, "
    "double precision)":
        "SELECT prom_api.query_range_json('count_over_time(up[30m:])', ${start_s}, ${end_s}, 600, NULL, NULL, 120)",
    "prom_api.query_json(text, double precision, text, double precision, double precision, text)":
        "SELECT prom_api.query_json('max_over_time(up[1h])', ${middle_s}, NULL, NULL, NULL, '5m')",
    "prom_api.query_range_json(text, double precision, double precision, double precision, text, double precision, "
    "double precision, text)":
        "SELECT prom_api.query_range_json('rate(up[30m])', ${start_s}, ${end_s}, 600, NULL, NULL, NULL, 'auto')",
    "prom_api.http_api(text, jsonb, jsonb)":
        "SELECT * FROM prom_api.http_api('query_range', jsonb_build_object('query', ARRAY['rate(up[30m])'], "
        "'start', ARRAY['${start_s}'], 'end', ARRAY['${end_s}'], 'step', ARRAY['600']))",
    "prom_api.get_default_rollup_retention_period(text)": "SELECT prom_api.get_default_rollup_retention_period('5m')",
    "prom_api.get_metric_rollup_retention_period(text, text)":
        "SELECT prom_api.get_metric_rollup_retention_period('up', '1h')",
    "prom_api.get_rollups_done_until()": "SELECT prom_api.get_rollups_done_until()",
    "prom_api.get_promql_default_subquery_step()": "SELECT prom_api.get_promql_default_subquery_step()",
    "prom_api.get_max_new_chunks_per_write()": "SELECT prom_api.get_max_new_chunks_per_write()",
    "prom_api.series_json(text[], double precision, double precision, integer)":
        "SELECT prom_api.series_json('{up}', ${start_s}, ${end_s})",
    "prom_api.val(integer)": "SELECT prom_api.val(l.id) FROM _prom_catalog.label l",
    "ps_trace.downstream_spans(uuid, bigint, integer)": f"SELECT * FROM ps_trace.downstream_spans('{TRACE}', 2)",
    "ps_trace.find_trace_ids(text, text, jsonb, timestamp with time zone, timestamp with time zone, interval, "
    "interval, integer)":
        "SELECT * FROM ps_trace.find_trace_ids('frontend', NULL, NULL, '-infinity', 'infinity', NULL, NULL, 10)",
    "ps_trace.get_dependencies(timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM ps_trace.get_dependencies('-infinity', 'infinity')",
    "ps_trace.get_operations(text, text)": "SELECT * FROM ps_trace.get_operations('backend')",
    "ps_trace.get_services()": "SELECT * FROM ps_trace.get_services()",
    "ps_trace.get_trace_chunk_interval()": "SELECT ps_trace.get_trace_chunk_interval()",
    "ps_trace.get_trace_pack_delay()": "SELECT ps_trace.get_trace_pack_delay()",
    "ps_trace.get_trace_retention_period()": "SELECT ps_trace.get_trace_retention_period()",
    "ps_trace.get_trace_spans(uuid[], timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM ps_trace.get_trace_spans(ARRAY(SELECT DISTINCT trace_id FROM ps_trace.span))",
    "ps_trace.operation_calls(timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM ps_trace.operation_calls('-infinity', 'infinity')",
    "ps_trace.span_between(timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM ps_trace.span_between('-infinity', 'infinity')",
    "ps_trace.span_id(text)": "SELECT ps_trace.span_id(ps_trace.span_id_hex(span_id)) FROM ps_trace.span",
    "ps_trace.span_id_hex(bigint)": "SELECT ps_trace.span_id_hex(span_id) FROM ps_trace.span",
    "ps_trace.span_kind_name(smallint)": "SELECT ps_trace.span_kind_name(k::smallint) FROM generate_series(0, 5) k",
    "ps_trace.span_tree(uuid, bigint, integer)": f"SELECT * FROM ps_trace.span_tree('{TRACE}', 3)",
    "ps_trace.status_code_name(smallint)": "SELECT ps_trace.status_code_name(c::smallint) FROM generate_series(0, 2) c",
    "ps_trace.trace_id(text)": "SELECT ps_trace.trace_id(ps_trace.trace_id_hex(trace_id)) FROM ps_trace.span",
    "ps_trace.trace_id_hex(uuid)": "SELECT ps_trace.trace_id_hex(trace_id) FROM ps_trace.span",
    "ps_trace.trace_tree(uuid)": f"SELECT * FROM ps_trace.trace_tree('{TRACE}')",
    "ps_trace.upstream_spans(uuid, bigint, integer)": f"SELECT * FROM ps_trace.upstream_spans('{TRACE}', 4)",
    "prom_api.rules_json(text)": "SELECT prom_api.rules_json()",
    "prom_api.alerts_json()": "SELECT prom_api.alerts_json()",
    "prom_api.rule_group_schedule()": "SELECT * FROM prom_api.rule_group_schedule()",
}
RULE_GROUP = "SELECT prom_api.put_rule_group('g', 'rules: [{record: r, expr: sum(up)}, {alert: A, expr: up > 0}]')"
WRITES = {
    "prom_api.put_rule_group(text, text)": RULE_GROUP,
    "prom_api.delete_rule_group(text)": f"SELECT prom_api.delete_rule_group('g') FROM ({RULE_GROUP}) g",
    "prom_api.put_rule_files(text[], text[])":
        "SELECT prom_api.put_rule_files('{/r.yml}', '{\"groups: [{name: f, rules: [{record: r, expr: up}]}]\"}')",
    "prom_api.evaluate_rule_group(text, text, timestamp with time zone, boolean, interval, jsonb, text)":
        f"SELECT prom_api.evaluate_rule_group('', 'g', '${{end}}') FROM ({RULE_GROUP}) g",
    "prom_api.evaluate_rule_groups(timestamp with time zone)":
        f"SELECT prom_api.evaluate_rule_groups('${{end}}') FROM ({RULE_GROUP}) g",
    "prom_api.compress_due_chunks()": "SELECT prom_api.compress_due_chunks()",
    "prom_api.http_admin_api(text, jsonb)":
        "SELECT * FROM prom_api.http_admin_api('admin/tsdb/delete_series', '{\"match[]\": [\"up\"]}')",
    "prom_api.execute_maintenance(interval, boolean)": "CALL prom_api.execute_maintenance(NULL, false)",
    "prom_api.get_or_create_series_id(jsonb)":
        "SELECT prom_api.get_or_create_series_id('{\"__name__\": \"up\", \"instance\": \"new\"}')",
    "prom_api.get_or_create_series_ids(bytea[])":  # canonical label sets: key NUL value NUL, keys sorted
        "SELECT prom_api.get_or_create_series_ids(ARRAY['\\x%s'::bytea])" % b"__name__\0up\0instance\0new\0".hex(),
    "prom_api.get_or_create_series_ids_with_activity(bytea[], timestamp with time zone[], timestamp with time zone[])":
        "SELECT prom_api.get_or_create_series_ids_with_activity(ARRAY['\\x%s'::bytea], ARRAY[now()], ARRAY[now()])"
        % b"__name__\0up\0instance\0newer\0".hex(),
    "prom_api.get_or_create_series_ids(integer[], text[], text[])":
        "SELECT * FROM prom_api.get_or_create_series_ids('{0,0}', '{__name__,instance}', '{up,host-1}')",
    "prom_api.prepare_sample_chunks(timestamp with time zone[], integer)":
        "SELECT prom_api.prepare_sample_chunks(ARRAY['${end}'::timestamptz])",
    "prom_api.put_exemplars(bigint[], timestamp with time zone[], double precision[], jsonb[])":
        "SELECT prom_api.put_exemplars('${one_id}', ARRAY['${end}'::timestamptz], '{2}', ARRAY['{\"a\": \"b\"}'::jsonb])",
    "prom_api.mark_series_activity(bigint[], timestamp with time zone[], timestamp with time zone[])":
        "SELECT * FROM prom_api.mark_series_activity('${one_id}', ARRAY['${start}'::timestamptz], ARRAY['${end}'::timestamptz])",
    # rolled back, as every write here: a role that exists and reads no tables (not prom_reader)
    "prom_api.grant_tenant(name, text)": "SELECT prom_api.grant_tenant('pg_monitor', 'team-a')",
    "prom_api.revoke_tenant(name, text)": "SELECT prom_api.revoke_tenant('pg_monitor', 'team-a')",
    "prom_api.put_metadata(text[], text[], text[], text[])":
        "SELECT prom_api.put_metadata('{up}', '{gauge}', '{\"\"}', '{Up.}')",
    "prom_api.put_samples(bigint[], timestamp with time zone[], double precision[])":
        "SELECT prom_api.put_samples('${one_id}', ARRAY['${middle}'::timestamptz], '{5}')",
    "prom_api.put_samples(bigint[], timestamp with time zone[], double precision[], bigint)":
        "SELECT prom_api.put_samples('${one_id}', ARRAY['${middle}'::timestamptz], '{5}', prom_api.get_series_epoch())",
    "prom_api.refresh_metric_views(boolean)": "SELECT prom_api.refresh_metric_views(true)",
    "prom_api.recompute_rollups(timestamp with time zone)": "SELECT prom_api.recompute_rollups('${start}')",
    "prom_api.set_default_rollup_retention_period(text, interval)":
        "SELECT prom_api.set_default_rollup_retention_period('5m', '30 days')",
    "prom_api.set_metric_rollup_retention_period(text, text, interval)":
        "SELECT prom_api.set_metric_rollup_retention_period('up', '1h', '30 days')",
    "prom_api.reset_metric_rollup_retention_period(text, text)":
        "SELECT prom_api.reset_metric_rollup_retention_period('up', '1h')",
    "prom_api.reset_metric_retention_period(text)": "SELECT prom_api.reset_metric_retention_period('up')",
    "prom_api.schedule_maintenance(text)": "SELECT prom_api.schedule_maintenance()",  # an error without pg_cron
    "prom_api.set_compressed_chunk_interval(interval)": "SELECT prom_api.set_compressed_chunk_interval('2 hours')",
    "prom_api.set_compression_delay(interval)": "SELECT prom_api.set_compression_delay('1 hour')",
    "prom_api.set_flush_delay(interval)": "SELECT prom_api.set_flush_delay('5 minutes')",
    "prom_api.set_ha_lease_timeout(interval)": "SELECT prom_api.set_ha_lease_timeout('2 minutes')",
    "prom_api.set_ha_lease_refresh(interval)": "SELECT prom_api.set_ha_lease_refresh('5s')",
    "prom_api.update_ha_lease(text, text, timestamp with time zone, timestamp with time zone)":
        "SELECT * FROM prom_api.update_ha_lease('c', 'r', '${start}', '${end}')",
    "prom_api.set_default_chunk_interval(interval)": "SELECT prom_api.set_default_chunk_interval('2 hours')",
    "prom_api.set_default_retention_period(interval)": "SELECT prom_api.set_default_retention_period('100 days')",
    "prom_api.set_metric_retention_period(text, interval)": "SELECT prom_api.set_metric_retention_period('up', '9 days')",
    "prom_api.set_promql_max_samples(bigint)": "SELECT prom_api.set_promql_max_samples(1000)",
    "prom_api.set_promql_default_subquery_step(interval)": "SELECT prom_api.set_promql_default_subquery_step('15s')",
    "prom_api.set_max_new_chunks_per_write(integer)": "SELECT prom_api.set_max_new_chunks_per_write(10)",
    "prom_api.delete_series(text, timestamp with time zone, timestamp with time zone)":
        "SELECT prom_api.delete_series('up{instance=\"host-1\"}', '${middle}', '${end}')",
    "prom_api.unschedule_maintenance()": "SELECT prom_api.unschedule_maintenance()",
    "ps_trace.delete_all_traces()": "SELECT ps_trace.delete_all_traces()",
    "ps_trace.drop_expired_trace_partitions(timestamp with time zone, integer)":
        "SELECT ps_trace.drop_expired_trace_partitions('infinity')",
    "ps_trace.pack_trace_partitions(timestamp with time zone, integer)": "SELECT ps_trace.pack_trace_partitions()",
    "ps_trace.put_spans": None,  # built from its signature: empty arrays
    "ps_trace.set_trace_chunk_interval(interval)": "SELECT ps_trace.set_trace_chunk_interval('2 hours')",
    "ps_trace.set_trace_pack_delay(interval)": "SELECT ps_trace.set_trace_pack_delay('2 hours')",
    "ps_trace.set_trace_retention_period(interval)": "SELECT ps_trace.set_trace_retention_period('9 days')",
}


@pytest.fixture(scope="module")
def stored(module_db_uri, pg_cluster, tmp_path_factory) -> dict:
    """Compressed and head samples of two metrics, their rollups, metadata and an exemplar; packed traces
    (2023) and unpacked ones (now)."""
    with psycopg.connect(module_db_uri, autocommit=True) as db:
        bucket = db.execute("SELECT _prom_catalog.aligned_chunk_start(now(), prom_api.get_compressed_chunk_interval())"
                            ).fetchone()[0]
        now = db.execute("SELECT now()").fetchone()[0]
        rng = np.random.default_rng(3)
        ids = series_ids(db, [{"__name__": "up", "job": "node", "instance": f"host-{i}"} for i in range(6)])
        ids += series_ids(db, [{"__name__": "http_requests_total", "code": c} for c in ("200", "500")])
        start = bucket - timedelta(hours=8)
        steps = int((now - start) / timedelta(seconds=15))
        for first in range(0, steps, 2000):
            put(db, *scrape_batch(rng, ids, ms(start) + first * 15_000, min(2000, steps - first)))
        db.execute("SELECT prom_api.set_compression_delay('0')")
        assert db.execute("SELECT prom_api.compress_due_chunks()").fetchone()[0] > 0
        db.execute("CALL prom_api.execute_maintenance(log_steps => false)")  # compaction, then rollups
        assert db.execute("SELECT count(*) FROM prom_data.rollup").fetchone()[0] > 0  # the rollup views read some
        db.execute("SELECT prom_api.put_metadata('{up}', '{gauge}', '{\"\"}', '{Up.}')")
        db.execute("SELECT prom_api.put_exemplars(%s, ARRAY[now()], '{1}', ARRAY['{\"trace_id\": \"a\"}'::jsonb])",
                   (ids[:1],))
        db.execute("ANALYZE")
    client = Client(create_app(Config(db_uri=pg_cluster.uri(module_db_uri.rsplit("/", 1)[1], "promscale_writer"),
                                      telemetry_dir=str(tmp_path_factory.mktemp("telemetry")),
                                      otlp_grpc_listen="", maintenance_interval=0, threads=1)))
    export(client, SHOP)
    export(client, [S(0xC, 1, None, "now", "svc", events=[("e", {"k": "v"})])], base_ns=time.time_ns())
    with psycopg.connect(module_db_uri, autocommit=True) as db:
        assert db.execute("SELECT ps_trace.pack_trace_partitions(now() - interval '1 day')").fetchone()[0] >= 1
        assert db.execute("SELECT count(*) FROM _ps_trace.span_packed").fetchone()[0] >= 1
        assert db.execute("SELECT count(*) FROM _ps_trace.span").fetchone()[0] >= 1
    start_t, end_t = bucket - timedelta(hours=7), now
    return {
        "uri": module_db_uri, "ids": "{" + ",".join(map(str, ids)) + "}", "one_id": "{%d}" % ids[0],
        "start": start_t.isoformat(), "end": end_t.isoformat(), "middle": (bucket - timedelta(hours=2)).isoformat(),
        "start_ms": ms(start_t), "end_ms": ms(end_t), "start_s": start_t.timestamp(), "end_s": end_t.timestamp(),
        "middle_s": (bucket - timedelta(hours=2)).timestamp(), "now_s": now.timestamp() + 60,
    }


def catalog_functions(conn) -> dict[str, str]:
    """Every function and procedure of prom_api and ps_trace: {signature: SQL that calls it}."""
    with conn.transaction():
        conn.execute("SET LOCAL search_path = pg_catalog")  # signatures with schema-qualified types
        rows = conn.execute(
            "SELECT n.nspname || '.' || p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')', "
            "       n.nspname || '.' || p.proname, "
            "       ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes) t) "
            "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname IN ('prom_api', 'ps_trace') ORDER BY 1").fetchall()
    calls = {}
    for signature, name, types in rows:
        if name == "ps_trace.put_spans":  # 43 parallel arrays: called with empty ones
            calls[signature] = f"SELECT {name}(" + ", ".join(f"'{{}}'::{t}" for t in types) + ")"
        else:
            calls[signature] = READS.get(signature) or WRITES.get(signature) or ""
    return calls


def catalog_views(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('v', 'm') AND n.nspname IN ('prom_metric', 'prom_series', 'prom_rollup_5m', 'prom_rollup_1h', 'prom_info', 'ps_trace') "
        "ORDER BY 1").fetchall()]


def outcome(conn: psycopg.Connection, sql: str, write: bool) -> tuple:
    """The sorted rows of one statement, or its error. Writes are rolled back, and only whether
    they succeed counts (sequences do not roll back: new ids differ between sessions)."""
    try:
        if write and not sql.startswith("CALL"):
            with conn.transaction(force_rollback=True):
                conn.execute(sql)
            return ("ok",)
        cur = conn.execute(sql)
        return "ok", sorted(map(repr, cur.fetchall() if cur.description else []))
    except psycopg.errors.Error as error:
        return "error", type(error).__name__, str(error).splitlines()[0]


def test_every_function_has_a_call(stored):
    with psycopg.connect(stored["uri"]) as conn:
        missing = [s for s, sql in catalog_functions(conn).items() if not sql]
    assert not missing, f"add a call to READS or WRITES for: {missing}"


def test_views_and_functions_answer_the_same_under_parallel_plans(stored):
    sessions = {}
    for mode, settings in MODES.items():
        sessions[mode] = psycopg.connect(stored["uri"], autocommit=True)
        sessions[mode].execute(settings)
    try:
        calls = catalog_functions(sessions["serial"])
        statements = [(f"SELECT * FROM {v}", False) for v in catalog_views(sessions["serial"])]
        statements += [("SELECT jsonb(labels), count(*) FROM prom_metric.up GROUP BY 1", False),  # the crash of issue 8
                       ("SELECT count(*), sum(value) FROM prom_metric.up", False)]
        statements += [(Template(sql).substitute(stored), signature in WRITES or signature.startswith("ps_trace.put_spans"))
                       for signature, sql in calls.items()]
        # procedures that commit run last: they change what the others would read
        statements.sort(key=lambda s: s[0].startswith("CALL"))
        for sql, write in statements:
            for attempt in (1, 2):  # twice in one session: a corrupt interpreter fails the second time
                seen = {mode: outcome(conn, sql, write) for mode, conn in sessions.items()}
                assert seen["parallel"] == seen["serial"], (sql, attempt, seen["parallel"][:3], seen["serial"][:3])
                assert seen["forced"] == seen["serial"], (sql, attempt, seen["forced"][:3], seen["serial"][:3])
                if not write and not sql.startswith("SELECT prom_api.schedule"):
                    assert seen["serial"][0] == "ok", (sql, seen["serial"])
    finally:
        for conn in sessions.values():
            conn.close()


def test_view_scans_decode_in_parallel_workers(stored):
    """The planner splits a metric's compressed rows between workers: the decoders need no SPI."""
    with psycopg.connect(stored["uri"], autocommit=True) as conn:
        conn.execute(MODES["parallel"])
        plan = explain(conn, "SELECT count(*), sum(value) FROM prom_metric.up")
        gathers = [n for n in nodes(plan) if n["Node Type"] in ("Gather", "Gather Merge")]
        assert gathers and gathers[0]["Workers Launched"] >= 1
        decoding = [n for g in gathers for n in nodes(g)
                    if n["Node Type"] == "Function Scan" and "decode_times" in n.get("Function Call", "")]
        assert decoding
