"""The extension's catalog, views and label helpers, through SQL as analysts use them."""

from __future__ import annotations

import psycopg
import pytest


def series_id(db, labels: dict) -> int:
    return db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (psycopg.types.json.Jsonb(labels),)).fetchone()[0]


def put(db, sid: int, times: list[str], values: list[float]) -> int:
    return db.execute("SELECT prom_api.put_samples(%s::bigint[], %s::timestamptz[], %s::float8[])",
                      ([sid] * len(times), times, values)).fetchone()[0]


def resolve(db, label_sets: list[dict]) -> dict[int, int]:
    ords, keys, values = [], [], []
    for i, labels in enumerate(label_sets):
        for k, v in labels.items():
            ords.append(i)
            keys.append(k)
            values.append(v)
    rows = db.execute("SELECT * FROM prom_api.get_or_create_series_ids(%s::int[], %s::text[], %s::text[])",
                      (ords, keys, values)).fetchall()
    return dict(rows)


def test_series_ids_are_stable_and_shared(db):
    a = {"__name__": "up", "job": "node", "instance": "a"}
    b = {"__name__": "up", "job": "node", "instance": "b"}
    first = resolve(db, [a, b, a])
    assert first[0] == first[2] != first[1]
    again = resolve(db, [b, a])
    assert again == {0: first[1], 1: first[0]}
    assert db.execute("SELECT count(*) FROM _prom_catalog.series").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM _prom_catalog.label").fetchone()[0] == 4  # __name__, job, 2 instances


def test_label_order_does_not_matter(db):
    assert series_id(db, {"__name__": "m", "a": "1", "b": "2"}) == resolve(db, [{"b": "2", "__name__": "m", "a": "1"}])[0]


def test_positional_labels_and_key_order(db):
    sid = series_id(db, {"__name__": "m", "zone": "z1"})
    sid2 = series_id(db, {"__name__": "m", "app": "a1"})  # a new key is appended, not inserted
    keys = db.execute("SELECT key, pos FROM _prom_catalog.label_key_position ORDER BY pos").fetchall()
    assert keys == [("__name__", 1), ("zone", 2), ("app", 3)]
    arrays = dict(db.execute("SELECT id, array_length(labels, 1) FROM _prom_catalog.series").fetchall())
    assert arrays == {sid: 2, sid2: 3}
    row = db.execute("SELECT zone, app FROM prom_series.m WHERE series_id = %s", (sid2,)).fetchone()
    assert row == (None, "a1")


@pytest.mark.parametrize("labels, message", [
    ({"job": "x"}, "__name__"),
    ({"__name__": ""}, "__name__"),
])
def test_invalid_label_sets_are_rejected(db, labels, message):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        resolve(db, [labels])
    assert db.execute("SELECT count(*) FROM _prom_catalog.metric").fetchone()[0] == 0


def test_repeated_label_name_is_rejected(db):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="repeated"):
        db.execute("SELECT * FROM prom_api.get_or_create_series_ids('{0,0,0}', '{__name__,a,a}', '{m,1,2}')")


def test_views_have_one_column_per_label_key(db):
    sid = series_id(db, {"__name__": "node_cpu_seconds_total", "cpu": "0", "mode": "idle", "instance": "h:9100"})
    put(db, sid, ["2024-01-01 00:00:00+00", "2024-01-01 00:00:15+00"], [10, 11])
    cols = [c.name for c in db.execute("SELECT * FROM prom_metric.node_cpu_seconds_total LIMIT 0").description]
    assert cols == ["time", "value", "series_id", "labels", "label_ids", "cpu", "instance", "mode"]
    rows = db.execute("SELECT value, mode, labels->>'cpu' FROM prom_metric.node_cpu_seconds_total "
                      "WHERE time > '2024-01-01 00:00:05+00'").fetchall()
    assert rows == [(11.0, "idle", "0")]
    series_cols = [c.name for c in db.execute("SELECT * FROM prom_series.node_cpu_seconds_total LIMIT 0").description]
    assert series_cols == ["series_id", "labels", "label_ids", "cpu", "instance", "mode"]


def test_label_keys_clashing_with_view_columns_get_a_suffix(db):
    series_id(db, {"__name__": "clash", "time": "t", "value": "v", "labels": "l"})
    cols = [c.name for c in db.execute("SELECT * FROM prom_metric.clash LIMIT 0").description]
    assert cols[5:] == ["labels_label", "time_label", "value_label"]


def test_long_metric_names_get_valid_view_names(db):
    name = "a" * 40 + "_" + "b" * 40
    sid = series_id(db, {"__name__": name})
    put(db, sid, ["2024-01-01 00:00:00+00"], [1])
    view = db.execute("SELECT view_name FROM prom_info.metric WHERE metric_name = %s", (name,)).fetchone()[0]
    assert len(view) <= 63 and view != name
    assert db.execute(f'SELECT value FROM prom_metric."{view}"').fetchone() == (1.0,)


def test_views_deduplicate_retried_samples(db):
    sid = series_id(db, {"__name__": "dup"})
    for _ in range(3):
        put(db, sid, ["2024-01-01 00:00:00+00", "2024-01-01 00:00:15+00"], [1, 2])
    assert db.execute("SELECT count(*) FROM prom_data.sample").fetchone()[0] == 6
    assert db.execute("SELECT count(*), sum(value) FROM prom_metric.dup").fetchone() == (2, 3.0)
    arrays = db.execute("SELECT times, vals FROM prom_api.get_samples(ARRAY[%s]::bigint[], '-infinity', 'infinity')",
                        (sid,)).fetchone()
    assert len(arrays[0]) == 2 and arrays[1] == [1.0, 2.0]


def test_partitions_are_created_for_any_time(db):
    db.execute("SELECT prom_api.set_default_chunk_interval('1 hour')")
    sid = series_id(db, {"__name__": "anytime"})
    times = ["1970-01-01 00:00:00+00", "1969-12-31 23:59:59.999+00", "2024-06-01 12:34:56+00",
             "10000-01-01 00:00:00+00", "294276-12-31 23:59:59+00"]
    assert put(db, sid, times, [1, 2, 3, 4, 5]) == 5
    # Python's datetime stops at year 9999: let the server measure the chunks
    chunks = db.execute("SELECT start_time = '-infinity' OR end_time = 'infinity' OR end_time - start_time <= '1 hour', "
                        "start_time::text FROM _prom_catalog.sample_chunk ORDER BY start_time").fetchall()
    assert len(chunks) == 5 and all(ok for ok, _ in chunks)
    assert chunks[-1][1] == "294276-12-31 23:00:00+00"
    got = db.execute("SELECT count(*) FROM prom_api.get_samples(ARRAY[%s]::bigint[], '-infinity', 'infinity'), "
                     "unnest(times)", (sid,)).fetchone()[0]
    assert got == 5


def test_chunk_interval_is_configurable_and_neighbours_do_not_overlap(db):
    assert db.execute("SELECT prom_api.get_default_chunk_interval()").fetchone()[0].total_seconds() == 15 * 60
    db.execute("SELECT prom_api.set_default_chunk_interval('1 hour')")
    sid = series_id(db, {"__name__": "chunky"})
    put(db, sid, ["2024-01-01 00:30:00+00"], [1])  # 1h chunk 00:00-01:00
    db.execute("SELECT prom_api.set_default_chunk_interval('6 hours')")
    assert db.execute("SELECT prom_api.get_default_chunk_interval()").fetchone()[0].total_seconds() == 6 * 3600
    put(db, sid, ["2024-01-01 02:00:00+00", "2023-12-31 23:00:00+00"], [2, 3])
    chunks = db.execute("SELECT start_time::text, end_time::text FROM _prom_catalog.sample_chunk "
                        "ORDER BY start_time").fetchall()
    assert chunks == [("2023-12-31 18:00:00+00", "2024-01-01 00:00:00+00"),
                      ("2024-01-01 00:00:00+00", "2024-01-01 01:00:00+00"),
                      ("2024-01-01 01:00:00+00", "2024-01-01 06:00:00+00")]


def test_backfill_partitions_are_prepared_a_few_per_transaction(db):
    # 120 hours of one sample each: 120 one-hour chunks, at most 50 per call
    db.execute("SELECT prom_api.set_default_chunk_interval('1 hour')")
    db.execute("SELECT prom_api.set_max_new_chunks_per_write(120)")
    times = "SELECT array_agg(timestamptz '2020-01-01' + h * interval '1 hour' + interval '1 minute') " \
            "FROM generate_series(0, 119) h"
    calls = [db.execute(f"SELECT prom_api.prepare_sample_chunks(({times}), 50)").fetchone()[0] for _ in range(4)]
    assert calls == [50, 50, 20, 0]
    ranges = db.execute("SELECT start_time, end_time FROM _prom_catalog.sample_chunk ORDER BY start_time").fetchall()
    assert len(ranges) == 120 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    sid = series_id(db, {"__name__": "backfill"})
    assert db.execute(f"SELECT prom_api.put_samples(array_fill(%s::bigint, ARRAY[120]), ({times}), "
                      "array_fill(1.0::float8, ARRAY[120]))", (sid,)).fetchone()[0] == 120


def test_a_write_needing_more_partitions_than_allowed_creates_none(db):
    """One write of samples an hour apart would create a partition each: past the limit it is
    refused with invalid_parameter_value (the connector's 400) before any is created."""
    assert db.execute("SELECT prom_api.get_max_new_chunks_per_write()").fetchone()[0] == 96
    sid = series_id(db, {"__name__": "sparse"})
    hours = "SELECT array_agg(timestamptz '2020-01-01' + h * interval '1 hour') FROM generate_series(0, %s) h"
    with pytest.raises(psycopg.errors.InvalidParameterValue,
                       match="samples span 97 time ranges without a head partition, and one write may create at most 96"):
        db.execute(f"SELECT prom_api.put_samples(array_fill(%s::bigint, ARRAY[97]), ({hours}), "
                   "array_fill(1.0::float8, ARRAY[97]))", (sid, 96))
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="at most 96"):
        db.execute(f"SELECT prom_api.prepare_sample_chunks(({hours}), 50)", (96,))
    assert db.execute("SELECT count(*) FROM _prom_catalog.sample_chunk").fetchone()[0] == 0
    # times in existing partitions do not count: 96 new ones, then those plus one more
    assert db.execute(f"SELECT prom_api.put_samples(array_fill(%s::bigint, ARRAY[96]), ({hours}), "
                      "array_fill(1.0::float8, ARRAY[96]))", (sid, 95)).fetchone()[0] == 96
    assert db.execute(f"SELECT prom_api.put_samples(array_fill(%s::bigint, ARRAY[97]), ({hours}), "
                      "array_fill(2.0::float8, ARRAY[97]))", (sid, 96)).fetchone()[0] == 97
    assert db.execute("SELECT count(*) FROM _prom_catalog.sample_chunk").fetchone()[0] == 97
    # the limit is a setting
    db.execute("SELECT prom_api.set_max_new_chunks_per_write(2)")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="samples span 3 .* at most 2"):
        db.execute("SELECT prom_api.put_samples(array_fill(%s::bigint, ARRAY[3]), "
                   "ARRAY['2019-01-01', '2019-02-01', '2019-03-01']::timestamptz[], ARRAY[1, 2, 3]::float8[])", (sid,))


@pytest.mark.parametrize("bad", [0, -5, None])
def test_bad_partition_limits_are_rejected(db, bad):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="max new chunks per write"):
        db.execute("SELECT prom_api.set_max_new_chunks_per_write(%s::int)", (bad,))


@pytest.mark.parametrize("bad", ["30 seconds", "1 month", "-1 hour"])
def test_bad_chunk_intervals_are_rejected(db, bad):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="chunk interval"):
        db.execute("SELECT prom_api.set_default_chunk_interval(%s::interval)", (bad,))


def test_label_helpers_and_matchers(db):
    a = series_id(db, {"__name__": "http", "job": "api", "code": "200"})
    b = series_id(db, {"__name__": "http", "job": "web", "code": "500"})
    c = series_id(db, {"__name__": "http", "job": "web"})
    q = "SELECT array_agg(series_id ORDER BY series_id) FROM prom_series.http WHERE "
    assert db.execute(q + "label_ids ? ('job' == 'web')").fetchone()[0] == [b, c]
    assert db.execute(q + "label_ids ? ('code' ==~ '2..|5..')").fetchone()[0] == [a, b]
    assert db.execute(q + "label_ids ? ('code' !== '500')").fetchone()[0] == [a, c]
    assert db.execute(q + "label_ids ? ('code' !=~ '5.*')").fetchone()[0] == [a, c]
    assert db.execute(q + "labels ? ('job' == 'api')").fetchone()[0] == [a]
    assert db.execute(q + "labels ? ('code' !== '200')").fetchone()[0] == [b, c]
    assert db.execute(q + "labels ? ('code' ==~ '5')").fetchone()[0] is None  # anchored
    labels = db.execute("SELECT label_ids FROM prom_series.http WHERE series_id = %s", (a,)).fetchone()[0]
    assert db.execute("SELECT jsonb(%s::int[])", (labels,)).fetchone()[0] == {"__name__": "http", "job": "api", "code": "200"}
    assert db.execute("SELECT val(%s), key(%s)", (labels[0], labels[0])).fetchone() == ("http", "__name__")


def test_label_matcher_uses_the_gin_index(db):
    db.execute("SELECT prom_api.get_or_create_series_id(jsonb_build_object('__name__', 'http', 'job', 'j' || g)) "
               "FROM generate_series(1, 2000) g")
    db.execute("ANALYZE _prom_catalog.series")
    plan = "\n".join(r[0] for r in db.execute(
        "EXPLAIN SELECT * FROM prom_series.http WHERE label_ids ? ('job' == 'j5')").fetchall())
    assert "series_labels_gin" in plan


def test_info_views(db):
    series_id(db, {"__name__": "reqs_total", "job": "a"})
    series_id(db, {"__name__": "reqs_total", "job": "b"})
    db.execute("SELECT prom_api.put_metadata('{reqs}', '{counter}', '{\"\"}', '{Requests.}')")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="same length"):
        db.execute("SELECT prom_api.put_metadata('{reqs}', '{counter}', '{}', '{Requests.}')")
    row = db.execute("SELECT metric_name, label_keys, series_count, metric_type, help FROM prom_info.metric").fetchone()
    assert row == ("reqs_total", ["__name__", "job"], 2, "counter", "Requests.")
    labels = dict(db.execute("SELECT key, \"values\" FROM prom_info.label").fetchall())
    assert labels == {"__name__": ["reqs_total"], "job": ["a", "b"]}


def test_exemplars_keep_the_first_per_series_and_time(db):
    sid = series_id(db, {"__name__": "ex"})
    for label in ("first", "second"):
        db.execute("SELECT prom_api.put_exemplars(%s::bigint[], '{2024-01-01 00:00:00+00}', '{1}', %s::jsonb[])",
                   ([sid], [f'{{"trace_id": "{label}"}}']))
    assert db.execute("SELECT labels FROM prom_data.exemplar").fetchall() == [({"trace_id": "first"},)]


def test_every_public_function_has_a_comment_and_fixed_search_path(db):
    missing = db.execute("""
        SELECT p.oid::regprocedure::text FROM pg_proc p
        WHERE p.pronamespace = 'prom_api'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL""").fetchall()
    assert missing == []
    unpinned = db.execute("""
        SELECT p.oid::regprocedure::text FROM pg_proc p
        JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'promscale'
        WHERE p.proconfig IS NULL AND NOT (p.prokind = 'p' AND NOT p.prosecdef)
          AND p.prolang NOT IN (SELECT oid FROM pg_language WHERE lanname IN ('internal', 'c')) ORDER BY 1""").fetchall()
    # only the inlined label hash encoding goes without (see 040-series.sql), the per-row
    # expressions of activity bounds, inlined too (045-activity.sql), the per-row tenant test
    # (012-tenancy.sql), procedures that COMMIT (they cannot have a SET clause, and run as their
    # caller), LANGUAGE internal bit reinterpretations (sql/idempotent/300-lifecycle-settings.sql)
    # and the planner library's C functions (src/), which resolve no names through the search_path
    assert {r[0].split("(")[0].split(".")[-1] for r in unpinned} == {
        "label_pair_bytes", "activity_granularity", "activity_roundable",
        "activity_shift", "activity_grid", "series_last_seen", "unix_ms", "labels_visible"}
    # none of those is SECURITY DEFINER
    assert not [r for r in unpinned if db.execute("SELECT prosecdef FROM pg_proc WHERE oid = %s::regprocedure",
                                                  (r[0],)).fetchone()[0]]


def test_python_modules_match_the_extension_version(db):
    assert db.execute("SELECT prom_api.python_version()").fetchone()[0] == \
        db.execute("SELECT extversion FROM pg_extension WHERE extname = 'promscale'").fetchone()[0]


def test_analysts_search_path_reaches_the_helpers(db_uri):
    with psycopg.connect(db_uri) as conn:  # a new session gets the database's search_path
        assert conn.execute("SELECT jsonb('{}'::int[])").fetchone()[0] == {}
