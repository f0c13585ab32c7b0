"""Time filters on the prom_metric views read only the compressed rows of their range
(src/compressed_time_bounds.c): a metric with 72 hours of compressed history decodes what one
with 2 hours decodes, the answers are those of the unbounded views, and without the planner
library the views still answer the same."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import psycopg
import pytest

from lifecycle_db import ms, put, scrape_batch, series_ids
from support.plans import compressed_rows_read, compressed_scans, decoded_rows, explain, text

SERIES = 4
STEP_MS = 60_000


def exact(conn: psycopg.Connection, sql: str, params: dict | None = None) -> list[tuple]:
    """Rows of a view query with values as bits (text would turn every NaN into 'NaN')."""
    return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def history(module_db_uri) -> dict:
    """Two metrics whose compressed history ends at the start of the current compressed row
    interval (bucket): `long_history` 72 hours of it, `short_history` 2 hours; both have head
    samples since then, late samples duplicating compressed ones and stale markers."""
    with psycopg.connect(module_db_uri, autocommit=True) as db:
        bucket = db.execute("SELECT _prom_catalog.aligned_chunk_start(now(), prom_api.get_compressed_chunk_interval())"
                            ).fetchone()[0]
        now = db.execute("SELECT now()").fetchone()[0]
        rng = np.random.default_rng(8)
        ids = {}
        for metric, hours in (("long_history", 72), ("short_history", 2)):
            ids[metric] = series_ids(db, [{"__name__": metric, "instance": f"host-{i}"} for i in range(SERIES)])
            start = bucket - timedelta(hours=hours)
            steps = int((now - start) / timedelta(milliseconds=STEP_MS))
            for first in range(0, steps, 1000):
                put(db, *scrape_batch(rng, ids[metric], ms(start) + first * STEP_MS, min(1000, steps - first), STEP_MS))
        db.execute("SELECT prom_api.set_compression_delay('0')")
        # the head partitions of the current bucket stay in the head: flushed into level-1 rows,
        # the last one's edge would race the tests' now() - interval '10 minutes'
        db.execute("SELECT prom_api.set_flush_delay(greatest(now() - %s - interval '1 second', interval '0'))", (bucket,))
        db.execute("SELECT prom_api.compress_due_chunks()")
        db.execute("SELECT prom_api.set_flush_delay('5 minutes')")
        # late samples for compressed times: a smaller and a larger value than the stored one
        late = db.execute(
            "SELECT cs.series_id, x.t FROM prom_data.compressed_sample cs, "
            "unnest(_prom_catalog.decode_times(cs.times)) WITH ORDINALITY AS x(t, o) "
            "WHERE x.o = 7 ORDER BY 1, 2 LIMIT 12").fetchall()
        for offset in (-1000.0, 1000.0):
            db.execute("SELECT prom_api.put_samples(%s, ARRAY(SELECT _prom_catalog.timestamptz_from_us(t) "
                       "FROM unnest(%s::bigint[]) t), %s)",
                       ([s for s, _ in late], [t for _, t in late], [offset] * len(late)))
        db.execute("ANALYZE")
        counts = db.execute(
            "SELECT m.metric_name, count(*), count(*) FILTER (WHERE cs.level = 2) FROM prom_data.compressed_sample cs "
            "JOIN _prom_catalog.series s ON s.id = cs.series_id JOIN _prom_catalog.metric m ON m.id = s.metric_id "
            "GROUP BY 1").fetchall()
        rows = {metric: n for metric, n, _ in counts}
        compacted = {metric: n for metric, _, n in counts}
        edges = db.execute(
            "SELECT min(cs.min_time), max(cs.max_time) FROM prom_data.compressed_sample cs "
            "WHERE cs.series_id = ANY (%s) AND cs.chunk_start = %s", (ids["long_history"], bucket - timedelta(hours=4))
        ).fetchone()
    # (one more bucket each if the current one closed while this ran)
    assert compacted["long_history"] >= 18 * SERIES and compacted["short_history"] in (SERIES, 2 * SERIES)
    assert rows == compacted  # nothing of the current bucket flushed
    return {"uri": module_db_uri, "bucket": bucket, "ids": ids, "rows": rows, "edges": edges}


@pytest.fixture
def conn(history):
    with psycopg.connect(history["uri"], autocommit=True) as c:
        c.execute("SET max_parallel_workers_per_gather = 0")  # exact row counts in EXPLAIN ANALYZE
        yield c


def test_the_planner_library_is_loaded_in_every_session(conn):
    assert conn.execute("SHOW promscale.compressed_time_bounds").fetchone()[0] == "on"
    assert "promscale" in conn.execute("SHOW session_preload_libraries").fetchone()[0]


@pytest.mark.parametrize("window", [
    "time > now() - interval '10 minutes'",
    "time BETWEEN %(bucket)s - interval '90 minutes' AND %(bucket)s - interval '30 minutes'",
    "time = %(edge)s",
])
def test_72_hours_of_history_decode_what_2_hours_decode(conn, history, window):
    params = {"bucket": history["bucket"], "edge": history["bucket"] - timedelta(hours=1)}
    plans = {m: explain(conn, f"SELECT count(*), sum(value) FROM prom_metric.{m} WHERE {window}", params)
             for m in ("long_history", "short_history")}
    assert decoded_rows(plans["long_history"]) == decoded_rows(plans["short_history"])
    assert compressed_rows_read(plans["long_history"]) == compressed_rows_read(plans["short_history"])
    # the window's day partition, and the day before when the window starts less than a compressed
    # row span (4 hours) after midnight: a row is found by its bucket start, up to a span before its
    # samples (it failed from 04:00 to 08:00 UTC with one); the other days of the 72 hours pruned
    assert len(compressed_scans(plans["long_history"])) <= 2
    days = conn.execute("SELECT count(*) FROM _prom_catalog.compressed_partition WHERE level = 2").fetchone()[0]
    assert days >= 4
    # ...where the unbounded views decode every compressed row of the metric
    conn.execute("SET promscale.compressed_time_bounds = off")
    unbounded = explain(conn, f"SELECT count(*), sum(value) FROM prom_metric.long_history WHERE {window}", params)
    assert decoded_rows(unbounded) == history["rows"]["long_history"]
    assert decoded_rows(plans["long_history"]) <= SERIES


def test_bounds_are_derived_for_every_comparison(conn, history):
    """Each form of time filter reads fewer compressed rows than the metric holds, and answers
    exactly what the unbounded view answers (bit-exact values, duplicates resolved the same)."""
    lo, hi = history["edges"]  # the first and last sample time of one 4-hour bucket
    bucket = history["bucket"]
    day_start = (bucket - timedelta(hours=30)).date()
    queries = [  # (filter, compressed rows per series it may overlap)
        ("time > %(hi)s", 1),                        # the bucket ending at hi is excluded...
        ("time >= %(hi)s", 2),                       # ...and included here
        ("time < %(lo)s AND time > %(lo)s - interval '3 hours'", 1),
        ("time <= %(lo)s AND time >= %(lo)s - interval '1 hour'", 2),
        ("time = %(lo)s", 1),
        ("time BETWEEN %(lo)s - interval '1 minute' AND %(hi)s + interval '1 minute'", 3),
        ("%(hi)s - interval '2 hours' < time AND %(hi)s > time", 1),    # bounds on the left
        # a date or timestamp (without time zone) converted to timestamptz: the views are security
        # barriers and PostgreSQL marks only same-type comparisons leakproof (see the next test)
        ("time >= %(day)s::date::timestamptz AND time < (%(day)s::date + 1)::timestamptz", 6),  # a day of buckets
        ("time > %(naive)s::timestamp::timestamptz AND time < (%(naive)s::timestamp + interval '2 hours')::timestamptz",
         2),
        ("time BETWEEN %(lo)s AND %(hi)s AND instance = 'host-1'", 1),  # label column
        ("time BETWEEN %(lo)s AND %(hi)s AND series_id = %(sid)s", 1),  # series_id
    ]
    params = {"lo": lo, "hi": hi, "day": day_start, "naive": (bucket - timedelta(hours=7)).replace(tzinfo=None),
              "sid": history["ids"]["long_history"][2]}
    for where, rows_per_series in queries:
        sql = f"SELECT series_id, time, float8send(value) FROM prom_metric.long_history WHERE {where} ORDER BY 1, 2"
        conn.execute("SET promscale.compressed_time_bounds = on")
        bounded = exact(conn, sql, params)
        plan = explain(conn, sql, params)
        conn.execute("SET promscale.compressed_time_bounds = off")
        assert bounded == exact(conn, sql, params), where
        assert bounded, where
        assert decoded_rows(plan) <= rows_per_series * SERIES, where  # never the history
    conn.execute("SET promscale.compressed_time_bounds = on")


def test_comparisons_across_types_answer_the_same_above_the_barrier(conn, history):
    """`time >= <date>` compares timestamptz with date, which PostgreSQL does not mark leakproof: the
    security barrier keeps it above the view, where it reads the metric's whole history
    (docs/sql-api.md says to convert such values). The answer is the same."""
    day = (history["bucket"] - timedelta(hours=30)).date()
    cross = ("SELECT series_id, time, float8send(value) FROM prom_metric.long_history "
             "WHERE time >= %(day)s::date AND time < %(day)s::date + 1 ORDER BY 1, 2")
    converted = cross.replace("::date AND", "::date::timestamptz AND").replace("::date + 1", "::date + 1)::timestamptz")
    converted = converted.replace("time < %(day)s", "time < (%(day)s")
    assert exact(conn, cross, {"day": day}) == exact(conn, converted, {"day": day}) != []
    assert decoded_rows(explain(conn, converted, {"day": day})) <= 6 * SERIES
    assert decoded_rows(explain(conn, cross, {"day": day})) == history["rows"]["long_history"]


def test_the_edges_of_a_compressed_row_are_kept(conn, history):
    lo, hi = history["edges"]
    count = "SELECT count(*) FROM prom_metric.long_history WHERE {}"
    assert conn.execute(count.format("time = %s"), (hi,)).fetchone()[0] >= 1
    assert conn.execute(count.format("time = %s"), (lo,)).fetchone()[0] >= 1
    assert conn.execute(count.format("time > %s AND time <= %s"), (hi - timedelta(microseconds=1), hi)
                        ).fetchone()[0] >= 1


def test_bounds_given_as_parameters_and_stable_expressions(conn, history):
    """Prepared statements (generic plans), PL/pgSQL variables, CTEs, subqueries, views on
    views, joins and correlated subqueries all prune, and answer like the unbounded views."""
    lo, hi = history["edges"]
    conn.execute("CREATE TEMP VIEW recent AS SELECT time, value, series_id FROM prom_metric.long_history")
    conn.execute(
        "CREATE FUNCTION pg_temp.between_(a timestamptz, b timestamptz) RETURNS TABLE (n bigint) "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT count(*) FROM prom_metric.long_history "
        "WHERE time BETWEEN a AND b; END $$")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute("PREPARE window_count(timestamptz, timestamptz) AS "
                 "SELECT count(*), sum(value) FROM prom_metric.long_history WHERE time BETWEEN $1 AND $2")
    shapes = [
        ("EXECUTE window_count(%(lo)s, %(hi)s)", True),
        ("SELECT * FROM pg_temp.between_(%(lo)s, %(hi)s)", False),  # planned inside: see the next test
        ("WITH w AS (SELECT * FROM prom_metric.long_history) SELECT count(*) FROM w WHERE time BETWEEN %(lo)s AND %(hi)s",
         True),
        ("SELECT count(*) FROM (SELECT time, value FROM prom_metric.long_history) s WHERE time >= %(lo)s AND time <= %(hi)s",
         True),
        ("SELECT count(*) FROM recent WHERE time BETWEEN %(lo)s AND %(hi)s", True),
        ("SELECT count(*) FROM (VALUES (1)) v(k) JOIN prom_metric.long_history m ON m.time BETWEEN %(lo)s AND %(hi)s",
         True),
        ("SELECT count(*) FROM prom_metric.long_history WHERE time > (SELECT %(hi)s::timestamptz - interval '1 hour')",
         True),
        ("SELECT q.t, c.n FROM (VALUES (%(lo)s::timestamptz), (%(hi)s::timestamptz)) q(t) CROSS JOIN LATERAL "
         "(SELECT count(*) AS n FROM prom_metric.long_history WHERE time >= q.t AND time < q.t + interval '10 minutes') c "
         "ORDER BY 1", True),
    ]
    params = {"lo": lo, "hi": hi}
    run = psycopg.ClientCursor(conn)  # EXECUTE takes no protocol-level parameters
    for sql, pruned in shapes:
        conn.execute("SET promscale.compressed_time_bounds = on")
        bounded = run.execute(sql, params).fetchall()
        plan = explain(conn, sql, params) if pruned else None
        conn.execute("SET promscale.compressed_time_bounds = off")
        conn.execute("DISCARD PLANS")  # the prepared statement's generic plan was made with the bounds
        assert bounded == run.execute(sql, params).fetchall(), sql
        assert bounded[0][-1], sql
        if pruned:
            assert decoded_rows(plan) < history["rows"]["long_history"] // 4, sql
        conn.execute("DISCARD PLANS")
    conn.execute("RESET plan_cache_mode")


def test_without_the_library_the_views_answer_the_same(history, pg_cluster):
    lo, hi = history["edges"]
    sql = ("SELECT series_id, time, float8send(value) FROM prom_metric.long_history "
           "WHERE time BETWEEN %(lo)s AND %(hi)s OR time > now() - interval '10 minutes' ORDER BY 1, 2")
    window = "SELECT series_id, time, float8send(value) FROM prom_metric.short_history WHERE time > %(lo)s ORDER BY 1, 2"
    with psycopg.connect(history["uri"], autocommit=True) as loaded:
        expected = exact(loaded, sql, {"lo": lo, "hi": hi}), exact(loaded, window, {"lo": lo})
    with psycopg.connect(history["uri"], autocommit=True, options="-c session_preload_libraries=") as bare:
        assert bare.execute("SELECT current_setting('promscale.compressed_time_bounds', true)").fetchone()[0] is None
        assert (exact(bare, sql, {"lo": lo, "hi": hi}), exact(bare, window, {"lo": lo})) == expected
        bare.execute("SET max_parallel_workers_per_gather = 0")
        plan = explain(bare, window, {"lo": lo})
        assert decoded_rows(plan) == history["rows"]["short_history"]
        assert "chunk_start" not in text(bare, window, {"lo": lo})


def test_a_longer_compressed_row_interval_replans_cached_plans(db, pg_cluster, db_name):
    """The span of compressed rows is a constant of the plans; raising it replans them."""
    db.execute("SELECT _prom_catalog.ensure_compressed_partitions(ARRAY[now()])")
    series_ids(db, [{"__name__": "m", "instance": "a"}])
    db.execute("SET plan_cache_mode = force_generic_plan")
    db.execute("PREPARE recent(timestamptz) AS SELECT count(*) FROM prom_metric.m WHERE time > $1")
    before = "\n".join(r[0] for r in db.execute("EXPLAIN EXECUTE recent(now())").fetchall())
    assert "'04:00:00'::interval" in before
    with psycopg.connect(pg_cluster.uri(db_name), autocommit=True) as admin:
        admin.execute("SELECT prom_api.set_compressed_chunk_interval('1 day')")
    after = "\n".join(r[0] for r in db.execute("EXPLAIN EXECUTE recent(now())").fetchall())
    assert "'1 day'::interval" in after


def test_readers_plan_bounded_queries(history, pg_cluster):
    """The bounds are planned with the reader's rights (the span getter is granted to prom_reader)."""
    lo, hi = history["edges"]
    uri = history["uri"].replace("postgres@", "promscale_reader@")
    with psycopg.connect(uri, autocommit=True) as reader:
        reader.execute("SET max_parallel_workers_per_gather = 0")
        plan = explain(reader, "SELECT count(*) FROM prom_metric.long_history WHERE time BETWEEN %s AND %s", (lo, hi))
        assert 0 < decoded_rows(plan) <= SERIES * 2


def test_plpgsql_variables_bound_the_rows(conn, history):
    """A query inside a PL/pgSQL function, planned with its variables as parameters: its plan,
    shown by auto_explain, decodes only the rows of the range."""
    lo, hi = history["edges"]
    conn.execute(
        "CREATE FUNCTION pg_temp.between_(a timestamptz, b timestamptz) RETURNS TABLE (n bigint) "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT count(*) FROM prom_metric.long_history "
        "WHERE time BETWEEN a AND b; END $$")
    plans: list[dict] = []
    conn.add_notice_handler(lambda d: plans.append(json.loads(d.message_primary[d.message_primary.index("{"):]))
                            if '"Plan"' in (d.message_primary or "") else None)
    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; "
                 "SET auto_explain.log_timing = off; SET auto_explain.log_verbose = on; "
                 "SET auto_explain.log_nested_statements = on; SET auto_explain.log_format = json; "
                 "SET client_min_messages = log")
    for plan_cache_mode in ("force_custom_plan", "force_generic_plan"):
        conn.execute(f"SET plan_cache_mode = {plan_cache_mode}")
        plans.clear()
        assert conn.execute("SELECT * FROM pg_temp.between_(%s, %s)", (lo, hi)).fetchone()[0] > 0
        inner = [p["Plan"] for p in plans if "prom_metric.long_history" in p["Query Text"]]
        assert len(inner) == 1 and 0 < decoded_rows(inner[0]) <= SERIES * 2, plan_cache_mode
    conn.execute("RESET client_min_messages")


def test_install_keeps_the_databases_preload_libraries(pg_cluster):
    """CREATE EXTENSION adds the planner library to session_preload_libraries once, after what
    the database already loads."""
    pg_cluster.psql("CREATE DATABASE preload_kept")
    try:
        pg_cluster.psql("ALTER DATABASE preload_kept SET session_preload_libraries = '$libdir/auto_explain'")
        pg_cluster.psql("CREATE EXTENSION promscale CASCADE", dbname="preload_kept")
        setting = pg_cluster.psql(
            "SELECT c FROM pg_db_role_setting s, unnest(s.setconfig) c, pg_database d "
            "WHERE d.oid = s.setdatabase AND d.datname = 'preload_kept' AND c LIKE 'session_preload_libraries=%'")
        assert setting == 'session_preload_libraries="$libdir/auto_explain", promscale'
        with psycopg.connect(pg_cluster.uri("preload_kept"), autocommit=True) as conn:
            assert conn.execute("SHOW promscale.compressed_time_bounds").fetchone()[0] == "on"
            assert conn.execute("SHOW auto_explain.log_min_duration").fetchone()[0] == "-1"
    finally:
        pg_cluster.psql("DROP DATABASE preload_kept")
