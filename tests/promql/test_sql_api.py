"""The SQL entry points of the PromQL engine: rows for psql users, limits, timeouts, privileges."""

from __future__ import annotations

import json
import math

import psycopg
import pytest


def load(db, series: dict, step_s: float = 15.0):
    """series: {labels json: [values]}, value i at i * step_s seconds."""
    for labels, values in series.items():
        sid = db.execute("SELECT prom_api.get_or_create_series_id(%s::jsonb)", (labels,)).fetchone()[0]
        db.execute("SELECT prom_api.put_samples(%s::bigint[], ARRAY(SELECT to_timestamp(x) FROM unnest(%s::float8[]) x), "
                   "%s::float8[])", ([sid] * len(values), [i * step_s for i in range(len(values))], values))


@pytest.fixture
def loaded(db):
    load(db, {'{"__name__": "req", "job": "a"}': [float(i) for i in range(41)],
              '{"__name__": "req", "job": "b"}': [float(2 * i) for i in range(41)]})
    return db


def test_query_returns_rows_with_labels_time_and_value(loaded):
    rows = loaded.execute("SELECT labels, extract(epoch FROM time), value FROM prom_api.query('req', to_timestamp(300))"
                          ).fetchall()
    assert rows == [({"__name__": "req", "job": "a"}, 300, 20.0), ({"__name__": "req", "job": "b"}, 300, 40.0)]


def test_query_range_rows_are_grouped_by_series_in_label_order(loaded):
    rows = loaded.execute("SELECT labels->>'job', extract(epoch FROM time)::int, value FROM prom_api.query_range("
                          "'sum by (job) (rate(req[1m]))', to_timestamp(60), to_timestamp(180), '1 minute')").fetchall()
    assert [(j, t) for j, t, _ in rows] == [("a", 60), ("a", 120), ("a", 180), ("b", 60), ("b", 120), ("b", 180)]
    assert all(math.isclose(v, 1 / 15 if j == "a" else 2 / 15) for j, _, v in rows)


def test_scalar_result_is_one_row_without_labels(db):
    assert db.execute("SELECT labels, value FROM prom_api.query('1 + 2')").fetchall() == [({}, 3.0)]


def test_errors_raise_prometheus_messages(loaded):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as err:
        loaded.execute("SELECT * FROM prom_api.query('rate(req)')")
    assert err.value.diag.message_primary == \
        '1:6: parse error: expected type range vector in call to function "rate", got instant vector'
    with pytest.raises(psycopg.errors.RaiseException) as err:
        loaded.execute("SELECT * FROM prom_api.query('req + on() req', to_timestamp(300))")
    assert err.value.diag.message_primary.startswith("found duplicate series for the match group {} on the right")


def test_query_json_error_types(loaded):
    def call(q):
        return json.loads(loaded.execute("SELECT prom_api.query_json(%s, 300)", (q,)).fetchone()[0])
    assert call("sum(")["errorType"] == "bad_data"
    assert call("req + on() req")["errorType"] == "execution"
    assert call("req")["data"]["result"][0]["value"] == [300, "20"]


def test_max_samples_limit_uses_prometheus_message(loaded):
    loaded.execute("SELECT prom_api.set_promql_max_samples(10)")
    body = json.loads(loaded.execute("SELECT prom_api.query_json('sum_over_time(req[5m])', 600)").fetchone()[0])
    assert body == {"status": "error", "errorType": "execution",
                    "error": "query processing would load too many samples into memory in query execution"}
    assert loaded.execute("SELECT prom_api.get_promql_max_samples()").fetchone()[0] == 10
    loaded.execute("SELECT prom_api.set_promql_max_samples(50000000)")
    body = json.loads(loaded.execute("SELECT prom_api.query_json('sum_over_time(req[5m])', 600)").fetchone()[0])
    assert body["status"] == "success"


def test_timeout_parameter_gives_timeout_error(loaded):
    body = json.loads(loaded.execute("SELECT prom_api.query_json('sum_over_time(req[5m])', 600, '0.000001')"
                                     ).fetchone()[0])
    assert body == {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}


def test_lookback_delta_parameter(loaded):
    # the last sample is at 600s: visible 4m later with the default 5m lookback, not with a 1m one
    default = json.loads(loaded.execute("SELECT prom_api.query_json('req', 840)").fetchone()[0])
    short = json.loads(loaded.execute("SELECT prom_api.query_json('req', 840, NULL, 60)").fetchone()[0])
    assert len(default["data"]["result"]) == 2
    assert short["data"]["result"] == []


def test_stale_markers_end_series(db):
    stale = b"\x02\x00\x00\x00\x00\x00\xf0\x7f"
    sid = db.execute("SELECT prom_api.get_or_create_series_id('{\"__name__\": \"up\"}')").fetchone()[0]
    import struct
    db.execute("SELECT prom_api.put_samples(%b::bigint[], ARRAY[to_timestamp(0), to_timestamp(15)], %b::float8[])",
               ([sid, sid], [1.0, struct.unpack("<d", stale)[0]]))
    assert db.execute("SELECT count(*) FROM prom_api.query('up', to_timestamp(10))").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM prom_api.query('up', to_timestamp(20))").fetchone()[0] == 0


def test_reader_role_can_query(loaded, pg_cluster, db_name):
    with psycopg.connect(pg_cluster.uri(db_name, user="promscale_reader"), autocommit=True) as conn:
        body = json.loads(conn.execute("SELECT prom_api.query_json('count(req)', 300)").fetchone()[0])
        assert body["data"]["result"][0]["value"] == [300, "2"]
        assert conn.execute("SELECT prom_api.format_query('sum(x)by(a)')").fetchone()[0] == "sum by (a) (x)"


@pytest.mark.parametrize("query", ["max_over_time(req[7d:1ms])", "sum(rate(req[1y:1ms]))",
                                   "max_over_time(max_over_time(req[1d:1ms])[1d:1s])"])
def test_subquery_steps_are_limited_before_they_are_allocated(loaded, query):
    """Formerly a backend grew to 4.9 GB before refusing the first, and the second failed with
    MemoryError (235 GiB of step times): the step count is checked first, as Prometheus does."""
    body = json.loads(loaded.execute("SELECT prom_api.query_json(%s, 600)", (query,)).fetchone()[0])
    assert body == {"status": "error", "errorType": "execution",
                    "error": "query processing would load too many samples into memory in query execution"}


def test_dense_selector_cells_are_limited_before_they_are_allocated(loaded):
    loaded.execute("SELECT prom_api.set_promql_max_samples(100)")
    too_many = json.loads(loaded.execute("SELECT prom_api.query_range_json('req', 0, 600, 10)").fetchone()[0])
    assert too_many["error"] == "query processing would load too many samples into memory in query execution"
    fits = json.loads(loaded.execute("SELECT prom_api.query_range_json('req', 0, 600, 15)").fetchone()[0])
    assert fits["status"] == "success"  # 2 series x 41 steps


def count_over_subquery(db, *call_args):
    """count_over_time of a 3-minute subquery without a step, at 600 s; call_args: SQL after the time."""
    sql = "SELECT value FROM prom_api.query('count_over_time(req{job=\"a\"}[3m:])', to_timestamp(600)%s)"
    return db.execute(sql % "".join(", " + a for a in call_args)).fetchone()[0]


def test_subqueries_without_a_step_use_the_default_step_or_the_one_given(loaded):
    """Prometheus takes its evaluation_interval (1 minute unless configured, 15 s in its shipped
    prometheus.yml): 4 or 13 points of a 3-minute subquery (both ends
    included before Prometheus 3)."""
    assert loaded.execute("SELECT prom_api.get_promql_default_subquery_step()").fetchone()[0].total_seconds() == 60
    assert count_over_subquery(loaded) == 4
    assert count_over_subquery(loaded, "'15 seconds'") == 13
    rows = loaded.execute("SELECT value FROM prom_api.query_range('count_over_time(req{job=\"a\"}[3m:])', "
                          "to_timestamp(540), to_timestamp(600), '1 minute', '30 seconds')").fetchall()
    assert rows == [(7.0,), (7.0,)]
    body = json.loads(loaded.execute("SELECT prom_api.query_json('count_over_time(req{job=\"a\"}[3m:])', 600, NULL, "
                                     "NULL, 20)").fetchone()[0])
    assert body["data"]["result"][0]["value"][1] == "10"
    body = json.loads(loaded.execute("SELECT prom_api.query_range_json('count_over_time(req{job=\"a\"}[3m:])', 600, "
                                     "600, 60, NULL, NULL, 20)").fetchone()[0])
    assert body["data"]["result"][0]["values"] == [[600, "10"]]
    # the installation's default, for every query that gives none
    loaded.execute("SELECT prom_api.set_promql_default_subquery_step('15 seconds')")
    assert count_over_subquery(loaded) == 13
    assert count_over_subquery(loaded, "'1 minute'") == 4
    body = json.loads(loaded.execute("SELECT prom_api.query_json('count_over_time(req{job=\"a\"}[3m:])', 600)"
                                     ).fetchone()[0])
    assert body["data"]["result"][0]["value"][1] == "13"


def test_bad_subquery_steps_are_refused(loaded):
    body = json.loads(loaded.execute("SELECT prom_api.query_json('x', 600, NULL, NULL, 0)").fetchone()[0])
    assert body["errorType"] == "bad_data" and 'invalid parameter "subquery_step"' in body["error"]
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="subquery_step"):
        count_over_subquery(loaded, "'-1 minute'")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="promql default subquery step"):
        loaded.execute("SELECT prom_api.set_promql_default_subquery_step('0')")


def test_an_admin_role_can_change_the_settings(loaded, pg_cluster, db_name):
    """The setters run with the extension's rights: an admin needs no rights on the settings
    table (set_promql_max_samples needed them, and failed for anyone but a superuser)."""
    loaded.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'promscale_admin') THEN "
                   "CREATE ROLE promscale_admin LOGIN IN ROLE prom_admin; END IF; END $$")
    with psycopg.connect(pg_cluster.uri(db_name, user="promscale_admin"), autocommit=True) as conn:
        for setter in ("set_promql_max_samples(1000)", "set_max_new_chunks_per_write(10)",
                       "set_promql_default_subquery_step('15s')"):
            assert conn.execute(f"SELECT prom_api.{setter}").fetchone()[0] is True
        with pytest.raises(psycopg.errors.InvalidParameterValue,
                           match="invalid promql max samples 0: it must be at least 1"):
            conn.execute("SELECT prom_api.set_promql_max_samples(0)")
    assert loaded.execute("SELECT prom_api.get_promql_max_samples(), prom_api.get_max_new_chunks_per_write()"
                          ).fetchone() == (1000, 10)
