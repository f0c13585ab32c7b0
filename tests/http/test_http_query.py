"""/api/v1/query, query_range, format_query and query_exemplars: Prometheus 2.42's
parameter handling and errors, byte for byte, and Grafana's and promtool's request shapes."""

from __future__ import annotations

import json

import pytest

from support.http_api import push

T0 = 1_700_000_000_000


@pytest.fixture(scope="module", autouse=True)
def data(api):
    push(api, [({"__name__": "up", "job": "node", "instance": "a"}, [(T0 + 15_000 * i, 1) for i in range(41)])],
         exemplars=[({"__name__": "up", "job": "node", "instance": "a"}, {"trace_id": "abc<"}, 6.0, T0 + 15_000)])


def error_of(response):
    return response.status_code, json.loads(response.get_data(as_text=True))


def bad(message):
    return 400, {"status": "error", "errorType": "bad_data", "error": message}


@pytest.mark.parametrize("query, expected", [
    ({"query": "1", "time": "abc"},
     bad('invalid parameter "time": Invalid time value for \'time\': cannot parse "abc" to a valid timestamp')),
    ({"query": "1", "timeout": "abc"}, bad('invalid parameter "timeout": cannot parse "abc" to a valid duration')),
    ({"query": "1", "timeout": "1ns"}, bad('invalid parameter "timeout": cannot parse "1ns" to a valid duration')),
])
def test_instant_parameter_errors(api, query, expected):
    assert error_of(api.get("/api/v1/query", query_string=query)) == expected


@pytest.mark.parametrize("query, expected", [
    ({"query": "1", "start": "abc", "end": "5", "step": "1"},
     bad('invalid parameter "start": cannot parse "abc" to a valid timestamp')),
    ({"query": "1", "start": "1", "end": "", "step": "1"},
     bad('invalid parameter "end": cannot parse "" to a valid timestamp')),
    ({"query": "1", "start": "10", "end": "5", "step": "1"},
     bad('invalid parameter "end": end timestamp must not be before start time')),
    ({"query": "1", "start": "1", "end": "5"}, bad('invalid parameter "step": cannot parse "" to a valid duration')),
    ({"query": "1", "start": "1", "end": "5", "step": "x"},
     bad('invalid parameter "step": cannot parse "x" to a valid duration')),
    ({"query": "1", "start": "1", "end": "5", "step": "1.5ms"},
     bad('invalid parameter "step": cannot parse "1.5ms" to a valid duration')),
    ({"query": "1", "start": "1", "end": "5", "step": "0"},
     bad('invalid parameter "step": zero or negative query resolution step widths are not accepted. '
         'Try a positive integer')),
    ({"query": "1", "start": "1", "end": "5", "step": "-1"},
     bad('invalid parameter "step": zero or negative query resolution step widths are not accepted. '
         'Try a positive integer')),
    ({"query": "1", "start": "1", "end": "50000", "step": "1"},
     bad("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution "
         "(?step=XX)")),
    ({"query": "1", "start": "1", "end": "5", "step": "1", "timeout": "x"},
     bad('invalid parameter "timeout": cannot parse "x" to a valid duration')),
    ({"query": "1", "start": "1", "end": "2", "step": "0.0001"},
     (422, {"status": "error", "errorType": "execution",
            "error": "unexpected error: runtime error: integer divide by zero"})),
])
def test_range_parameter_errors(api, query, expected):
    assert error_of(api.get("/api/v1/query_range", query_string=query)) == expected


def test_exactly_11000_points_is_allowed(api):
    # Go divides durations as integers: 110001s / 10s = 11000, not more than 11000
    response = api.get("/api/v1/query_range", query_string={"query": "1", "start": "0", "end": "110001",
                                                            "step": "10"})
    assert response.status_code == 200
    assert len(response.get_json()["data"]["result"][0]["values"]) == 11001


def test_grafana_health_check(api):
    response = api.post("/api/v1/query", data={"query": "1+1", "time": "4"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == '{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}'


def test_post_form_values_win_over_url(api):
    response = api.post("/api/v1/query?query=2&time=5", data={"query": "1"})
    assert response.get_json()["data"]["result"] == [5, "1"]


def test_grafana_post_with_parameters_in_url_and_empty_body(api):
    response = api.post("/api/v1/query_range?query=up&start=1700000000&end=1700000030&step=15")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up",'
        '"instance":"a","job":"node"},"values":[[1700000000,"1"],[1700000015,"1"],[1700000030,"1"]]}]}}')


def test_rfc3339_and_fractional_times(api):
    response = api.get("/api/v1/query", query_string={"query": "time()", "time": "2023-11-14T22:13:20.5Z"})
    assert response.get_json()["data"]["result"] == [1700000000.5, "1700000000.5"]


def test_parse_error_is_bad_data(api):
    status, body = error_of(api.get("/api/v1/query", query_string={"query": "1+", "time": "1"}))
    assert (status, body) == bad('invalid parameter "query": 1:3: parse error: unexpected end of input')
    status, body = error_of(api.get("/api/v1/query_range", query_string={"query": "1(", "start": "1", "end": "5",
                                                                         "step": "1"}))
    assert (status, body) == bad('1:2: parse error: unexpected "("')


def test_timeout_becomes_prometheus_timeout_error(api):
    # a query the engine cannot finish in 1ms of statement_timeout
    response = api.get("/api/v1/query_range", query_string={
        "query": "count_over_time(up[1h:1ms])", "start": "1700000000", "end": "1700000600", "step": "1",
        "timeout": "0.001"})
    assert error_of(response) == (503, {"status": "error", "errorType": "timeout",
                                        "error": "query timed out in expression evaluation"})


def test_format_query(api):
    response = api.get("/api/v1/format_query", query_string={"query": "sum(rate(x[5m]))by(job)"})
    assert response.get_data(as_text=True) == '{"status":"success","data":"sum by (job) (rate(x[5m]))"}'
    assert error_of(api.post("/api/v1/format_query", data={"query": "up("})) == \
        bad('invalid parameter "query": 1:4: parse error: unclosed left parenthesis')


def test_query_exemplars(api):
    response = api.get("/api/v1/query_exemplars", query_string={"query": "up", "start": "1699999990",
                                                                "end": "1700000100"})
    assert response.get_data(as_text=True) == (
        '{"status":"success","data":[{"seriesLabels":{"__name__":"up","instance":"a","job":"node"},'
        '"exemplars":[{"labels":{"trace_id":"abc\\u003c"},"value":"6","timestamp":1700000015}]}]}')


def test_query_exemplars_grafana_probe_with_millisecond_times(api):
    # POST with the parameters in the URL; times in ms (read as seconds in the year ~55,000)
    response = api.post("/api/v1/query_exemplars?query=test&start=1700000000000&end=1700003600000")
    assert response.get_json() == {"status": "success", "data": []}


def test_query_exemplars_without_selectors_is_204(api):
    response = api.get("/api/v1/query_exemplars", query_string={"query": "1+1"})
    assert response.status_code == 204 and response.get_data() == b""


def test_query_exemplars_errors(api):
    assert error_of(api.get("/api/v1/query_exemplars", query_string={"query": "up", "start": "10", "end": "5"})) == \
        bad("end timestamp must not be before start timestamp")
    status, body = error_of(api.get("/api/v1/query_exemplars", query_string={"query": "up("}))
    assert (status, body["errorType"]) == (400, "bad_data")


def test_default_subquery_step_flag(api, pg_cluster, module_db, tmp_path):
    """count_over_time of 3 minutes of a subquery without a step (T0 is 20 s past a minute, and
    subquery steps are aligned to 0): 3 points at the database's 1m, 12 at
    --promql-default-subquery-step 15s (Prometheus with its shipped prometheus.yml)."""
    from werkzeug.test import Client

    from pyconnector import Config, create_app

    query = {"query": "count_over_time(up[3m:])", "time": str(T0 / 1000 + 600)}
    assert json.loads(api.get("/api/v1/query", query_string=query).get_data())["data"]["result"][0]["value"][1] == "3"
    fifteen = Client(create_app(Config(db_uri=pg_cluster.uri(module_db, "promscale_writer"),
                                       promql_default_subquery_step=15.0, telemetry_dir=str(tmp_path / "t"))))
    body = json.loads(fifteen.get("/api/v1/query", query_string=query).get_data())
    assert body["data"]["result"][0]["value"][1] == "12"
    body = json.loads(fifteen.get("/api/v1/query_range", query_string={
        "query": "count_over_time(up[3m:])", "start": str(T0 / 1000 + 540), "end": str(T0 / 1000 + 600),
        "step": "60"}).get_data())
    assert [v for _, v in body["data"]["result"][0]["values"]] == ["12", "12"]


def test_max_source_resolution_is_passed_to_the_extension(api):
    """Thanos's max_source_resolution: checked by the extension (400 for a bad value), and a
    query on rollups carries a warning naming them (docs/rollups.md)."""
    status, body = error_of(api.get("/api/v1/query", query_string={"query": "up", "time": T0 / 1000,
                                                                   "max_source_resolution": "10m"}))
    assert status == 400 and body["errorType"] == "bad_data" and '"max_source_resolution"' in body["error"]
    range_args = {"query": "up", "start": T0 / 1000, "end": T0 / 1000 + 600, "step": "300"}
    on_rollups = api.get("/api/v1/query_range", query_string={**range_args, "max_source_resolution": "5m"})
    body = json.loads(on_rollups.get_data(as_text=True))
    assert on_rollups.status_code == 200 and body["status"] == "success"
    assert any("answered from 5m rollups" in w for w in body["warnings"])
    raw = json.loads(api.get("/api/v1/query_range", query_string=range_args).get_data(as_text=True))
    assert "warnings" not in raw and raw["data"]["result"]
